"""Notify's HTTP routes: the caller's own notification log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from docstore_kit.auth import CurrentAccountId
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from docstore_notify.adapters.notification_log import InvalidCursor, NotificationLog


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


NotificationsDep = Annotated[NotificationLog, Depends(_notifications)]

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
