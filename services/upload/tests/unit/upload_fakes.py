"""In-memory stand-ins for upload's repositories and ports, and `world()`, which builds the use
cases on a `FakeUnitOfWork` over them (no servers)."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from docstore_messaging.unit_of_work import FakeUnitOfWork
from docstore_upload.adapters.metadata_client import MetadataUnavailable
from docstore_upload.adapters.repositories import Repositories
from docstore_upload.adapters.sessions import LATE_WRITE_MARGIN
from docstore_upload.bootstrap import UploadUseCases, upload_use_cases
from docstore_upload.domain.grants import CurrentDocument, Grant, Limits, Reservation, StoredBytes
from docstore_upload.domain.sessions import COMPLETED, PENDING, CheckedObject, Session, StoredObject, StoredPart
from docstore_upload.service_layer.batch_completion import BatchCompletion
from docstore_upload.service_layer.batch_grants import BatchGrants
from docstore_upload.service_layer.checks import Checks
from docstore_upload.service_layer.completion import Completion
from docstore_upload.service_layer.endings import Endings
from docstore_upload.service_layer.grants import Grants

OWNER, EDITOR, DOC = "acc-owner", "acc-editor", "doc-1"
BUCKET = "docstore-us-west-2"
LIMITS = Limits(grant_seconds=900, multipart_threshold=10**8, multipart_part=16 * 2**20, multipart_seconds=86400)


class InMemorySessions:
    """`UploadSessions` over a dict, with the same conditional state changes; reads return copies."""

    def __init__(self, *rows: Session) -> None:
        self.rows: dict[str, Session] = {row["_id"]: dict(row) for row in rows}
        self.finished: list[tuple[str, str, dict[str, Any]]] = []
        self.sha256_queries = 0

    async def add(self, grant: Grant, **extra: Any) -> None:
        row = asdict(grant)
        row["_id"] = row.pop("upload_id")
        now = datetime.now(UTC)
        self.rows[row["_id"]] = {**row, **extra, "status": PENDING, "created_at": now, "next_check_at": now}

    async def add_many(self, grants: list[tuple[Grant, dict[str, Any]]]) -> None:
        for grant, extra in grants:
            await self.add(grant)
            self.rows[grant.upload_id].update(extra)

    async def get_many(self, actor_id: str, upload_ids: list[str]) -> dict[str, Session]:
        found = {u: await self.get(actor_id, u) for u in upload_ids}
        return {u: row for u, row in found.items() if row is not None}

    async def complete_many(self, facts: dict[str, tuple[Session, dict[str, Any]]]) -> list[str]:
        return [u for u, (_, stored) in facts.items() if await self.finish(u, COMPLETED, stored=stored)]

    async def get(self, actor_id: str, upload_id: str) -> Session | None:
        row = self.rows.get(upload_id)
        return copy.deepcopy(row) if row is not None and row.get("actor_id") == actor_id else None

    async def by_id(self, upload_id: str) -> Session | None:
        return copy.deepcopy(self.rows.get(upload_id))

    async def pending_of(self, account_id: str) -> list[Session]:
        return [
            copy.deepcopy(r)
            for r in self.rows.values()
            if r["status"] == PENDING and account_id in (r["account_id"], r.get("actor_id"))
        ]

    async def by_key(self, key: str) -> Session | None:
        found = next((r for r in self.rows.values() if r["key"] == key), None) or next(
            (r for r in self.rows.values() if r.get("staging_key") == key), None
        )
        return copy.deepcopy(found)

    async def finish(self, upload_id: str, status: str, **fields: Any) -> bool:
        row = self.rows.get(upload_id)
        if row is None or row["status"] != PENDING:
            return False
        now = datetime.now(UTC)
        if row.get("staging_key") or (row.get("pinned_sha256") and status != COMPLETED):
            fields = {"late_check_at": max(row["expires_at"], now) + LATE_WRITE_MARGIN, **fields}
        row.update(status=status, finished_at=now, **fields)
        self.finished.append((upload_id, status, fields))
        return True

    async def completed_sha256s(self, account_id: str, sha256s: list[str]) -> set[str]:
        self.sha256_queries += 1
        return {
            r["stored"]["sha256"]
            for r in self.rows.values()
            if r["account_id"] == account_id
            and r["status"] == COMPLETED
            and r.get("stored", {}).get("sha256") in sha256s
        }

    async def claim_late_check(self) -> Session | None:
        now = datetime.now(UTC)
        due = sorted(
            (r for r in self.rows.values() if r.get("late_check_at") and r["late_check_at"] <= now),
            key=lambda r: r["late_check_at"],
        )
        if not due:
            return None
        claimed = copy.deepcopy(due[0])
        del due[0]["late_check_at"]
        return claimed

    async def claim_chunk_map_check(self, now: datetime, every: timedelta) -> Session | None:
        due = sorted(
            (r for r in self.rows.values() if r.get("chunks_check_at") and r["chunks_check_at"] <= now),
            key=lambda r: r["chunks_check_at"],
        )
        if not due:
            return None
        due[0]["chunks_check_at"] = now + every
        return copy.deepcopy(due[0])

    async def drop_chunk_map(self, upload_id: str) -> None:
        for name in ("chunks", "chunks_verified", "chunks_check_at"):
            self.rows[upload_id].pop(name, None)

    async def mark_joined(self, upload_id: str, verify_lease: timedelta) -> Session | None:
        row = self.rows.get(upload_id)
        if row is None or row["status"] != PENDING:
            return None
        now = datetime.now(UTC)
        row.update(joined_at=now, next_check_at=now + verify_lease)
        return copy.deepcopy(row)

    async def claim_due(self, lease: timedelta) -> Session | None:
        now = datetime.now(UTC)
        due = sorted(
            (r for r in self.rows.values() if r["status"] == PENDING and r["next_check_at"] <= now),
            key=lambda r: r["next_check_at"],
        )
        if not due:
            return None
        due[0]["next_check_at"] = now + lease
        return copy.deepcopy(due[0])


class FakeStorage:
    """The bucket as a dict of key -> bytes, with multipart uploads as dicts of parts."""

    bucket = BUCKET

    def __init__(self, existing: set[str] | None = None) -> None:
        self.objects: dict[str, bytes] = {key: b"" for key in existing or ()}
        self.multipart: dict[str, dict[int, bytes]] = {}
        self.deleted: list[str] = []
        self.aborted: list[str] = []
        self.copied: list[tuple[str, str]] = []
        self.keeps_checksums = True
        """As S3 with a checksum sent on write: HEAD (`checked`) reports each object's sha256."""
        self.heads = 0
        self.reads = 0

    def put(self, key: str, data: bytes) -> None:
        self.objects[key] = data

    async def checked(self, key: str) -> CheckedObject | None:
        self.heads += 1
        data = self.objects.get(key)
        if data is None:
            return None
        sha256 = hashlib.sha256(data).hexdigest() if self.keeps_checksums else None
        return CheckedObject(len(data), hashlib.md5(data).hexdigest(), sha256)

    def put_url(self, grant: Grant, *, expires_in: int) -> dict[str, Any] | None:
        if grant.pinned_sha256 is None:
            return None
        return {"url": f"https://s3.example/{self.bucket}/{grant.key}", "headers": {"x-amz-checksum-sha256": "..."}}

    def post_form(
        self, grant: Grant, *, max_size: int, expires_in: int, redirect_url: str | None = None
    ) -> dict[str, Any]:
        fields = {"key": grant.staging_key or grant.key}
        if redirect_url:
            fields["success_action_redirect"] = redirect_url
        return {"url": f"https://s3.example/{self.bucket}", "fields": fields}

    async def start_multipart(self, grant: Grant) -> str:
        s3_upload_id = f"s3-{grant.upload_id}"
        self.multipart[s3_upload_id] = {}
        return s3_upload_id

    def part_urls(self, key: str, s3_upload_id: str, numbers: list[int], *, expires_in: int) -> dict[int, str]:
        return {n: f"https://s3.example/{key}?part={n}" for n in numbers}

    async def stored_parts(self, key: str, s3_upload_id: str) -> list[StoredPart] | None:
        parts = self.multipart.get(s3_upload_id)
        if parts is None:
            return None
        return [StoredPart(n, len(data), hashlib.md5(data).hexdigest()) for n, data in sorted(parts.items())]

    async def finish_multipart(self, key: str, s3_upload_id: str, parts: list[StoredPart]) -> None:
        stored = self.multipart.pop(s3_upload_id)
        self.objects[key] = b"".join(stored[p.number] for p in parts)

    async def abort_multipart(self, key: str, s3_upload_id: str) -> None:
        self.aborted.append(s3_upload_id)
        self.multipart.pop(s3_upload_id, None)

    async def exists(self, key: str) -> bool:
        return key in self.objects

    async def stored(self, key: str, chunk_lengths: list[int] | None = None) -> StoredObject | None:
        self.reads += 1
        data = self.objects.get(key)
        if data is None:
            return None
        chunks, offset = [], 0
        for length in chunk_lengths or []:
            chunks.append(hashlib.sha256(data[offset : offset + length]).hexdigest())
            offset += length
        return StoredObject(
            size=len(data),
            etag=hashlib.md5(data).hexdigest(),
            sha256=hashlib.sha256(data).hexdigest(),
            chunk_sha256s=tuple(chunks),
        )

    async def copy_whole(self, source: str, target: str, size: int) -> bool:
        return await self.copy(source, target)

    async def head(self, key: str) -> tuple[int, str] | None:
        data = self.objects.get(key)
        return None if data is None else (len(data), hashlib.md5(data).hexdigest())

    async def copy_part(self, key: str, s3_upload_id: str, number: int, source: str, first: int, last: int) -> bool:
        if source not in self.objects or s3_upload_id not in self.multipart:
            return False
        self.copied.append((f"{source}[{first}-{last}]", f"{key}#{number}"))
        self.multipart[s3_upload_id][number] = self.objects[source][first : last + 1]
        return True

    async def copy(self, source: str, target: str) -> bool:
        if source not in self.objects:
            return False
        self.copied.append((source, target))
        self.objects[target] = self.objects[source]
        return True

    async def delete(self, key: str) -> None:
        self.deleted.append(key)
        self.objects.pop(key, None)

    async def delete_many(self, keys: list[str]) -> None:
        for key in keys:
            await self.delete(key)


