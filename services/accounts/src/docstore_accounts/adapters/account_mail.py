"""Sends account mails through notify's internal route (`POST /internal/mail/{kind}`), after the
unit of work that made the token committed. The link travels in the body of this one
authenticated call: it is in no event, no log line and no stored row but its digest."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import httpx
import structlog

log = structlog.get_logger(__name__)


class AccountMailer(Protocol):
    async def send(self, kind: str, *, account_id: str, to: str, **fields: Any) -> bool: ...


class NotifyMailer:
    """`send` returns whether notify took the mail; a failure is logged (kind and status only) and
    the person can ask again (resend, or a new reset)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def send(self, kind: str, *, account_id: str, to: str, **fields: Any) -> bool:
        body: dict[str, Any] = {"account_id": account_id, "to": to}
        for name, value in fields.items():
            body[name] = value.isoformat() if isinstance(value, datetime) else value
        try:
            response = await self.http.post(f"/internal/mail/{kind}", json=body)
        except httpx.HTTPError as error:
            log.warning("account_mail_unsent", kind=kind, account_id=account_id, error=type(error).__name__)
            return False
        if response.status_code != 202:
            log.warning("account_mail_unsent", kind=kind, account_id=account_id, status=response.status_code)
            return False
        return True
