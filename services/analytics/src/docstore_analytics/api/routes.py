"""A person's analytics: their storage over time, what takes the room, their links' downloads.

Every read is by the caller's own account id (from the signed identity token); no route takes
another account's id, so one account never learns about another."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from docstore_analytics.api.deps import ReportsDep
from docstore_kit.auth import CurrentAccountId

router = APIRouter(tags=["analytics"])

Days = Annotated[int, Query(ge=1, le=366, description="how many days, ending today (UTC)")]


class DayPoint(BaseModel):
    """One day: stocks as levels at the end of the day, flows as that day's counts (plans and
    document types as `plans.<plan>` and `docs.<type>`)."""

    model_config = ConfigDict(extra="allow")

    day: str


class DocumentRoom(BaseModel):
    document_id: str
    name: str
    type: str
    current_bytes: int
    old_bytes: int
    trash_bytes: int
    versions: int


class UsageNow(BaseModel):
    current_bytes: int
    old_bytes: int
    trash_bytes: int
    stored_bytes: int
    documents: int
    by_type: dict[str, int]


class UsageOut(BaseModel):
    days: list[DayPoint]
    now: UsageNow
    largest: list[DocumentRoom]
    """The largest documents (current version), outside the trash."""
    old_versions: list[DocumentRoom]
    """The documents whose older versions take the most room."""
    trash: list[DocumentRoom]
    """The largest documents in the trash."""


class LinkOut(BaseModel):
    link_id: str
    document_id: str
    name: str
    created_at: datetime | None
    downloads: int
    by_day: list[int]


class LinksOut(BaseModel):
    days: list[str]
    links: list[LinkOut]


@router.get("/analytics/usage", response_model=UsageOut)
async def usage_over_time(account_id: CurrentAccountId, reports: ReportsDep, days: Days = 90) -> dict[str, object]:
    """The caller's storage per day (current versions, older versions, trash), uploads and
    downloads per day, and what takes the room."""
    return await reports.usage(account_id, days)


@router.get("/analytics/links", response_model=LinksOut)
async def link_downloads(account_id: CurrentAccountId, reports: ReportsDep, days: Days = 90) -> dict[str, object]:
    """The caller's public links, each with its downloads per day."""
    return await reports.links(account_id, days)
