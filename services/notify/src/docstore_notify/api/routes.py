"""Notify's HTTP routes: the caller's own notification log and preferences, unsubscribe links."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from docstore_kit.auth import CurrentAccountId, ServiceCaller
from docstore_kit.pagination import CursorQuery, Page
from docstore_notify.api.deps import NotifierDep, SubscriptionsDep
from docstore_notify.domain.mail import describe
from docstore_notify.domain.notices import Mode


class NotificationOut(BaseModel):
    id: str
    """The id of the event that caused the mail."""
    kind: str
    subject: str
    status: str
    """pending, sent or failed."""
    created_at: datetime
    sent_at: datetime | None = None


class NotificationPage(Page[NotificationOut]):
    """A page of the caller's notifications, newest first; the next page holds older ones."""


class Preferences(BaseModel):
    """For each kind of notification: `instant`, `digest` (in the periodic digest mail) or `off`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    quota_warning: Mode | None = None
    quota_exceeded: Mode | None = None
    quota_restored: Mode | None = None
    upload_expired: Mode | None = None
    file_modified: Mode | None = None
    share_links: Mode | None = None
    """Reminders a day before a public link expires, and when one reaches its download limit."""
    security: Mode | None = None
    """A mail when the account signs in from a device or address it had not used before."""
    webhooks: Mode | None = None
    """A mail when one of the account's webhooks is turned off after failing."""
    share_received: Mode | None = None
    """A mail when someone shares a file with the account (who, which file, view or edit)."""

    @staticmethod
    def field_kind(field: str) -> str:
        return field.replace("_", ".", 1)

    @classmethod
    def of(cls, modes: dict[str, str]) -> Preferences:
        return cls.model_validate({kind.replace(".", "_"): mode for kind, mode in modes.items()})

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
    request: Request,
    account_id: CurrentAccountId,
    subscriptions: SubscriptionsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorQuery = None,
) -> NotificationPage:
    page = await subscriptions.history(account_id, limit=limit, cursor=cursor)  # InvalidCursor: 422
    return NotificationPage.of(request, [_out(row) for row in page.rows], page.next_cursor, limit)


@router.get("/notifications/preferences", summary="How the caller wants each kind of notification")
async def my_preferences(account_id: CurrentAccountId, subscriptions: SubscriptionsDep) -> Preferences:
    return Preferences.of(await subscriptions.of(account_id))


@router.put("/notifications/preferences", summary="Choose instant, digest or off per kind (omitted kinds stay)")
async def set_preferences(
    account_id: CurrentAccountId, body: Preferences, subscriptions: SubscriptionsDep
) -> Preferences:
    return Preferences.of(await subscriptions.choose(account_id, body.changes()))


_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>'
    '<body style="font-family:Arial,Helvetica,sans-serif;max-width:40em;margin:2em auto;padding:0 1em">'
    '<h1 style="font-size:20px">{title}</h1><p>{body}</p>{extra}</body></html>'
)
_PAGE_HEADERS = {
    # The token is in the URL: never send it on as a Referer. The page loads nothing, runs no script,
    # posts only back to itself and cannot be framed (no clickjacking of the button).
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_CONFIRM_FORM = (
    '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
    '<button type="submit" style="font-size:16px;padding:.5em 1.2em">Unsubscribe</button></form>'
)


def _page(title: str, body: str, *, extra: str = "", status_code: int = 200) -> HTMLResponse:
    """A small standalone page; `title` and `body` must already be escaped."""
    return HTMLResponse(
        _PAGE.format(title=title, body=body, extra=extra), status_code=status_code, headers=_PAGE_HEADERS
    )


def _broken_link() -> HTMLResponse:
    return _page("This link does not work", "Please change your mail settings in DocStore.", status_code=404)


UNSUBSCRIBE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "not a link DocStore made (or made with a secret since changed)",
        "content": {"text/html": {}},
    },
}


@router.get(
    "/notifications/unsubscribe/{token}",
    response_class=HTMLResponse,
    responses=UNSUBSCRIBE_RESPONSES,
    summary="The page an unsubscribe link opens: asks to confirm, changes nothing (no login)",
)
async def unsubscribe_page(token: str, subscriptions: SubscriptionsDep) -> HTMLResponse:
    """Mail scanners and link previews open every link in a mail; so opening this one only
    shows what it would stop and an Unsubscribe button, which POSTs to the same address."""
    found = await subscriptions.resolve(token)  # None for malformed tokens too (control, non-ASCII)
    if found is None:
        return _broken_link()
    what = html.escape(describe(found.kind))
    return _page(
        "Unsubscribe?",
        f"Stop getting {what} from DocStore? You can change this any time in DocStore's settings.",
        extra=_CONFIRM_FORM,
    )


@router.post(
    "/notifications/unsubscribe/{token}",
    response_class=HTMLResponse,
    responses=UNSUBSCRIBE_RESPONSES,
    summary="Unsubscribe: one-click (RFC 8058, body `List-Unsubscribe=One-Click`) or the page's button",
)
async def unsubscribe(token: str, subscriptions: SubscriptionsDep) -> HTMLResponse:
    """What mail clients POST when someone chooses "unsubscribe" (the mail's `List-Unsubscribe`
    and `List-Unsubscribe-Post` headers), and what the confirmation page's button posts. No login:
    the signed token is the authority. Idempotent: a second POST answers the same."""
    found = await subscriptions.unsubscribe(token)  # None for malformed tokens too (control, non-ASCII)
    if found is None:
        return _broken_link()
    what = html.escape(describe(found.kind))
    return _page(
        "You are unsubscribed", f"You will no longer get {what}. You can change this any time in DocStore's settings."
    )


@router.post(
    "/internal/digests/run",
    summary="Send the pending digests now (internal: DocStore's services only, not routed by the gateway)",
)
async def run_digests(_caller: ServiceCaller, notifier: NotifierDep) -> dict[str, int]:
    return {"digests": await notifier.send_digests()}
