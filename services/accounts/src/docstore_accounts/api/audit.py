"""Routes of the audit trail: a person's own activity, and the admins' query, export and verify."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from docstore_accounts.adapters.audit_log import Criteria
from docstore_accounts.api.deps import ServicesDep
from docstore_accounts.domain.audit import AuditRecord, Verification, iso_millis
from docstore_accounts.service_layer.audit import AuditTrail
from docstore_kit.auth import AdminAccountId, CurrentAccountId
from docstore_kit.errors import Invalid
from docstore_kit.pagination import CursorQuery, InvalidCursor, Page, decode_cursor, encode_cursor

router = APIRouter()

Limit = Annotated[int, Query(ge=1, le=200)]
ActionQuery = Annotated[
    str | None, Query(max_length=100, pattern=r"^[a-z0-9.-]+$", description="Only this action (an event type)")
]
NDJSON = "application/x-ndjson"


async def _trail(services: ServicesDep) -> AuditTrail:
    return services.audit


AuditDep = Annotated[AuditTrail, Depends(_trail)]


class ActivityOut(BaseModel):
    """One audit record."""

    account_id: str
    """Whose trail it is in (the account the action concerns)."""
    seq: int
    at: datetime
    action: str
    outcome: Literal["success", "failure"]
    actor: dict[str, str] = Field(description="`{account_id}`, `{link_id}` for anonymous use of a link, or `{}`")
    document_id: str | None = None
    client_address: str | None = None
    user_agent: str | None = None
    region: str
    details: dict[str, Any]
    hash: str
    prev_hash: str

    @classmethod
    def of(cls, record: AuditRecord) -> ActivityOut:
        return cls.model_validate(record, from_attributes=True)


class ActivityPage(Page[ActivityOut]):
    pass


class VerifyOut(BaseModel):
    ok: bool
    checked: int = Field(description="Records checked (from the retention anchor on)")
    first_seq: int | None
    last_seq: int | None
    broken_at: int | None = Field(None, description="The seq of the first record that does not fit its chain")
    reason: str | None = None

    @classmethod
    def of(cls, verdict: Verification) -> VerifyOut:
        return cls.model_validate(verdict, from_attributes=True)


class InvalidRange(Invalid):
    problem: ClassVar[str] = "invalid-range"
    title: ClassVar[str] = "Invalid time range"


def _seq_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    seq = decode_cursor(cursor).get("s")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise InvalidCursor("cursor: not a cursor from this listing; start again without one")
    return seq


def _time_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    position = decode_cursor(cursor)
    try:
        return datetime.fromisoformat(str(position["t"])), str(position["i"])
    except (KeyError, ValueError) as error:
        raise InvalidCursor("cursor: not a cursor from this listing; start again without one") from error


def _criteria(account_id: str | None, action: str | None, since: datetime | None, until: datetime | None) -> Criteria:
    if since and until and since >= until:
        raise InvalidRange("since must be before until")
    return Criteria(account_id=account_id, action=action, since=since, until=until)


AccountQuery = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9._~:-]+$")]
SinceQuery = Annotated[datetime | None, Query(description="From this time (inclusive, ISO 8601)")]
UntilQuery = Annotated[datetime | None, Query(description="Before this time (exclusive, ISO 8601)")]


@router.get("/account/activity", tags=["audit"], summary="What was done on your account, newest first")
async def activity(
    request: Request,
    account_id: CurrentAccountId,
    trail: AuditDep,
    action: ActionQuery = None,
    limit: Limit = 50,
    cursor: CursorQuery = None,
) -> ActivityPage:
    """Every action on the caller's account (sign-ups, logins, uploads, renames, shares, link uses, ...)
    with where it came from; each record carries the hash chaining it to the one before."""
    records, below = await trail.activity(account_id, action=action, before_seq=_seq_cursor(cursor), limit=limit)
    next_cursor = encode_cursor({"s": below}) if below is not None else None
    return ActivityPage.of(request, [ActivityOut.of(record) for record in records], next_cursor, limit)


@router.get("/account/activity/verify", tags=["audit"], summary="Check that your activity's hash chain is intact")
async def verify_activity(account_id: CurrentAccountId, trail: AuditDep) -> VerifyOut:
    return VerifyOut.of(await trail.verify(account_id))


@router.get("/admin/audit", tags=["admin"], summary="Audit records across accounts (admins only), newest first")
async def admin_audit(
    request: Request,
    _admin: AdminAccountId,
    trail: AuditDep,
    account_id: AccountQuery = None,
    action: ActionQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
    limit: Limit = 50,
    cursor: CursorQuery = None,
) -> ActivityPage:
    criteria = _criteria(account_id, action, since, until)
    records, position = await trail.search(criteria, after=_time_cursor(cursor), limit=limit)
    next_cursor = encode_cursor({"t": position[0].isoformat(), "i": position[1]}) if position else None
    return ActivityPage.of(request, [ActivityOut.of(record) for record in records], next_cursor, limit)


def _line(record: AuditRecord) -> bytes:
    out = ActivityOut.of(record).model_dump(mode="json")
    out["at"] = iso_millis(record.at)
    out["event_id"] = record.event_id
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


@router.get(
    "/admin/audit/export",
    tags=["admin"],
    summary="Export audit records as JSON Lines (admins only), oldest first",
    response_class=StreamingResponse,
    responses={200: {"content": {NDJSON: {"schema": {"type": "string"}}}, "description": "One record a line"}},
)
async def admin_audit_export(
    _admin: AdminAccountId,
    trail: AuditDep,
    account_id: AccountQuery = None,
    action: ActionQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
) -> StreamingResponse:
    """Streamed as it is read, so an export of any size holds one batch in memory."""
    criteria = _criteria(account_id, action, since, until)

    async def lines() -> AsyncIterator[bytes]:
        async for record in trail.export(criteria):
            yield _line(record)

    return StreamingResponse(
        lines(),
        media_type=NDJSON,
        headers={"Content-Disposition": 'attachment; filename="docstore-audit.jsonl"', "Cache-Control": "no-store"},
    )


@router.post("/admin/audit/verify", tags=["admin"], summary="Check one account's audit hash chain (admins only)")
async def admin_audit_verify(
    _admin: AdminAccountId,
    trail: AuditDep,
    account_id: Annotated[str, Query(max_length=200, pattern=r"^[A-Za-z0-9._~:-]+$")],
) -> VerifyOut:
    return VerifyOut.of(await trail.verify(account_id))
