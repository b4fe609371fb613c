"""Quota's HTTP routes: the caller's usage, and for `upload` the room left and the
reservations that hold room for its grants."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Path, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from docstore_kit.auth import CurrentAccountId, ServiceCaller
from docstore_kit.text import Text
from docstore_quota.api.deps import AccountsDep, ReservationsDep, SettingsDep
from docstore_quota.domain.reservations import MAX_BATCH, room_after
from docstore_quota.domain.usage import Usage
from docstore_quota.service_layer.accounts import AccountUsage
from docstore_quota.service_layer.reservations import Wanted
from docstore_quota.settings import Settings

log = structlog.get_logger(__name__)

MAX_RESERVATION_BYTES = 10**18
"""Far above any cap; keeps sizes inside MongoDB's 64-bit integers."""

AccountIdPath = Annotated[str, Path(min_length=1, max_length=200)]
UploadIdPath = Annotated[str, Path(min_length=1, max_length=200)]


class UsageOut(BaseModel):
    account_id: str
    plan: str
    used_bytes: int
    """Bytes that count toward the cap (see the counting rule in the README)."""
    stored_bytes: int
    """Every byte the account has in S3, trash and old versions included."""
    cap_bytes: int
    room_bytes: int
    """What may still be granted: the cap minus the used bytes and the live reservations."""
    reserved_bytes: int = 0
    """Bytes held for upload grants not completed yet (live reservations)."""
    percent_used: float
    over_quota: bool
    documents: int


class ReservationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: Annotated[int, Field(gt=0, le=MAX_RESERVATION_BYTES, strict=True)]
    """The declared size of the upload, in bytes."""
    expires_at: AwareDatetime
    """When the upload's grant expires (ISO 8601 with a time zone)."""


class Upgrade(BaseModel):
    upgrade_plan: str | None = None
    """The plan a refused upload could move to for more room (None on the largest plan)."""
    upgrade_cap_bytes: int | None = None
    """That plan's cap."""


def _upgrade(usage: Usage, settings: Settings) -> tuple[str | None, int | None]:
    """The next plan up for `usage`'s account and its cap (None, None on the largest plan)."""
    return usage.upgrade(settings.caps()) or (None, None)


class ReservationOut(Upgrade):
    granted: bool
    room_bytes: int
    """The account's room minus its other live reservations (this upload's not subtracted)."""
    cap_bytes: int
    over_quota: bool
    plan: str
    reserved_bytes: int
    """The account's live reservations after this call."""


router = APIRouter(tags=["quota"])


def usage_out(account: AccountUsage, settings: Settings) -> UsageOut:
    caps, record = settings.caps(), account.usage
    return UsageOut(
        account_id=record.account_id,
        plan=record.plan,
        used_bytes=record.used_bytes,
        stored_bytes=record.stored_bytes,
        cap_bytes=record.cap(caps),
        room_bytes=room_after(record.room(caps), account.reserved_bytes),
        reserved_bytes=account.reserved_bytes,
        percent_used=record.percent(caps),
        over_quota=record.over_quota,
        documents=record.documents,
    )


@router.get("/usage", summary="Storage used by the caller's account, its cap and the room left")
async def my_usage(account_id: CurrentAccountId, accounts: AccountsDep, settings: SettingsDep) -> UsageOut:
    return usage_out(await accounts.usage(account_id), settings)


@router.get("/internal/accounts/{account_id}/room", summary="Room left, after pending grants (internal)")
async def room(account_id: AccountIdPath, _: ServiceCaller, accounts: AccountsDep, settings: SettingsDep) -> UsageOut:
    return usage_out(await accounts.usage(account_id), settings)


