"""Notify's HTTP routes: the caller's own notification log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from docstore_kit.auth import CurrentAccountId
import html

import structlog
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from docstore_notify.adapters.notification_log import InvalidCursor, NotificationLog
from docstore_notify.adapters.preferences import DIGEST, OFF, Mode, PreferenceRepository
from docstore_notify.adapters.unsubscribe import UnsubscribeLinks
from docstore_notify.domain.mail import DIGEST as DIGEST_KIND
from docstore_notify.domain.mail import describe

log = structlog.get_logger(__name__)


class NotificationOut(BaseModel):
    id: str
    """The id of the event that caused the mail."""
    kind: str
    subject: str
    status: str
    """pending, sent or failed."""
    created_at: datetime
    sent_at: datetime | None = None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None
    """Pass as `cursor` for the next (older) page; null on the last page."""


def _notifications(request: Request) -> NotificationLog:
    return request.app.state.notifications


def _preferences(request: Request) -> PreferenceRepository:
    return request.app.state.preferences


def _unsubscribe(request: Request) -> UnsubscribeLinks:
    return request.app.state.unsubscribe


NotificationsDep = Annotated[NotificationLog, Depends(_notifications)]
PreferencesDep = Annotated[PreferenceRepository, Depends(_preferences)]
UnsubscribeDep = Annotated[UnsubscribeLinks, Depends(_unsubscribe)]


class Preferences(BaseModel):
    """For each kind of notification: `instant`, `digest` (in the periodic digest mail) or `off`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    quota_warning: Mode | None = None
    quota_exceeded: Mode | None = None
    quota_restored: Mode | None = None
    upload_expired: Mode | None = None
    file_modified: Mode | None = None

    @staticmethod
    def field_kind(field: str) -> str:
        return field.replace("_", ".", 1)

    @classmethod
    def of(cls, modes: dict[str, str]) -> "Preferences":
        return cls(**{kind.replace(".", "_"): mode for kind, mode in modes.items()})

    def changes(self) -> dict[str, str]:
        return {self.field_kind(name): mode for name, mode in self.model_dump(exclude_none=True).items()}

router = APIRouter(tags=["notifications"])


def _out(row: dict[str, Any]) -> NotificationOut:
    return NotificationOut(
        id=row["_id"],
        kind=row["kind"],
        subject=row.get("subject", ""),
        status=row["status"],
        created_at=row["created_at"],
        sent_at=row.get("sent_at"),
    )


@router.get("/notifications", summary="The caller's notifications, newest first")
async def my_notifications(
    account_id: CurrentAccountId,
    notifications: NotificationsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> NotificationPage:
    try:
        page = await notifications.page(account_id, limit=limit, cursor=cursor)
    except InvalidCursor as error:
        raise HTTPException(422, str(error)) from error
    return NotificationPage(items=[_out(row) for row in page.rows], next_cursor=page.next_cursor)


@router.get("/notifications/preferences", summary="How the caller wants each kind of notification")
async def my_preferences(account_id: CurrentAccountId, preferences: PreferencesDep) -> Preferences:
    return Preferences.of(await preferences.of(account_id))


@router.put("/notifications/preferences", summary="Choose instant, digest or off per kind (omitted kinds stay)")
async def set_preferences(account_id: CurrentAccountId, body: Preferences, preferences: PreferencesDep) -> Preferences:
    return Preferences.of(await preferences.set(account_id, body.changes()))


_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
    '<body style="font-family:Arial,Helvetica,sans-serif"><h1 style="font-size:20px">{title}</h1>'
    "<p>{body}</p></body></html>"
)


@router.get("/notifications/unsubscribe/{token}", response_class=HTMLResponse,
            summary="Stop one kind of mail, from the link in a mail (no login; the token is signed)")
async def unsubscribe(token: str, links: UnsubscribeDep, preferences: PreferencesDep) -> HTMLResponse:
    found = await links.resolve(token)
    if found is None:
        page = _PAGE.format(title="This link does not work", body="Please change your mail settings in DocStore.")
        return HTMLResponse(page, status_code=404)
    account_id, kind = found
    if kind == DIGEST_KIND:
        current = await preferences.of(account_id)
        await preferences.set(account_id, {k: OFF for k, mode in current.items() if mode == DIGEST})
    else:
        await preferences.set(account_id, {kind: OFF})
    log.info("notifications_unsubscribed", kind=kind)
    what = html.escape(describe(kind))
    page = _PAGE.format(title="You are unsubscribed",
                        body=f"You will no longer get {what}. You can change this any time in DocStore's settings.")
    return HTMLResponse(page)


@router.post("/internal/digests/run", summary="Send the pending digests now (internal: not routed by the gateway)")
async def run_digests(request: Request) -> dict[str, int]:
    return {"digests": await request.app.state.notifier.send_digests()}
