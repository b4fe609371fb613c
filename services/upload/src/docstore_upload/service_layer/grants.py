"""One upload's grant: the request and the room left checked, the session recorded with its
`upload.initiated`, and the upload signed (a form, or a multipart upload's part URLs; resumed
by `parts`). Bytes the account already stores are copied instead (`dedupe`, `deltas`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import structlog

from docstore_events import names
from docstore_kit.errors import Unavailable
from docstore_messaging.origin import origin_headers
from docstore_messaging.tracing import current_traceparent
from docstore_messaging.unit_of_work import Transaction
from docstore_upload.adapters.repositories import Repositories
from docstore_upload.domain.delta import DELTA_FROM, check_chunks
from docstore_upload.domain.errors import NameTaken, UploadNotFound
from docstore_upload.domain.grants import (
    FREE,
    CurrentDocument,
    GrantRequest,
    check_base,
    check_request,
    check_reservation,
    new_grant,
)
from docstore_upload.domain.multipart import part_count, part_size, uniform_layout
from docstore_upload.domain.sessions import Session, StoredPart, initiated, is_multipart, open_multipart, parts_to_sign
from docstore_upload.service_layer.common import IssuedGrant, Redirects, UploadContext
from docstore_upload.service_layer.dedupe import Dedupe
from docstore_upload.service_layer.deltas import Deltas

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ResumableParts:
    """What a resuming client needs: the session, the parts S3 has, fresh URLs for the rest."""

    session: Session
    stored: list[StoredPart]
    urls: dict[int, str]


class Grants:
    def __init__(self, context: UploadContext, dedupe: Dedupe, deltas: Deltas, redirects: Redirects) -> None:
        self.context = context
        self.dedupe = dedupe
        self.deltas = deltas
        self.redirects = redirects

    async def grant(self, account_id: str, request: GrantRequest) -> IssuedGrant:
        """Check the request and the room left, record the session, and sign the upload."""
        ctx = self.context
        request = check_request(request, ctx.limits)
        if request.chunks:
            request = replace(request, chunks=check_chunks(request.chunks, request.size))
        # A new version of a document shared for editing is stored and counted as the owner's.
        current = await self.current_for(account_id, request)
        if current is None and await self.names_held(account_id, [(request.path, request.filename)]):
            # One live document per name in a folder: a second would be a silent duplicate.
            raise NameTaken(
                request.path,
                request.filename,
                keep_both_name=await self._keep_both_name(account_id, request.path, request.filename),
            )
        document_id, owner_id = (current.document_id, current.owner_id) if current else (str(uuid.uuid4()), account_id)
        if request.sha256 and owner_id == account_id:
            # Only for the caller's own documents: an editor of a shared document must not learn,
            # by the answer, whether the owner stores some bytes (see metadata's `stored_bytes`).
            deduplicated = await self.dedupe.grant(account_id, request, document_id)
            if deduplicated is not None:
                return deduplicated
        if current is not None and request.chunks and request.sha256 and request.size >= DELTA_FROM:
            delta = await self.deltas.grant(account_id, request, current)
            if delta is not None:
                return delta
        multipart = request.multipart_for(ctx.limits)
        signed_for = request.signed_for(ctx.limits)
        upload_id = str(uuid.uuid4())
        grant = new_grant(
            request,
            upload_id=upload_id,
            document_id=document_id,
            owner_id=owner_id,
            region=ctx.region,
            limits=ctx.limits,
            now=datetime.now(UTC),
        )
        # The room is held for this grant until it completes or expires, so grants issued side by
        # side never add up past the cap (quota decides atomically per account).
        reserved = (
            await ctx.quota.reserve(owner_id, upload_id, request.size, grant.expires_at) if request.size else FREE
        )
        check_reservation(reserved, request.size)
        # The watcher that completes or expires it later continues this request's trace.
        extra: dict[str, Any] = {"actor_id": account_id, "traceparent": current_traceparent()}
        if multipart:
            chosen = part_size(request.size, ctx.limits.multipart_part)
            extra |= {
                "s3_upload_id": await ctx.storage.start_multipart(grant),
                "part_size": chosen,
                "part_count": part_count(request.size, chosen),
            }
        if request.chunks and request.sha256:
            # Kept with the session; marked verified at completion if the bytes match it, and
            # then what the next version's delta upload is planned against.
            extra["chunks"] = [[c.offset, c.length, c.sha256] for c in request.chunks]
            extra["declared_sha256"] = request.sha256

        extra["origin"] = origin_headers()  # for the event of a completion the watcher finds

        async def record(tx: Transaction[Repositories]) -> None:
            await tx.repos.sessions.add(grant, **extra)
            tx.emit(initiated(grant))

        await ctx.uow.run(record)
        if multipart:
            numbers = list(range(1, extra["part_count"] + 1))
            urls = ctx.storage.part_urls(grant.key, extra["s3_upload_id"], numbers, expires_in=signed_for)
            return IssuedGrant(
                grant=grant,
                max_size=request.size,
                part_size=extra["part_size"],
                part_urls=urls,
                layout=uniform_layout(request.size, extra["part_size"], extra["part_count"]),
                part_count=extra["part_count"],
            )
        # The form allows no more than declared: a client cannot send more than quota agreed to.
        redirect = self.redirects.url(upload_id) if request.browser else None
        form = ctx.storage.post_form(grant, max_size=request.size, expires_in=signed_for, redirect_url=redirect)
        return IssuedGrant(grant=grant, max_size=request.size, form=form)

    async def parts(self, account_id: str, upload_id: str, *, expires_in: int | None = None) -> ResumableParts:
        """What a resuming client needs: parts S3 already has, and fresh URLs for the rest."""
        ctx = self.context
        row = await ctx.reads.sessions.get(account_id, upload_id)
        if row is None or not is_multipart(row):
            raise UploadNotFound(upload_id)
        open_multipart(row)
        stored = await ctx.storage.stored_parts(row["key"], row["s3_upload_id"]) or []
        urls = ctx.storage.part_urls(
            row["key"],
            row["s3_upload_id"],
            parts_to_sign(row, stored),
            expires_in=expires_in or ctx.limits.grant_seconds,
        )
        return ResumableParts(session=row, stored=stored, urls=urls)

    async def names_held(self, account_id: str, places: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (folder, name) places a live document holds, to refuse a new document there at
        once (409). While metadata does not answer, none: uploads go on without it, and the
        completion, which metadata records when it is back, gives a clashing new document a
        conflict-copy name instead (the name rule holds either way; only the early 409 is lost)."""
        try:
            return await self.context.metadata.taken(account_id, places)
        except Unavailable as error:
            log.warning("names_unchecked_metadata_unavailable", account_id=account_id, error=str(error)[:200])
            return set()

    async def _keep_both_name(self, account_id: str, path: str, name: str) -> str | None:
        """The first of `name 2` ... `name 20` free in the folder (one question), for the 409's
        "keep both" choice; None when none is (the person then chooses a name)."""
        candidates = [names.numbered(name, n) for n in range(2, 21)]
        held = await self.names_held(account_id, [(path, c) for c in candidates])
        return next((c for c in candidates if (path, c) not in held), None)

    async def current_for(self, account_id: str, request: GrantRequest) -> CurrentDocument | None:
        """The existing document a new version is for (checked as `document_for` does), or None."""
        if request.document_id is None:
            return None
        return check_base(await self.context.metadata.document(account_id, request.document_id), request)

    async def document_for(self, account_id: str, request: GrantRequest) -> tuple[str, str]:
        """(document id, owner id): a fresh document of the caller's, or the existing document a new
        version is for, checked with metadata (the caller's own, or shared with them to edit)."""
        if request.document_id is None:
            return str(uuid.uuid4()), account_id
        current = check_base(await self.context.metadata.document(account_id, request.document_id), request)
        return current.document_id, current.owner_id