class FakeQuota:
    def __init__(self, answer: Reservation | None = None, *, room: int | None = None) -> None:
        self.answer = answer or Reservation(True, 10**9, 10**9, False, "free")
        self.room = room
        self.batches: list[tuple[str, list[str]]] = []
        self.reserved: list[tuple[str, str, int, datetime]] = []
        self.released: list[tuple[str, str]] = []

    async def reserve(self, account_id: str, upload_id: str, size: int, expires_at: datetime) -> Reservation:
        self.reserved.append((account_id, upload_id, size, expires_at))
        return self.answer

    async def reserve_many(self, account_id: str, items: list[tuple[str, int, datetime]]) -> dict[str, Reservation]:
        """Decided in order against `room` when set (as quota does), else `answer` for each."""
        self.batches.append((account_id, [upload_id for upload_id, _, _ in items]))
        answers = {}
        for upload_id, size, expires_at in items:
            self.reserved.append((account_id, upload_id, size, expires_at))
            if self.room is None:
                answers[upload_id] = self.answer
                continue
            fits = size <= self.room
            answers[upload_id] = Reservation(fits, self.room, self.room, False, "free")
            self.room -= size if fits else 0
        return answers

    async def release(self, account_id: str, upload_id: str) -> None:
        self.released.append((account_id, upload_id))


