"""The operator dashboard API (admins only): totals, top accounts, over-quota accounts,
reconciliation reports, dead letters and their replay."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from docstore_events.dead_letters import InvalidCursor, NotFound
from docstore_quota.adapters import metrics
from docstore_quota.adapters.reservations import Reservations
from docstore_quota.api.deps import AdminId, DeadLettersDep, ReconcilerDep, ReservationsDep, SettingsDep, UsageDep
from docstore_quota.api.routes import UsageOut, usage_out
from docstore_quota.domain.usage import Usage
from docstore_quota.settings import Settings

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/admin", tags=["admin"])


class PlanTotals(BaseModel):
    accounts: int
    documents: int
    stored_bytes: int
    used_bytes: int
    average_document_bytes: int
    over_quota: int


class Totals(BaseModel):
    plans: dict[str, PlanTotals]
    all: PlanTotals


class AccountsPage(BaseModel):
    items: list[UsageOut]
    next_cursor: str | None = None


class DeadLetterOut(BaseModel):
    id: str
    topic: str
    partition: int
    offset: int
    original_topic: str
    consumer: str
    error: str
    failed_at: str
    time: datetime
    event_type: str | None
    event_id: str | None


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    next_cursor: str | None


class Replayed(BaseModel):
    id: str
    topic: str
    event_id: str | None


async def _listed(rows: list[Usage], reservations: Reservations, settings: Settings) -> list[UsageOut]:
    """Accounts as listed to admins, each with its live reservations (one query for the page)."""
    reserved = await reservations.reserved_by_account(u.account_id for u in rows)
    return [usage_out(u, settings, reserved.get(u.account_id, 0)) for u in rows]


@router.get("/totals", summary="System totals per plan: accounts, documents, storage, average document size")
async def totals(_: AdminId, usage: UsageDep) -> Totals:
    per_plan = await metrics.refresh(usage)
    keys = ("accounts", "documents", "stored_bytes", "used_bytes", "over_quota")
    overall: dict[str, Any] = {k: sum(v[k] for v in per_plan.values()) for k in keys}
    overall["average_document_bytes"] = round(overall["stored_bytes"] / overall["documents"]) if overall["documents"] else 0
    return Totals(plans={p: PlanTotals(**v) for p, v in per_plan.items()}, all=PlanTotals(**overall))


@router.get("/accounts/top", summary="Accounts using the most storage")
async def top_accounts(
    _: AdminId, usage: UsageDep, settings: SettingsDep, reservations: ReservationsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[UsageOut]:
    return await _listed(await usage.top(limit), reservations, settings)


@router.get("/accounts/over-quota", summary="Accounts flagged over their cap, by id")
async def over_quota(
    _: AdminId, usage: UsageDep, settings: SettingsDep, reservations: ReservationsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50, cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AccountsPage:
    rows = await usage.over_quota(limit + 1, after=cursor)
    more = len(rows) > limit
    rows = rows[:limit]
    items = await _listed(rows, reservations, settings)
    return AccountsPage(items=items, next_cursor=rows[-1].account_id if more else None)


def _report(report: dict[str, Any] | None) -> dict[str, Any]:
    if report is None:
        raise HTTPException(404, "no reconciliation has run yet")
    return {("id" if k == "_id" else k): v for k, v in report.items()}


@router.get("/reconciliation", summary="The latest comparison of the ledger with S3")
async def latest_reconciliation(_: AdminId, reconciler: ReconcilerDep) -> dict[str, Any]:
    return _report(await reconciler.latest())


@router.post("/reconciliation", summary="Compare the ledger with S3 now (reports drift, never fixes it)")
async def reconcile_now(admin_id: AdminId, reconciler: ReconcilerDep) -> dict[str, Any]:
    log.info("quota_reconciliation_requested", admin_id=admin_id)
    return _report(await reconciler.run())


@router.get("/dlq", summary="Dead letters across every `*.dlq` topic, oldest first per partition")
async def dead_letters(
    _: AdminId, letters: DeadLettersDep, limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    topic: Annotated[str | None, Query(max_length=300)] = None,
) -> DeadLetterPage:
    try:
        found, next_cursor = await letters.page(limit=limit, cursor=cursor, topic=topic)
    except InvalidCursor as error:
        raise HTTPException(422, str(error)) from error
    return DeadLetterPage(items=[DeadLetterOut(**letter.summary()) for letter in found], next_cursor=next_cursor)


@router.post("/dlq/{topic}/{partition}/{offset}/replay",
             summary="Publish a dead letter again to the topic it failed on (idempotent consumers)")
async def replay(topic: str, partition: int, offset: int, admin_id: AdminId, letters: DeadLettersDep) -> Replayed:
    try:
        record = await letters.replay(topic, partition, offset)
    except NotFound as error:
        raise HTTPException(404, f"no dead letter at {topic}:{partition}:{offset}") from error
    log.info("dead_letter_replayed", admin_id=admin_id, dead_letter=f"{topic}:{partition}:{offset}",
             topic=record.topic, event_id=record.headers.get("ce_id"))
    return Replayed(id=f"{topic}:{partition}:{offset}", topic=record.topic, event_id=record.headers.get("ce_id"))
