"""The operator dashboard API (admins only): totals, top accounts, over-quota accounts,
reconciliation reports, dead letters and their replay."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from docstore_kit.auth import AdminAccountId
from docstore_kit.pagination import CursorQuery, Page
from docstore_quota.api.deps import AccountsDep, AdminActionsDep, DeadLettersDep, ReconcilerDep, SettingsDep
from docstore_quota.api.routes import UsageOut, usage_out
from docstore_quota.service_layer.accounts import AccountUsage
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


class AccountsPage(Page[UsageOut]):
    """A page of accounts with their usage."""


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


class DeadLetterPage(Page[DeadLetterOut]):
    """A page of dead letters, in (topic, partition, offset) order."""


class Replayed(BaseModel):
    id: str
    topic: str
    event_id: str | None


def _listed(rows: list[AccountUsage], settings: Settings) -> list[UsageOut]:
    return [usage_out(row, settings) for row in rows]


@router.get("/totals", summary="System totals per plan: accounts, documents, storage, average document size")
async def totals(_: AdminAccountId, accounts: AccountsDep) -> Totals:
    found = await accounts.totals()
    return Totals(plans={p: PlanTotals(**v) for p, v in found.plans.items()}, all=PlanTotals(**found.all))


@router.get("/accounts/top", summary="Accounts using the most storage")
async def top_accounts(
    request: Request,
    _: AdminAccountId,
    accounts: AccountsDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorQuery = None,
) -> AccountsPage:
    rows, next_cursor = await accounts.top(limit, cursor)
    return AccountsPage.of(request, _listed(rows, settings), next_cursor, limit)


@router.get("/accounts/over-quota", summary="Accounts flagged over their cap, by id")
async def over_quota(
    request: Request,
    _: AdminAccountId,
    accounts: AccountsDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: CursorQuery = None,
) -> AccountsPage:
    rows, next_cursor = await accounts.over_quota(limit, cursor)
    return AccountsPage.of(request, _listed(rows, settings), next_cursor, limit)


@router.get("/reconciliation", summary="The latest comparison of the ledger with S3")
async def latest_reconciliation(_: AdminAccountId, reconciler: ReconcilerDep) -> dict[str, Any]:
    return await reconciler.latest()


@router.post("/reconciliation", summary="Compare the ledger with S3 now (reports drift, never fixes it)")
async def reconcile_now(admin_id: AdminAccountId, admin: AdminActionsDep) -> dict[str, Any]:
    log.info("quota_reconciliation_requested", admin_id=admin_id)
    return await admin.reconcile(admin_id=admin_id)


@router.get("/dlq", summary="Dead letters across every `*.dlq` topic, oldest first per partition")
async def dead_letters(
    request: Request,
    _: AdminAccountId,
    letters: DeadLettersDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
    topic: Annotated[str | None, Query(max_length=300)] = None,
) -> DeadLetterPage:
    found, next_cursor = await letters.page(limit=limit, cursor=cursor, topic=topic)
    return DeadLetterPage.of(request, [DeadLetterOut(**letter.summary()) for letter in found], next_cursor, limit)


@router.post(
    "/dlq/{topic}/{partition}/{offset}/replay",
    summary="Publish a dead letter again to the topic it failed on (idempotent consumers)",
)
async def replay(
    topic: str,
    partition: Annotated[int, Path(ge=0, le=2**31 - 1)],
    offset: Annotated[int, Path(ge=0, le=2**63 - 1)],
    admin_id: AdminAccountId,
    admin: AdminActionsDep,
) -> Replayed:
    record = await admin.replay(topic, partition, offset, admin_id=admin_id)
    return Replayed(id=f"{topic}:{partition}:{offset}", topic=record.topic, event_id=record.headers.get("ce_id"))