class FakeMetadata:
    """Answers as metadata would: the document when `account_id` may write it, else None."""

    def __init__(
        self,
        writers: dict[str, CurrentDocument | None] | None = None,
        *,
        down: bool = False,
        stored: dict[tuple[str, str], StoredBytes] | None = None,
    ) -> None:
        self.writers = writers or {}
        self.down = down
        self.asked: list[tuple[str, str]] = []
        self.stored = stored or {}
        """(account, sha256) -> a version of that account's own documents with those bytes."""
        self.bytes_asked: list[tuple[str, str]] = []
        self.names: set[tuple[str, str, str]] = set()
        """(account, folder, name) of live documents, for `taken`."""

    async def taken(self, account_id: str, places: list[tuple[str, str]]) -> set[tuple[str, str]]:
        if self.down:
            raise MetadataUnavailable("metadata timed out")
        return {(path, name) for path, name in places if (account_id, path, name) in self.names}

    async def document(self, account_id: str, document_id: str) -> CurrentDocument | None:
        self.asked.append((account_id, document_id))
        if self.down:
            raise MetadataUnavailable("metadata timed out")
        return self.writers.get(account_id)

    async def stored_bytes(self, account_id: str, sha256: str) -> StoredBytes | None:
        """As metadata answers: only the asking account's own bytes are ever found."""
        self.bytes_asked.append((account_id, sha256))
        return self.stored.get((account_id, sha256))


