"""Many grants at once (issue 35: the cost of one file): up to `MAX_BATCH` form grants in one
request. Room is reserved with one quota call per owner, the sessions and their events recorded
in one transaction; an item's refusal is that item's alone. Their completion: `batch_completion`."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from docstore_kit.errors import DomainError
from docstore_messaging.origin import origin_headers
from docstore_messaging.tracing import current_traceparent
from docstore_messaging.unit_of_work import Transaction
from docstore_upload.adapters.repositories import Repositories
from docstore_upload.domain.errors import NameTaken
from docstore_upload.domain.grants import (
    FREE,
    Grant,
    GrantRequest,
    Reservation,
    StoredBytes,
    check_batch,
    check_batch_item,
    check_reservation,
    new_grant,
    unpinned,
)
from docstore_upload.domain.sessions import BATCH_CLIENT_GRACE, batch_initiated
from docstore_upload.service_layer.common import BATCH_S3_CONCURRENCY, IssuedGrant, Redirects, UploadContext
from docstore_upload.service_layer.dedupe import Dedupe
from docstore_upload.service_layer.grants import Grants

Planned = tuple[int, GrantRequest, Grant]
"""A batch item on its way: its index in the request, the request, the grant it would get."""


async def no_reservations() -> dict[str, Reservation]:
    return {}


async def nothing() -> None:
    return None


class BatchGrants:
    def __init__(
        self,
        context: UploadContext,
        grants: Grants,
        dedupe: Dedupe,
        redirects: Redirects,
        *,
        pin_checksums: bool = True,
    ) -> None:
        self.context = context
        self.grants = grants
        self.dedupe = dedupe
        self.redirects = redirects
        self.pin_checksums = pin_checksums

    async def grant_many(self, account_id: str, requests: list[GrantRequest]) -> list[IssuedGrant | DomainError]:
        """Many form grants in one go, one result per request, in order: a grant, or the refusal
        of that item alone (bad name, no room, a multipart-sized file...). The room is reserved
        with one quota call per owner, decided in order for the batch's total; the sessions and
        their `upload.initiated` are recorded in one transaction. Quota unreachable fails the
        whole batch (503), as it fails a single grant."""
        check_batch(len(requests))
        results: list[IssuedGrant | DomainError | None] = [None] * len(requests)
        now = datetime.now(UTC)
        planned = await self._plan(account_id, requests, results, now)
        planned = await self._unique_names(account_id, planned, results)
        sources = await self._stored_bytes(account_id, planned)
        # A deduplicated item's object is S3's copy of the source, which carries no checksum of
        # its own: it keeps a staging key (never written) and the copy's completion as before.
        planned = [
            (index, request, unpinned(grant) if grant.upload_id in sources else grant)
            for index, request, grant in planned
        ]
        granted = await self._reserve(planned, results)
        if granted:
            await self._record(account_id, granted, sources, now)
        deduplicated = await self.dedupe.copy_many(
            [grant.upload_id for _, _, grant in granted if grant.upload_id in sources], sources
        )
        for index, request, grant in granted:
            results[index] = self._sign(request, grant, deduplicated=grant.upload_id in deduplicated)
        return [result for result in results if result is not None]

    async def _plan(
        self,
        account_id: str,
        requests: list[GrantRequest],
        results: list[IssuedGrant | DomainError | None],
        now: datetime,
    ) -> list[Planned]:
        """Each item checked and its document found (side by side); refusals go to `results`."""
        ctx = self.context

        async def plan(index: int, request: GrantRequest) -> Planned | None:
            try:
                request = check_batch_item(request, ctx.limits)
                document_id, owner_id = await self.grants.document_for(account_id, request)
            except DomainError as error:
                results[index] = error
                return None
            grant = new_grant(
                request,
                upload_id=str(uuid.uuid4()),
                document_id=document_id,
                owner_id=owner_id,
                region=ctx.region,
                limits=ctx.limits,
                now=now,
                # An item with its sha256: its form carries it, S3 takes no other bytes, and the
                # form writes the version's key (no staging copy; completion is one HEAD).
                pin=self.pin_checksums,
            )
            return index, request, grant

        return [p for p in await asyncio.gather(*(plan(i, r) for i, r in enumerate(requests))) if p is not None]

    async def _unique_names(
        self, account_id: str, planned: list[Planned], results: list[IssuedGrant | DomainError | None]
    ) -> list[Planned]:
        """One live document per name in a folder: new documents whose name is held (by a live
        document, or by an earlier item of this batch) are refused, one question for the batch."""
        new = [(request.path, request.filename) for _, request, _ in planned if request.document_id is None]
        held = await self.grants.names_held(account_id, new) if new else set()
        kept: list[Planned] = []
        for index, request, grant in planned:
            place = (request.path, request.filename)
            if request.document_id is None:
                if place in held:
                    results[index] = NameTaken(*place)
                    continue
                held.add(place)
            kept.append((index, request, grant))
        return kept

    async def _stored_bytes(self, account_id: str, planned: list[Planned]) -> dict[str, StoredBytes]:
        """Dedupe (the caller's own documents only, as in `Grants.grant`): by upload id, the bytes
        the account already stores. Metadata is asked only about the sha256s that an upload of
        this region completed into the account's documents (one query here): a version's bytes in
        this bucket were all recorded by it, so the others cannot be found there, and a batch of
        new files costs no lookup per file. (A hit is still only a hint: metadata says whether a
        version has them.)"""
        ctx = self.context
        wanted = list({r.sha256 for _, r, g in planned if r.sha256 and g.account_id == account_id})
        known = await ctx.reads.sessions.completed_sha256s(account_id, wanted) if wanted else set()
        lookups = asyncio.Semaphore(BATCH_S3_CONCURRENCY)

        async def stored_bytes(sha256: str) -> StoredBytes | None:
            async with lookups:
                return await ctx.metadata.stored_bytes(account_id, sha256)

        found = await asyncio.gather(
            *(
                stored_bytes(request.sha256)
                if request.sha256 in known and grant.account_id == account_id
                else nothing()
                for _, request, grant in planned
            )
        )
        return {
            grant.upload_id: source
            for (_, request, grant), source in zip(planned, found, strict=True)
            if source is not None and source.bucket == ctx.storage.bucket and source.size == request.size
        }

    async def _reserve(self, planned: list[Planned], results: list[IssuedGrant | DomainError | None]) -> list[Planned]:
        """Room for the items, one quota call per owner; the items that got it."""
        by_owner: dict[str, list[Planned]] = {}
        for item in planned:
            by_owner.setdefault(item[2].account_id, []).append(item)
        held_room = [
            [(grant.upload_id, request.size, grant.expires_at) for _, request, grant in items if request.size]
            for items in by_owner.values()
        ]
        answers = await asyncio.gather(
            *(
                self.context.quota.reserve_many(owner, room) if room else no_reservations()
                for owner, room in zip(by_owner, held_room, strict=True)
            )
        )
        granted: list[Planned] = []
        for items, reservations in zip(by_owner.values(), answers, strict=True):
            for index, request, grant in items:
                try:
                    check_reservation(reservations[grant.upload_id] if request.size else FREE, request.size)
                except DomainError as error:
                    results[index] = error
                    continue
                granted.append((index, request, grant))
        return granted

    async def _record(
        self, account_id: str, granted: list[Planned], sources: dict[str, StoredBytes], now: datetime
    ) -> None:
        async def record(tx: Transaction[Repositories]) -> None:
            # The client completes these in a batch: S3 notifications and the watcher leave them to
            # it for a while (`awaits_client`) instead of reading every file back a second time.
            extra = {
                "actor_id": account_id,
                "batch": True,
                "next_check_at": now + BATCH_CLIENT_GRACE,
                "traceparent": current_traceparent(),
                "origin": origin_headers(),
            }
            await tx.repos.sessions.add_many(
                [
                    (
                        grant,
                        extra
                        | ({"deduplicated_from": sources[grant.upload_id].key} if grant.upload_id in sources else {}),
                    )
                    for _, _, grant in granted
                ]
            )
            # One event per owner for the whole batch, not one per file (issue 35).
            for event in batch_initiated([grant for _, _, grant in granted]):
                tx.emit(event)

        await self.context.uow.run(record)
        self.context.awaiting.remember(
            [(grant.upload_id, grant.staging_key or grant.key) for _, _, grant in granted],
            now + BATCH_CLIENT_GRACE,
        )

    def _sign(self, request: GrantRequest, grant: Grant, *, deduplicated: bool) -> IssuedGrant:
        if deduplicated:
            return IssuedGrant(grant=grant, max_size=request.size, deduplicated=True)
        # (A dedupe whose source went away meanwhile gets its form: a normal upload.)
        storage, limits = self.context.storage, self.context.limits
        if request.put and not request.browser and grant.pinned_sha256:
            put = storage.put_url(grant, expires_in=request.signed_for(limits))
            if put is not None:
                return IssuedGrant(grant=grant, max_size=request.size, put=put)
        redirect = self.redirects.url(grant.upload_id) if request.browser else None
        form = storage.post_form(
            grant, max_size=request.size, expires_in=request.signed_for(limits), redirect_url=redirect
        )
        return IssuedGrant(grant=grant, max_size=request.size, form=form)
