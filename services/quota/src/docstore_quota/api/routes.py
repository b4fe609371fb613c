"""Quota's HTTP routes: the caller's usage, and the room left for `upload` to query."""

from __future__ import annotations

from pydantic import BaseModel

from fastapi import APIRouter

from docstore_kit.auth import CurrentAccountId
from docstore_quota.adapters.usage_repository import UsageRepository
from docstore_quota.api.deps import SettingsDep, UsageDep
from docstore_quota.domain.usage import Usage
from docstore_quota.settings import Settings


class UsageOut(BaseModel):
    account_id: str
    plan: str
    used_bytes: int
    """Bytes that count toward the cap (see the counting rule in the README)."""
    stored_bytes: int
    """Every byte the account has in S3, trash and old versions included."""
    cap_bytes: int
    room_bytes: int
    percent_used: float
    over_quota: bool
    documents: int


router = APIRouter(tags=["quota"])


def usage_out(record: Usage, settings: Settings) -> UsageOut:
    caps = settings.caps()
    return UsageOut(
        account_id=record.account_id,
        plan=record.plan,
        used_bytes=record.used_bytes,
        stored_bytes=record.stored_bytes,
        cap_bytes=record.cap(caps),
        room_bytes=record.room(caps),
        percent_used=record.percent(caps),
        over_quota=record.over_quota,
        documents=record.documents,
    )


async def _usage_out(account_id: str, usage: UsageRepository, settings: Settings) -> UsageOut:
    return usage_out(await usage.get(account_id), settings)


@router.get("/usage", summary="Storage used by the caller's account, its cap and the room left")
async def my_usage(account_id: CurrentAccountId, usage: UsageDep, settings: SettingsDep) -> UsageOut:
    return await _usage_out(account_id, usage, settings)


@router.get("/internal/accounts/{account_id}/room", summary="Room left, for upload grants (internal)")
async def room(account_id: str, usage: UsageDep, settings: SettingsDep) -> UsageOut:
    return await _usage_out(account_id, usage, settings)