def current(*, trashed: bool = False, version: int = 1) -> CurrentDocument:
    return CurrentDocument(
        document_id=DOC, owner_id=OWNER, current_version=version, name="a.txt", path="/", trashed=trashed
    )


def session_row(**fields: Any) -> Session:
    """A pending form upload of OWNER's, as stored."""
    key = f"us-west-2/{OWNER}/{DOC}/up-1"
    now = datetime.now(UTC)
    return {
        "_id": "up-1",
        "account_id": OWNER,
        "actor_id": OWNER,
        "document_id": DOC,
        "key": key,
        "staging_key": f"staging/{key}",
        "base_version": None,
        "status": PENDING,
        "declared_size": 4,
        "filename": "a.txt",
        "content_type": "text/plain",
        "title": None,
        "tags": [],
        "path": "/",
        "expires_at": now + timedelta(minutes=15),
        "next_check_at": now,
        **fields,
    }


@dataclass
class World:
    use_cases: UploadUseCases
    uow: FakeUnitOfWork[Repositories]
    sessions: InMemorySessions
    storage: FakeStorage
    quota: FakeQuota
    metadata: FakeMetadata

    @property
    def grants(self) -> Grants:
        return self.use_cases.grants

    @property
    def batch_grants(self) -> BatchGrants:
        return self.use_cases.batch_grants

    @property
    def completion(self) -> Completion:
        return self.use_cases.completion

    @property
    def batch_completion(self) -> BatchCompletion:
        return self.use_cases.batch_completion

    @property
    def endings(self) -> Endings:
        return self.use_cases.endings

    @property
    def checks(self) -> Checks:
        return self.use_cases.checks


def world(
    *rows: Session,
    storage: FakeStorage | None = None,
    quota: FakeQuota | None = None,
    metadata: FakeMetadata | None = None,
) -> World:
    """The use cases over fakes, the session store holding `rows`."""
    sessions = InMemorySessions(*rows)
    repos = Repositories(sessions=sessions)
    uow = FakeUnitOfWork(repos)
    storage, quota, metadata = storage or FakeStorage(), quota or FakeQuota(), metadata or FakeMetadata()
    use_cases = upload_use_cases(
        uow,
        repos,
        storage,
        quota,
        metadata,
        region="us-west-2",
        limits=LIMITS,
        redirect_base="https://docstore.example",
        redirect_secret="s3cr3t",
    )
    return World(use_cases, uow, sessions, storage, quota, metadata)
