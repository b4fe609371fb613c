"""In-memory repositories for use-case tests on `FakeUnitOfWork` (no servers).

Each keeps what MongoDB would, in dicts, and answers the same methods as its adapter in
`docstore_metadata.adapters` (only those the use cases call)."""

from __future__ import annotations

import copy
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from docstore_messaging.unit_of_work import FakeUnitOfWork
from docstore_metadata.adapters.account_projection import Owners
from docstore_metadata.adapters.repositories import Repositories
from docstore_metadata.domain import folders as folder_rules
from docstore_metadata.service_layer.documents import Documents, Limits
from docstore_metadata.service_layer.folders import FolderLimits, Folders
from docstore_metadata.service_layer.sharing import Sharing

Doc = dict[str, Any]


class InMemoryAccounts:
    """The accounts service as `Owners` asks it (`adapters/accounts_client.py`), and a way to put an
    account in it (`sign_up`: what a sign-up there leaves, without its event)."""

    def __init__(self) -> None:
        self.rows: dict[str, Doc] = {}
        self.addresses: dict[str, str] = {}
        """account id -> its address (kept apart: the service's answers carry none)."""

    async def sign_up(self, *, username: str, email: str, password: str, plan: str) -> Any:
        if any(row["username"] == username for row in self.rows.values()):
            raise ValueError(f"username {username} taken")
        account_id = str(uuid.uuid4())
        self.rows[account_id] = {
            "_id": account_id,
            "username": username,
            "plan": plan,
            "home_region": "here",
            "email_verified": True,
            "status": "active",
        }
        self.addresses[account_id] = email
        return SimpleNamespace(id=account_id, username=username, email=email, plan=plan)

    async def by_email(self, address: str) -> Doc | None:
        """As `POST /internal/people/by-email`: an active account whose address, verified, is
        `address` in any case."""
        for account_id, held in self.addresses.items():
            row = self.rows[account_id]
            if held.casefold() == address.strip().casefold() and row["email_verified"] and row["status"] == "active":
                return copy.deepcopy(row)
        return None

    async def by_username(self, username: str) -> Doc | None:
        return next((copy.deepcopy(r) for r in self.rows.values() if r["username"] == username), None)

    async def by_id(self, account_id: str) -> Doc | None:
        return copy.deepcopy(self.rows.get(account_id))

    async def plan_of(self, account_id: str) -> str:
        return str(self.rows.get(account_id, {}).get("plan") or "free")

    async def update(self, account_id: str, changes: Mapping[str, Any]) -> None:
        self.rows[account_id].update(changes)


class InMemoryProjection:
    """Metadata's projection of accounts (`adapters/account_projection.py`)."""

    def __init__(self) -> None:
        self.rows: dict[str, Doc] = {}

    async def apply(self, account_id: str, changes: Mapping[str, Any], on_insert: Mapping[str, Any]) -> None:
        row = self.rows.get(account_id)
        if row is None:
            row = self.rows[account_id] = {"_id": account_id, **on_insert}
        row.update(changes)

    async def by_id(self, account_id: str) -> Doc | None:
        return copy.deepcopy(self.rows.get(account_id))

    async def by_username(self, username: str) -> Doc | None:
        return next((copy.deepcopy(r) for r in self.rows.values() if r.get("username") == username), None)

    async def of(self, account_ids: set[str]) -> list[Doc]:
        return [copy.deepcopy(r) for r in self.rows.values() if r["_id"] in account_ids]

    async def deleted_since(self, since: Any) -> list[Doc]:
        return [
            {"_id": r["_id"], "deleted_at": r["deleted_at"]}
            for r in self.rows.values()
            if r.get("deleted_at") and r["deleted_at"] >= since
        ]


