"""Quota's HTTP routes: the caller's usage, and the room left for `upload` to query."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from docstore_kit.auth import CurrentAccountId
from docstore_quota.adapters.usage_repository import UsageRepository
from docstore_quota.settings import Settings


class UsageOut(BaseModel):
    account_id: str
    plan: str
    used_bytes: int
    cap_bytes: int
    room_bytes: int
    over_quota: bool


def _usage_repository(request: Request) -> UsageRepository:
    return request.app.state.usage


def _settings(request: Request) -> Settings:
    return request.app.state.settings


UsageDep = Annotated[UsageRepository, Depends(_usage_repository)]
SettingsDep = Annotated[Settings, Depends(_settings)]

router = APIRouter(tags=["quota"])


async def _usage_out(account_id: str, usage: UsageRepository, settings: Settings) -> UsageOut:
    record = await usage.get(account_id)
    caps = settings.caps()
    return UsageOut(
        account_id=account_id,
        plan=record.plan,
        used_bytes=record.used_bytes,
        cap_bytes=record.cap(caps),
        room_bytes=record.room(caps),
        over_quota=record.over_quota,
    )


@router.get("/usage", summary="Storage used by the caller's account, its cap and the room left")
async def my_usage(account_id: CurrentAccountId, usage: UsageDep, settings: SettingsDep) -> UsageOut:
    return await _usage_out(account_id, usage, settings)


@router.get("/internal/accounts/{account_id}/room", summary="Room left, for upload grants (internal)")
async def room(account_id: str, usage: UsageDep, settings: SettingsDep) -> UsageOut:
    return await _usage_out(account_id, usage, settings)
