"""Preview use cases: the indexer's outcomes kept per version, and signed URLs for the images.

`record_outcomes_once` applies a batch of `document.preview-ready` / `document.preview-failed`
events (and `document.batch-previews`, several of one account's in one), each once
(`uow.run_once_each`), in one transaction: the version row gets its `preview`, and the document
its latest version's summary (`domain.previews`). `url` checks the caller may read the document
exactly as a download does (owner, or an account it is shared with), then signs a short-lived
GET of the image: bytes never pass through metadata.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from docstore_events.previews import DocumentPreviewFailed, DocumentPreviewReady, PreviewEvent, preview_outcomes_in
from docstore_messaging.unit_of_work import Transaction, UnitOfWork
from docstore_metadata.adapters.previews import documents_by_id, set_previews, shares_to, version_rows
from docstore_metadata.adapters.repositories import Repositories
from docstore_metadata.domain import previews
from docstore_metadata.domain.sharing import NoAccess, access_to
from docstore_metadata.service_layer.sharing import visible

Tx = Transaction[Repositories]
CONSUMER = "metadata-previews"
Signer = Callable[..., Awaitable[str]]
"""`(bucket=, key=, content_type=, expires_in=) -> url` (`adapters.preview_urls`, bound to the store)."""


class Previews:
    def __init__(
        self, uow: UnitOfWork[Repositories], reads: Repositories, *, sign: Signer, url_seconds: int = 300
    ) -> None:
        """`reads`: repositories outside any transaction; `sign` makes a signed GET URL;
        `url_seconds`: how long one lives (the download URLs' lifetime)."""
        self.uow = uow
        self.reads = reads
        self.sign = sign
        self.url_seconds = url_seconds

    async def record_outcomes_once(self, outcomes: Sequence[tuple[str, PreviewEvent]]) -> frozenset[str]:
        """Each (event id, event) once, in one transaction. An outcome for a document gone
        meanwhile, another account's, a pruned version, or naming keys outside the version's
        preview prefix changes nothing. A late outcome for an old version updates that version only."""

        async def work(tx: Tx, fresh: frozenset[str]) -> None:
            todo = [
                one
                for event_id, event in dict(outcomes).items()
                if event_id in fresh
                for one in preview_outcomes_in(event)
            ]
            await self._apply_all(tx, todo)

        return await self.uow.run_once_each(
            consumer=CONSUMER, event_ids=[event_id for event_id, _ in outcomes], work=work
        )

    @staticmethod
    async def _apply_all(tx: Tx, events: list[DocumentPreviewReady | DocumentPreviewFailed]) -> None:
        """The batch's outcomes in order, with two reads and two writes in all: the indexer renders
        a preview of every new file, and one outcome at a time (four round trips each, a batch of
        250 in one transaction) held metadata's consumer for minutes while uploads waited behind it."""
        repo = tx.repos.documents
        documents = await documents_by_id(repo, sorted({event.document_id for event in events}))
        rows = await version_rows(
            repo, sorted({(e.document_id, e.version) for e in events if e.document_id in documents})
        )
        on_versions: dict[tuple[str, int], dict[str, Any]] = {}
        on_documents: dict[str, dict[str, Any]] = {}
        for event in events:
            document = documents.get(event.document_id)
            if document is None or document["account_id"] != event.account_id:
                continue
            if (event.document_id, event.version) not in rows:
                continue
            if isinstance(event, DocumentPreviewReady):
                small, large = previews.image_of(event.small), previews.image_of(event.large)
                if not all(
                    previews.belongs_to(image["key"], event.account_id, event.document_id, event.version)
                    for image in (small, large)
                ):
                    continue
                stored = previews.ready(small, large)
            else:
                stored = previews.failed(event.reason)
            on_versions[(event.document_id, event.version)] = stored
            if previews.supersedes(document.get("preview"), event.version):
                document["preview"] = on_documents[event.document_id] = previews.summary(event.version, stored)
        await set_previews(repo, on_versions, on_documents)

    async def url(self, account_id: str, document_id: str, version: int, size: str) -> dict[str, Any]:
        """`{url, expires_at, width, height, content_type}` for a version's preview image of `size`,
        after the download's permission check (404 for anyone else, as for a missing document);
        404 when the version has none, 409 while it is pending."""
        found = await visible(self.reads, account_id, document_id)
        row = await self.reads.documents.version(document_id, version)
        image = previews.image_to_serve(row, size)
        if row is None or not previews.belongs_to(image["key"], found.document["account_id"], document_id, version):
            raise previews.PreviewNotFound("This version has no preview.")
        signed = await self._signed(row["bucket"], image)
        del signed["state"]
        return signed

    async def urls(self, account_id: str, wanted: Sequence[tuple[str, int]], size: str) -> list[dict[str, Any]]:
        """For each (document id, version) in `wanted`, in order: `{document_id, version, state}`,
        with `url, expires_at, width, height, content_type` when `state` is `ready`. The same
        permission check as `url` for each; `pending` while it is being made; `none` for a version
        without a preview, one that does not exist, and a document the caller may not read (the
        same answer: nothing tells them apart). Three queries and the signing, whatever the count."""
        if size not in previews.SIZES:
            raise previews.UnknownSize(f"size must be one of {', '.join(previews.SIZES)}")
        pairs = list(dict.fromkeys((document_id, version) for document_id, version in wanted))
        ids = list(dict.fromkeys(document_id for document_id, _ in pairs))
        documents = await documents_by_id(self.reads.documents, ids)
        others = [document_id for document_id, doc in documents.items() if doc["account_id"] != account_id]
        shares = await shares_to(self.reads.sharing, others, account_id)
        rows = await version_rows(self.reads.documents, [p for p in pairs if p[0] in documents])

        async def answer(document_id: str, version: int) -> dict[str, Any]:
            item: dict[str, Any] = {"document_id": document_id, "version": version, "state": "none"}
            try:
                found = access_to(documents.get(document_id), shares.get(document_id), account_id, document_id)
                row = rows.get((document_id, version))
                image = previews.image_to_serve(row, size)
            except previews.PreviewPending:
                return item | {"state": previews.PENDING}
            except (NoAccess, previews.PreviewNotFound):
                return item
            if row is None or not previews.belongs_to(image["key"], found.document["account_id"], document_id, version):
                return item
            return item | await self._signed(row["bucket"], image)

        signed = {pair: await answer(*pair) for pair in pairs}
        return [dict(signed[(document_id, version)]) for document_id, version in wanted]

    async def _signed(self, bucket: str, image: dict[str, Any]) -> dict[str, Any]:
        expires_at = datetime.now(UTC) + timedelta(seconds=self.url_seconds)
        url = await self.sign(
            bucket=bucket, key=image["key"], content_type=image["content_type"], expires_in=self.url_seconds
        )
        return {
            "state": previews.READY,
            "url": url,
            "expires_at": expires_at,
            "width": image["width"],
            "height": image["height"],
            "content_type": image["content_type"],
        }

    async def link_thumbnail(self, document_id: str, version: int, *, expires_in: int = 120) -> str | None:
        """A signed GET of the small preview of a version a public link gives, for the link's page;
        None when it has none (yet). The caller (the link's resolve, after every check of the link
        and only for a link without a password) is the permission check."""
        document = await self.reads.documents.get(document_id)
        row = await self.reads.documents.version(document_id, version)
        preview = (row or {}).get("preview") or {}
        image = preview.get("small") if preview.get("state") == previews.READY else None
        if document is None or row is None or not image:
            return None
        if not previews.belongs_to(image["key"], document["account_id"], document_id, version):
            return None
        return await self.sign(
            bucket=row["bucket"],
            key=image["key"],
            content_type=image["content_type"],
            expires_in=min(expires_in, self.url_seconds),
        )
