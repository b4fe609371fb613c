"""The operators' analytics (admins only): system-wide series, the most-downloaded and
most-shared documents (ids and owners, never names or content), CSV exports (each recorded
for the audit trail as `admin.analytics-exported`) and the rebuild of the roll-ups."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel

from docstore_analytics.api.deps import RecorderDep, ReportsDep
from docstore_analytics.api.routes import DayPoint, Days
from docstore_kit.auth import AdminAccountId

router = APIRouter(prefix="/admin/analytics", tags=["admin"])

Table = Literal["most-downloaded", "most-shared"]


class OverviewNow(BaseModel):
    current_bytes: int
    old_bytes: int
    trash_bytes: int
    stored_bytes: int
    documents: int
    average_document_bytes: int
    accounts_by_plan: dict[str, int]
    documents_by_type: dict[str, int]


class OverviewOut(BaseModel):
    days: list[DayPoint]
    now: OverviewNow


class TopDocument(BaseModel):
    document_id: str
    owner: str
    downloads: int
    link_downloads: int
    shares: int
    total_bytes: int


class RebuildOut(BaseModel):
    facts: int
    entities: int


@router.get("", response_model=OverviewOut)
async def overview(admin_id: AdminAccountId, reports: ReportsDep, days: Days = 90) -> dict[str, object]:
    """System-wide figures per day: accounts by plan, storage, uploads, downloads, shares,
    index and preview failures; today's levels, average document size, documents by type."""
    return await reports.overview(days)


class TopOut(BaseModel):
    table: str
    documents: list[TopDocument]


@router.get("/top/{table}", response_model=TopOut)
async def top(
    admin_id: AdminAccountId,
    reports: ReportsDep,
    table: Annotated[Table, Path()],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, object]:
    """The most-downloaded or most-shared documents (a leaderboard of at most `limit`, not a
    list to page through)."""
    return {"table": table, "documents": await reports.top(table, limit)}


@router.get("/export/{table}", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def export(
    admin_id: AdminAccountId,
    reports: ReportsDep,
    table: Annotated[Literal["series", "most-downloaded", "most-shared"], Path()],
    days: Days = 90,
) -> Response:
    """A table of the dashboard as CSV; the export is an audit record (`admin.analytics-exported`)."""
    text = await reports.export(table, admin_id=admin_id, days=days)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="docstore-{table}.csv"', "Cache-Control": "no-store"},
    )


@router.post("/rebuild", response_model=RebuildOut)
async def rebuild(admin_id: AdminAccountId, recorder: RecorderDep) -> dict[str, int]:
    """Wipe the roll-ups and fold the ledger again (the consumer waits meanwhile)."""
    return await recorder.rebuild()
