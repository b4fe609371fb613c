"""Delta uploads: a new version's unchanged ranges are copied server-side from the current
version's object (`UploadPartCopy`), planned from that object's verified chunk map and the new
file's (`domain.delta`); the client uploads only the other parts."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from docstore_messaging.origin import origin_headers
from docstore_messaging.tracing import current_traceparent
from docstore_messaging.unit_of_work import Transaction
from docstore_upload.adapters.repositories import Repositories
from docstore_upload.domain.delta import Chunk, Part, copied_bytes, plan_parts
from docstore_upload.domain.grants import CurrentDocument, GrantRequest, check_reservation, new_grant
from docstore_upload.domain.multipart import part_size
from docstore_upload.domain.sessions import initiated
from docstore_upload.service_layer.common import BATCH_S3_CONCURRENCY, IssuedGrant, UploadContext


class Deltas:
    def __init__(self, context: UploadContext) -> None:
        self.context = context

    async def grant(self, account_id: str, request: GrantRequest, current: CurrentDocument) -> IssuedGrant | None:
        """A multipart upload of a new version of `current` whose unchanged parts are already
        copied. None when the current version has no verified map (or nothing is worth copying):
        the caller grants a whole upload."""
        ctx = self.context
        if not current.current_key or current.current_bucket != ctx.storage.bucket:
            return None
        previous_row = await ctx.reads.sessions.by_key(current.current_key)
        if previous_row is None or not previous_row.get("chunks_verified"):
            return None
        previous = [Chunk(int(o), int(n), str(h)) for o, n, h in previous_row["chunks"]]
        chosen = part_size(request.size, ctx.limits.multipart_part)
        parts = plan_parts(previous, request.chunks, part_size=chosen)
        if parts is None:
            return None
        multipart_request = replace(request, multipart=True)
        grant = new_grant(
            multipart_request,
            upload_id=str(uuid.uuid4()),
            document_id=current.document_id,
            owner_id=current.owner_id,
            region=ctx.region,
            limits=ctx.limits,
            now=datetime.now(UTC),
        )
        check_reservation(
            await ctx.quota.reserve(current.owner_id, grant.upload_id, request.size, grant.expires_at), request.size
        )
        extra: dict[str, Any] = {
            "actor_id": account_id,
            "traceparent": current_traceparent(),
            "s3_upload_id": await ctx.storage.start_multipart(grant),
            "part_size": chosen,
            "part_count": len(parts),
            "layout": [[p.number, p.offset, p.length] for p in parts],
            "chunks": [[c.offset, c.length, c.sha256] for c in request.chunks],
            "declared_sha256": request.sha256,
            "delta_of": current.current_key,
            "copied_bytes": copied_bytes(parts),
        }

        extra["origin"] = origin_headers()  # for the event of a completion the watcher finds

        async def record(tx: Transaction[Repositories]) -> None:
            await tx.repos.sessions.add(grant, **extra)
            tx.emit(initiated(grant))

        await ctx.uow.run(record)
        copies = [p for p in parts if p.copied]
        if not await self._copy_parts(grant.key, extra["s3_upload_id"], current.current_key, copies):
            # The previous object went away meanwhile: the client sends those parts too.
            copies = []
        upload = [p.number for p in parts if p not in copies]
        urls = ctx.storage.part_urls(
            grant.key, extra["s3_upload_id"], upload, expires_in=request.signed_for(ctx.limits)
        )
        return IssuedGrant(
            grant=grant,
            max_size=request.size,
            part_size=chosen,
            part_urls=urls,
            layout={p.number: (p.offset, p.length) for p in parts},
            part_count=len(parts),
            copied_bytes=copied_bytes(copies),
        )

    async def _copy_parts(self, key: str, s3_upload_id: str, source: str, parts: list[Part]) -> bool:
        """The copied parts of a delta upload, side by side (S3 copies; nothing passes through here)."""
        limit = asyncio.Semaphore(BATCH_S3_CONCURRENCY)

        async def one(part: Part) -> bool:
            assert part.source_offset is not None
            async with limit:
                return await self.context.storage.copy_part(
                    key,
                    s3_upload_id,
                    part.number,
                    source,
                    part.source_offset,
                    part.source_offset + part.length - 1,
                )

        return all(await asyncio.gather(*(one(p) for p in parts)))