@router.put(
    "/internal/accounts/{account_id}/reservations/{upload_id}",
    summary="Hold room for an upload grant, or refuse it (internal; idempotent by upload id)",
)
async def reserve(
    account_id: AccountIdPath,
    upload_id: UploadIdPath,
    body: ReservationIn,
    caller: ServiceCaller,
    reservations: ReservationsDep,
    settings: SettingsDep,
) -> ReservationOut:
    grant = await reservations.reserve(account_id, upload_id, body.size, body.expires_at)
    usage, decision = grant.usage, grant.decision
    log.info(
        "quota_reservation",
        caller=caller,
        account_id=account_id,
        upload_id=upload_id,
        size=body.size,
        granted=decision.granted,
        room_bytes=decision.room_bytes,
    )
    upgrade_plan, upgrade_cap_bytes = _upgrade(usage, settings)
    return ReservationOut(
        granted=decision.granted,
        room_bytes=decision.room_bytes,
        cap_bytes=usage.cap(settings.caps()),
        over_quota=usage.over_quota,
        plan=usage.plan,
        reserved_bytes=decision.reserved_bytes,
        upgrade_plan=upgrade_plan,
        upgrade_cap_bytes=upgrade_cap_bytes,
    )


@router.delete(
    "/internal/accounts/{account_id}/reservations/{upload_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Release the room held for an upload grant (internal; unknown ids too)",
)
async def release(
    account_id: AccountIdPath, upload_id: UploadIdPath, _: ServiceCaller, reservations: ReservationsDep
) -> Response:
    await reservations.release(account_id, upload_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class BatchReservationItem(ReservationIn):
    upload_id: Annotated[Text, Field(min_length=1, max_length=200)]


class BatchReservationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reservations: Annotated[list[BatchReservationItem], Field(min_length=1, max_length=MAX_BATCH)]
    """Decided in this order, each granted item counting against the room of the next."""


class BatchReservationResult(BaseModel):
    upload_id: str
    granted: bool
    room_bytes: int
    """The room when this item was decided (the earlier items of the batch already subtracted)."""
    reserved_bytes: int
    taken: bool = False
    """True when another account holds this upload id (refused)."""


class BatchReservationOut(Upgrade):
    cap_bytes: int
    over_quota: bool
    plan: str
    results: list[BatchReservationResult]


@router.post(
    "/internal/accounts/{account_id}/reservations",
    summary="Hold room for many upload grants of one account in one transaction (internal)",
    description=f"At most {MAX_BATCH} items. Decided in order, atomically for the account: the batch never "
    "holds more than the room in total. Each item is idempotent by upload id, as the single route.",
)
async def reserve_batch(
    account_id: AccountIdPath,
    body: BatchReservationIn,
    caller: ServiceCaller,
    reservations: ReservationsDep,
    settings: SettingsDep,
) -> BatchReservationOut:
    grant = await reservations.reserve_many(
        account_id, [Wanted(item.upload_id, item.size, item.expires_at) for item in body.reservations]
    )
    usage = grant.usage
    results = []
    for item in body.reservations:
        decision = grant.decisions.get(item.upload_id)
        if decision is None:
            results.append(
                BatchReservationResult(
                    upload_id=item.upload_id, granted=False, room_bytes=0, reserved_bytes=0, taken=True
                )
            )
            continue
        results.append(
            BatchReservationResult(
                upload_id=item.upload_id,
                granted=decision.granted,
                room_bytes=decision.room_bytes,
                reserved_bytes=decision.reserved_bytes,
            )
        )
    log.info(
        "quota_reservations",
        caller=caller,
        account_id=account_id,
        items=len(results),
        granted=sum(r.granted for r in results),
        size=sum(item.size for item in body.reservations),
    )
    upgrade_plan, upgrade_cap_bytes = _upgrade(usage, settings)
    return BatchReservationOut(
        cap_bytes=usage.cap(settings.caps()),
        over_quota=usage.over_quota,
        plan=usage.plan,
        results=results,
        upgrade_plan=upgrade_plan,
        upgrade_cap_bytes=upgrade_cap_bytes,
    )