class InMemoryDocuments:
    def __init__(self) -> None:
        self.rows: dict[str, Doc] = {}
        self.versions: dict[str, Doc] = {}
        self.changes: list[Doc] = []
        self.garbage: dict[str, Doc] = {}
        self.calls: Counter[str] = Counter()
        """Calls of the methods that stand for round trips a batch should not repeat per event."""

    async def get(self, document_id: str) -> Doc | None:
        return copy.deepcopy(self.rows.get(document_id))

    async def owned(self, account_id: str, document_id: str) -> Doc | None:
        found = self.rows.get(document_id)
        return copy.deepcopy(found) if found and found["account_id"] == account_id else None

    async def insert_document(self, document: Mapping[str, Any]) -> None:
        self.calls["insert_document"] += 1
        assert document["_id"] not in self.rows
        self.rows[document["_id"]] = dict(document)

    async def update_document(self, document_id: str, changes: Mapping[str, Any]) -> None:
        self.rows[document_id].update(changes)

    async def update_documents(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        self.calls["update_documents"] += 1
        for document_id, fields in changes.items():
            self.rows[document_id].update(fields)

    async def delete_document(self, document_id: str) -> bool:
        return self.rows.pop(document_id, None) is not None

    async def insert_version(self, version: Mapping[str, Any]) -> None:
        assert version["_id"] not in self.versions
        self.versions[version["_id"]] = dict(version)

    async def live_named(self, account_id: str, places: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        self.calls["live_named"] += 1
        wanted = set(places)
        return {
            (row.get("path", "/"), row["name"]): row["_id"]
            for row in self.rows.values()
            if row["account_id"] == account_id
            and not row.get("trashed")
            and (row.get("path", "/"), row["name"]) in wanted
        }

    async def get_many(self, document_ids: Sequence[str]) -> dict[str, Doc]:
        self.calls["get_many"] += 1
        return {i: copy.deepcopy(self.rows[i]) for i in document_ids if i in self.rows}

    async def insert_new(self, documents: Sequence[Mapping[str, Any]], versions: Sequence[Mapping[str, Any]]) -> None:
        self.calls["insert_new"] += 1
        for version in versions:
            assert version["_id"] not in self.versions
            self.versions[version["_id"]] = dict(version)
        for document in documents:
            assert document["_id"] not in self.rows
            self.rows[document["_id"]] = dict(document)

    async def versions_of(self, document_id: str, *, skip: int = 0, limit: int | None = None) -> list[Doc]:
        rows = [dict(v) for v in self.versions.values() if v["document_id"] == document_id]
        ordered = sorted(rows, key=lambda v: -v["version"])[skip:]
        return ordered if limit is None else ordered[:limit]

    async def version(self, document_id: str, version: int) -> Doc | None:
        return copy.deepcopy(self.versions.get(f"{document_id}:{version}"))

    async def delete_versions(self, document_id: str, numbers: list[int]) -> None:
        for number in numbers:
            self.versions.pop(f"{document_id}:{number}", None)

    async def versions_of_objects(self, objects: Sequence[tuple[str, str]], *, excluding: str) -> list[Doc]:
        wanted = set(objects)
        return [
            dict(v)
            for v in self.versions.values()
            if v["document_id"] != excluding and (v["bucket"], v["key"]) in wanted
        ]

    async def live_documents(self, account_id: str) -> list[Doc]:
        return [dict(d) for d in self.rows.values() if d["account_id"] == account_id and not d.get("trashed")]

    async def add_garbage(self, objects: list[tuple[str, str]]) -> None:
        for bucket, key in objects:
            self.garbage[f"{bucket}/{key}"] = {"_id": f"{bucket}/{key}", "bucket": bucket, "key": key}

    async def claim_expired(self, cutoff: datetime, *, claimant: str, lease: timedelta) -> Doc | None:
        now = datetime.now(UTC)
        for row in self.rows.values():
            if row.get("trashed") and row["trashed_at"] < cutoff and row["purge_claimed_at"] < now - lease:
                row.update(purge_claimed_at=now, purge_claimed_by=claimant)
                return dict(row)
        return None

    async def add_change(self, change: Mapping[str, Any]) -> int:
        self.calls["add_change"] += 1
        seq = 1 + sum(1 for c in self.changes if c["account_id"] == change["account_id"])
        self.changes.append({"seq": seq, **change})
        return seq

    async def add_changes(self, changes: Sequence[Mapping[str, Any]]) -> list[int]:
        self.calls["add_changes"] += 1
        seqs = []
        for change in changes:
            seq = 1 + sum(1 for c in self.changes if c["account_id"] == change["account_id"])
            self.changes.append({"seq": seq, **change})
            seqs.append(seq)
        return seqs

    async def changes_since(self, account_id: str, cursor: int, limit: int) -> list[Doc]:
        return [c for c in self.changes if c["account_id"] == account_id and c["seq"] > cursor][:limit]


class InMemorySharing:
    def __init__(self) -> None:
        self.shares: dict[str, Doc] = {}
        self.follows: dict[str, Doc] = {}
        self.lookups: Counter[str] = Counter()

    async def contacts_of(self, account_id: str, limit: int = 1000) -> set[str]:
        mine = {s["grantee_id"] for s in self.shares.values() if s["owner_id"] == account_id}
        theirs = {s["owner_id"] for s in self.shares.values() if s["grantee_id"] == account_id}
        return mine | theirs

    async def count_lookup(self, account_id: str, window: int) -> int:
        self.lookups[f"{account_id}:{window}"] += 1
        return self.lookups[f"{account_id}:{window}"]

    async def lookups_in(self, account_id: str, window: int) -> int:
        return self.lookups[f"{account_id}:{window}"]

    async def share(self, document_id: str, owner_id: str, grantee_id: str, permission: str) -> bool:
        key = f"{document_id}:{grantee_id}"
        new = key not in self.shares
        self.shares.setdefault(key, {"document_id": document_id, "owner_id": owner_id, "grantee_id": grantee_id})
        self.shares[key]["permission"] = permission
        return new

    async def unshare(self, document_id: str, grantee_id: str) -> bool:
        return self.shares.pop(f"{document_id}:{grantee_id}", None) is not None

    async def share_of(self, document_id: str, grantee_id: str) -> Doc | None:
        return self.shares.get(f"{document_id}:{grantee_id}")

    async def follow(self, document_id: str, owner_id: str, follower_id: str) -> bool:
        key = f"{follower_id}:{document_id}"
        new = key not in self.follows
        self.follows.setdefault(key, {"document_id": document_id, "owner_id": owner_id, "follower_id": follower_id})
        return new

    async def unfollow(self, document_id: str, follower_id: str) -> bool:
        return self.follows.pop(f"{follower_id}:{document_id}", None) is not None


class InMemoryDeletion:
    """What deleting an account reads and writes beyond the other repositories (none kept here:
    the use-case tests of deletion run on the real servers)."""

    async def shares_touching(self, account_id: str) -> list[Doc]:
        return []

    async def follows_touching(self, account_id: str) -> list[Doc]:
        return []


class InMemoryFolders:
    """`adapters/folders.py`: folder rows, folder jobs, and the document ranges jobs rewrite
    (read from the documents fake's rows)."""

    def __init__(self, documents: InMemoryDocuments) -> None:
        self.rows: dict[str, Doc] = {}
        self.jobs: dict[str, Doc] = {}
        self.docs = documents

    async def get(self, account_id: str, folder_id: str) -> Doc | None:
        found = self.rows.get(folder_id)
        return copy.deepcopy(found) if found and found["account_id"] == account_id else None

    async def live_at(self, account_id: str, paths: Sequence[str]) -> dict[str, Doc]:
        return {
            r["path"]: copy.deepcopy(r)
            for r in self.rows.values()
            if r["account_id"] == account_id and not r["trashed"] and r["path"] in set(paths)
        }

    async def live_named(self, account_id: str, places: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        return {
            (r["parent"], r["name"]): r["_id"]
            for r in self.rows.values()
            if r["account_id"] == account_id and not r["trashed"] and (r["parent"], r["name"]) in set(places)
        }

    async def ensure_paths(self, account_id: str, paths: Sequence[str], now: datetime) -> list[Doc]:
        wanted = sorted({f for p in paths for f in folder_rules.ancestors(p)})
        have = await self.live_at(account_id, wanted)
        made = [folder_rules.folder_row(account_id, p, now) for p in wanted if p not in have]
        for row in made:
            self.rows[row["_id"]] = row
        return made

    async def insert(self, row: Mapping[str, Any]) -> None:
        self.rows[row["_id"]] = dict(row)

    async def children(
        self, account_id: str, parent: str | None, *, trashed: bool, after: str | None, limit: int
    ) -> list[Doc]:
        rows = [
            r
            for r in self.rows.values()
            if r["account_id"] == account_id
            and r["trashed"] == trashed
            and (parent is None or r["parent"] == parent)
            and (after is None or r["sort_key"] > after)
            and (not trashed or r.get("trash_top"))
        ]
        return copy.deepcopy(sorted(rows, key=lambda r: r["sort_key"])[:limit])

    async def subtree(self, account_id: str, path: str, *, trashed: bool) -> list[Doc]:
        return [
            copy.deepcopy(r)
            for r in self.rows.values()
            if r["account_id"] == account_id and r["trashed"] == trashed and folder_rules.inside(r["path"], path)
        ]

    async def trashed_with(self, account_id: str, folder_id: str) -> list[Doc]:
        return [copy.deepcopy(r) for r in self.rows.values() if r.get("trashed_with") == folder_id]

    async def update_each(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        for folder_id, fields in changes.items():
            self.rows[folder_id].update(fields)

    async def delete_expired(self, cutoff: datetime, limit: int) -> int:
        expired = [
            i for i, r in self.rows.items() if r["trashed"] and r["trashed_at"] < cutoff and r.get("moving") is None
        ][:limit]
        for folder_id in expired:
            del self.rows[folder_id]
        return len(expired)

    async def busy_around(self, account_id: str, path: str) -> Doc | None:
        return next(
            (
                copy.deepcopy(r)
                for r in self.rows.values()
                if r["account_id"] == account_id
                and r.get("moving")
                and (folder_rules.inside(path, r["path"]) or folder_rules.inside(r["path"], path))
            ),
            None,
        )

    def _below(self, account_id: str, path: str) -> list[Doc]:
        return [
            r
            for r in self.docs.rows.values()
            if r["account_id"] == account_id and not r["trashed"] and folder_rules.inside(r["path"], path)
        ]

    async def documents_below(self, account_id: str, path: str, limit: int) -> list[Doc]:
        return copy.deepcopy(self._below(account_id, path)[:limit])

    async def documents_trashed_with(self, account_id: str, folder_id: str, limit: int) -> list[Doc]:
        rows = [r for r in self.docs.rows.values() if r.get("trashed_with") == folder_id]
        return copy.deepcopy(rows[:limit])

    async def count_below(self, account_id: str, path: str) -> int:
        return len(self._below(account_id, path))

    async def set_documents(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        for document_id, fields in changes.items():
            self.docs.rows[document_id].update(fields)

    async def add_job(self, job: Mapping[str, Any]) -> None:
        self.jobs[job["_id"]] = dict(job)

    async def job(self, job_id: str) -> Doc | None:
        return copy.deepcopy(self.jobs.get(job_id))

    async def end_job(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    async def claim_job(self, job_id: str | None, *, claimant: str, now: datetime, lease: timedelta) -> Doc | None:
        for job in self.jobs.values():
            if (job_id is None or job["_id"] == job_id) and job["claimed_at"] < now - lease:
                job.update(claimed_at=now, claimed_by=claimant)
                return copy.deepcopy(job)
        return None

    async def renew_job(self, job_id: str, claimant: str, now: datetime) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job["claimed_by"] != claimant:
            return False
        job["claimed_at"] = now
        return True


@dataclass
class World:
    """The use cases of one region ("here") on in-memory repositories, and what they signalled."""

    uow: FakeUnitOfWork[Repositories]
    repos: Any
    accounts: InMemoryAccounts
    """The accounts service `Owners` asks (tests put accounts there with `sign_up`)."""
    documents: Documents
    sharing: Sharing
    folders: Folders
    woken: list[str] = field(default_factory=list)


@pytest.fixture
def world() -> World:
    documents = InMemoryDocuments()
    accounts = InMemoryAccounts()
    projection = InMemoryProjection()
    fakes: dict[str, Any] = {
        "projection": projection,
        "owners": Owners(projection, accounts),  # type: ignore[arg-type]
        "documents": documents,
        "folders": InMemoryFolders(documents),
        "sharing": InMemorySharing(),
        "deletion": InMemoryDeletion(),
    }
    repos: Any = Repositories(**fakes)
    uow: FakeUnitOfWork[Repositories] = FakeUnitOfWork(repos)
    woken: list[str] = []
    limits = Limits(version_caps={"free": 3, "premium": 100}, trash_retention=timedelta(days=30))
    return World(
        uow=uow,
        repos=repos,
        accounts=accounts,
        documents=Documents(uow, repos, limits, garbage_written=lambda: woken.append("garbage")),
        sharing=Sharing(uow, repos, region="here"),
        folders=Folders(uow, repos, FolderLimits(batch=3, wait_seconds=5), claimant="here-1"),
        woken=woken,
    )
