"""Folder use cases: create, list, rename/move, trash and restore a folder as a whole.

A folder operation is two parts (README "Folders"):

1. **One short transaction** changes the folder rows (the folder and the folders inside it: few),
   writes a job row (`folder_jobs`), the folder's event (`folder.*`) and its one change-feed
   entry. From then on the folder is where it was asked to be, and every listing of folders shows it.
2. **The documents follow in batches**, each its own short transaction
   (`FolderLimits.batch`, 200): a batch reads the live documents still under the old path (an
   index range), rewrites their `path` (or trash flags) and emits each one's `file.*` event (the
   indexer's path filter, quota's trash flags stay right), carrying `folder_id` so the audit
   trail keeps the folder's one record. No lock is held between batches, so the owner's other
   requests go on; the request waits for the rewrite up to `FolderLimits.wait_seconds` and
   answers with `moving` set when it is still going; any replica's loop resumes a job whose
   claim lapsed (a process that died mid-way).

While a job runs, the folder (and every folder around it) refuses another move, trash or
restore with 409 `folder-busy`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from docstore_events import FileDetailsChanged, FileRestored, FileTrashed
from docstore_events.folders import FolderCreated, FolderMoved, FolderRestored, FolderTrashed
from docstore_kit.pagination import InvalidCursor, decode_cursor, encode_cursor
from docstore_messaging.unit_of_work import Transaction, UnitOfWork
from docstore_metadata.adapters.repositories import Repositories
from docstore_metadata.domain import folders as rules
from docstore_metadata.domain.documents import (
    TrashExpired,
    change_entry,
    check_name,
    check_path,
    numbered,
    trashed,
)
from docstore_metadata.domain.folders import (
    FolderBusy,
    FolderInTrash,
    FolderNotFound,
    FolderNotInTrash,
    NameClash,
    NothingAt,
    folder_row,
    join,
    moved_fields,
    rebase,
)

Tx = Transaction[Repositories]
Doc = dict[str, Any]
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FolderLimits:
    trash_retention: timedelta = timedelta(days=30)
    batch: int = 200
    """Documents rewritten per transaction (short ones: a long one conflicts with the owner's
    other writes on a loaded SecantusDB, bench/folders.py)."""
    retries: int = 8
    """A failing batch is tried again this many times in a row before the job waits for the
    resume loop."""
    wait_seconds: float = 20.0
    """How long a request waits for its documents to follow before answering with `moving`."""
    lease: timedelta = timedelta(seconds=60)
    """A job whose claim is older than this is taken over by another replica's loop."""
    resume_interval: float = 5.0
    page_size_max: int = 200


async def name_holder(tx: Tx, account_id: str, parent: str, name: str) -> tuple[str, str] | None:
    """What holds `name` in `parent`: ("document" | "folder", id), or None."""
    place = (parent, name)
    document = (await tx.repos.documents.live_named(account_id, [place])).get(place)
    if document is not None:
        return "document", document
    folder = (await tx.repos.folders.live_named(account_id, [place])).get(place)
    return ("folder", folder) if folder is not None else None


async def free_name(tx: Tx, account_id: str, parent: str, wanted: str, *, own_id: str | None = None) -> str:
    """`wanted`, or the first of `wanted 2`, `wanted 3`... that nothing in `parent` holds."""
    n = 1
    name = wanted
    while (holder := await name_holder(tx, account_id, parent, name)) is not None and holder[1] != own_id:
        n += 1
        name = numbered(wanted, n)
    return name


async def refuse_clash(
    tx: Tx, account_id: str, parent: str, name: str, *, own_id: str | None, replaceable: bool
) -> tuple[str, str] | None:
    """None when `name` is free in `parent` (or held by `own_id`); else raises `NameClash`
    unless the caller handles it (`replaceable` = a document may replace the holder)."""
    holder = await name_holder(tx, account_id, parent, name)
    if holder is None or holder[1] == own_id:
        return None
    raise NameClash(
        parent,
        name,
        kind=holder[0],
        holder_id=holder[1],
        keep_both_name=await free_name(tx, account_id, parent, name),
        replaceable=replaceable and holder[0] == "document",
    )


@dataclass(frozen=True)
class Settled:
    """Where a clash left an item: the name it takes, and with `replace` the document holding
    that name which the item becomes the newest version of (`Documents.update_details`)."""

    name: str
    replaces: str | None = None


async def settle_clash(
    tx: Tx,
    account_id: str,
    parent: str,
    name: str,
    own_id: str | None,
    on_clash: str | None,
    *,
    replaceable: bool,
) -> Settled | None:
    """Where an item (`own_id`) goes in `parent` after the caller's choice on a clash: `name`
    when free, the numbered one for `keep_both`, `name` replacing the holder for `replace` (only
    a document over a document, `replaceable`; the caller makes the new version), None for
    `skip`; without a choice (or `replace` where it is not one) the clash is raised."""
    try:
        await refuse_clash(tx, account_id, parent, name, own_id=own_id, replaceable=replaceable)
        return Settled(name)
    except NameClash as clash:
        if on_clash == "skip":
            return None
        if on_clash == "keep_both":
            return Settled(clash.keep_both_name)
        if on_clash == "replace" and clash.replaceable:
            return Settled(name, replaces=clash.holder_id)
        raise


class Folders:
    def __init__(
        self, uow: UnitOfWork[Repositories], reads: Repositories, limits: FolderLimits, *, claimant: str
    ) -> None:
        self.uow = uow
        self.reads = reads
        self.limits = limits
        self.claimant = claimant
        self._tasks: set[asyncio.Task[None]] = set()

    # --- reads -----------------------------------------------------------------------

    async def get(self, account_id: str, folder_id: str) -> Doc:
        folder = await self.reads.folders.get(account_id, folder_id)
        if folder is None:
            raise FolderNotFound(folder_id)
        return folder

    async def at(self, account_id: str, path: str) -> Doc:
        """The live folder at `path`."""
        folder = (await self.reads.folders.live_at(account_id, [check_path(path)])).get(check_path(path))
        if folder is None:
            raise FolderNotFound(path)
        return folder

    async def what_is_at(self, account_id: str, path: str) -> tuple[Doc | None, Doc | None]:
        """What lives at `path`: (the live folder, None) or (None, the live document). One read
        when a folder is there, two otherwise; `NothingAt` (404) when neither is."""
        path = check_path(path)
        folder = (await self.reads.folders.live_at(account_id, [path])).get(path)
        if folder is not None:
            return folder, None
        document = None if path == rules.ROOT else await self.reads.documents.live_at(account_id, *rules.split(path))
        if document is None:
            raise NothingAt(path)
        return None, document

    async def children(
        self, account_id: str, path: str | None, *, trashed: bool, cursor: str | None, limit: int
    ) -> tuple[list[Doc], str | None]:
        """One page of `path`'s sub-folders by name (the trash's top folders with `trashed`)."""
        parent = None if trashed else check_path(path or "/")
        kind = "folders:trash" if trashed else f"folders:{parent}"
        after = None
        if cursor is not None:
            decoded = decode_cursor(cursor)
            if decoded.get("kind") != kind or not isinstance(decoded.get("after"), str):
                raise InvalidCursor("That position does not belong to this list of folders. Start again from the top.")
            after = decoded["after"]
        limit = min(limit, self.limits.page_size_max)
        rows = await self.reads.folders.children(account_id, parent, trashed=trashed, after=after, limit=limit + 1)
        items = rows[:limit]
        more = encode_cursor({"kind": kind, "after": items[-1]["sort_key"]}) if len(rows) > limit else None
        return items, more

    # --- create ------------------------------------------------------------------------

    async def create(self, account_id: str, parent: str, name: str) -> Doc:
        """A new empty folder `name` in `parent` (made, with its ancestors, when missing)."""
        parent, name = rules.check_new_place(parent, name)

        async def work(tx: Tx) -> Doc:
            await refuse_clash(tx, account_id, parent, name, own_id=None, replaceable=False)
            now = datetime.now(UTC)
            await tx.repos.folders.ensure_paths(account_id, [parent], now)
            row = folder_row(account_id, join(parent, name), now)
            await tx.repos.folders.insert(row)
            tx.emit(FolderCreated(account_id=account_id, folder_id=row["_id"], path=row["path"]))
            await tx.repos.documents.add_change(rules.change_entry("folder-created", row, now))
            return row

        return await self.uow.run(work)

    # --- move and rename ---------------------------------------------------------------

    async def _live(self, tx: Tx, account_id: str, folder_id: str) -> Doc:
        folder = await tx.repos.folders.get(account_id, folder_id)
        if folder is None:
            raise FolderNotFound(folder_id)
        if folder["trashed"]:
            raise FolderInTrash(folder["path"])
        return folder

    @staticmethod
    async def _not_busy(tx: Tx, account_id: str, *paths: str) -> None:
        for path in paths:
            busy = await tx.repos.folders.busy_around(account_id, path)
            if busy is not None:
                raise FolderBusy(busy["path"])

    async def move(
        self,
        account_id: str,
        folder_id: str,
        *,
        name: str | None = None,
        parent: str | None = None,
        on_clash: str | None = None,
    ) -> Doc:
        """Rename the folder and/or move it into `parent`, with everything inside. A clash is
        409 `NameClash`, or with `on_clash`: `keep_both` (a numbered name), `skip` (nothing
        changes); `replace` is no choice for a folder (a folder neither replaces nor is replaced)."""
        new_name = check_name(name) if name is not None else None
        new_parent = check_path(parent) if parent is not None else None
        # Counted before the transaction, which stays short (a count of 10,000 documents inside
        # it made it outlast the owner's concurrent writes to the change counter: WriteConflict).
        before = await self.reads.folders.get(account_id, folder_id)
        count = await self.reads.folders.count_below(account_id, before["path"]) if before else 0

        async def work(tx: Tx) -> tuple[Doc, str | None]:
            folder = await self._live(tx, account_id, folder_id)
            old = folder["path"]
            to_parent = new_parent if new_parent is not None else folder["parent"]
            to_name = new_name if new_name is not None else folder["name"]
            rules.check_move(old, to_parent)
            if join(to_parent, to_name) == old:
                return folder, None
            await self._not_busy(tx, account_id, old, to_parent)
            settled = await settle_clash(tx, account_id, to_parent, to_name, folder_id, on_clash, replaceable=False)
            if settled is None:
                return folder, None  # skip
            to_name = settled.name
            new = join(to_parent, to_name)
            now = datetime.now(UTC)
            await tx.repos.folders.ensure_paths(account_id, [to_parent], now)
            rows = await tx.repos.folders.subtree(account_id, old, trashed=False)
            changes = {row["_id"]: moved_fields(row, old, new) for row in rows}
            changes[folder_id] = {**changes[folder_id], "moving": {"kind": "move", "from": old, "to": new}}
            await tx.repos.folders.update_each(changes)
            folder.update(changes[folder_id])
            await self._add_job(tx, folder, "move", old, new, now)
            tx.emit(FolderMoved(account_id=account_id, folder_id=folder_id, from_path=old, path=new, documents=count))
            kind = "folder-renamed" if to_parent == rules.split(old)[0] else "folder-moved"
            await tx.repos.documents.add_change(rules.change_entry(kind, folder, now, from_path=old))
            return folder, folder_id

        folder, job = await self.uow.run(work)
        return await self._follow(account_id, folder, job)

    async def _add_job(self, tx: Tx, folder: Doc, kind: str, old: str, new: str, now: datetime) -> None:
        await tx.repos.folders.add_job(
            {
                "_id": folder["_id"],
                "kind": kind,
                "account_id": folder["account_id"],
                "folder_id": folder["_id"],
                "from": old,
                "to": new,
                "started_at": now,
                "claimed_at": now,
                "claimed_by": self.claimant,
            }
        )

    # --- trash and restore -----------------------------------------------------------------

    async def trash(self, account_id: str, folder_id: str) -> Doc:
        """The folder, the folders and the live documents inside, to the trash as one."""

        async def work(tx: Tx) -> tuple[Doc, str | None]:
            folder = await tx.repos.folders.get(account_id, folder_id)
            if folder is None:
                raise FolderNotFound(folder_id)
            if folder["trashed"]:
                return folder, None
            await self._not_busy(tx, account_id, folder["path"])
            now = datetime.now(UTC)
            rows = await tx.repos.folders.subtree(account_id, folder["path"], trashed=False)
            flags = {"trashed": True, "trashed_at": now, "trashed_with": folder_id}
            changes = {row["_id"]: {**flags, "trash_top": row["_id"] == folder_id} for row in rows}
            moving = {"kind": "trash", "from": folder["path"], "to": folder["path"]}
            changes[folder_id] = {**changes[folder_id], "moving": moving}
            await tx.repos.folders.update_each(changes)
            folder.update(changes[folder_id])
            await self._add_job(tx, folder, "trash", folder["path"], folder["path"], now)
            tx.emit(FolderTrashed(account_id=account_id, folder_id=folder_id, path=folder["path"]))
            await tx.repos.documents.add_change(rules.change_entry("folder-trashed", folder, now))
            return folder, folder_id

        folder, job = await self.uow.run(work)
        return await self._follow(account_id, folder, job)

    async def restore(self, account_id: str, folder_id: str) -> Doc:
        """A trashed folder back where it was (numbered when its name was taken meanwhile), with
        the folders and documents that went to the trash with it."""

        async def work(tx: Tx) -> tuple[Doc, str | None]:
            folder = await tx.repos.folders.get(account_id, folder_id)
            if folder is None:
                raise FolderNotFound(folder_id)
            if not folder["trashed"] or not folder.get("trash_top"):
                raise FolderNotInTrash(folder["path"])
            now = datetime.now(UTC)
            if folder["trashed_at"] <= now - self.limits.trash_retention:
                raise TrashExpired(folder_id)
            await self._not_busy(tx, account_id, folder["path"])
            old = folder["path"]
            name = await free_name(tx, account_id, folder["parent"], folder["name"])
            new = join(folder["parent"], name)
            await tx.repos.folders.ensure_paths(account_id, [folder["parent"]], now)
            rows = await tx.repos.folders.trashed_with(account_id, folder_id)
            flags = {"trashed": False, "trashed_at": None, "trashed_with": None, "trash_top": False}
            changes = {row["_id"]: {**flags, **moved_fields(row, old, new)} for row in rows}
            changes[folder_id] = {**changes[folder_id], "moving": {"kind": "restore", "from": old, "to": new}}
            await tx.repos.folders.update_each(changes)
            folder.update(changes[folder_id])
            await self._add_job(tx, folder, "restore", old, new, now)
            tx.emit(FolderRestored(account_id=account_id, folder_id=folder_id, path=new))
            await tx.repos.documents.add_change(rules.change_entry("folder-restored", folder, now, from_path=old))
            return folder, folder_id

        folder, job = await self.uow.run(work)
        return await self._follow(account_id, folder, job)

    # --- the documents follow ------------------------------------------------------------

    async def _follow(self, account_id: str, folder: Doc, job: str | None) -> Doc:
        """Run the job (if any) up to the wait, then the folder as it is now."""
        if job is None:
            return folder
        task = asyncio.ensure_future(self.run_job(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            await asyncio.wait_for(asyncio.shield(task), self.limits.wait_seconds)
        except TimeoutError:
            pass  # it goes on in the background: the answer says `moving`
        except Exception:  # noqa: BLE001 - the folder's own change committed: answer with it, `moving`
            log.exception("folder_job_left_to_resume", job_id=job)
        return await self.get(account_id, folder["_id"])

    async def run_job(self, job_id: str) -> None:
        """Batches until no document is left to rewrite, then the job ends (one transaction). A
        batch that fails (a write conflict with the owner's other requests on a loaded database,
        a dependency away) is tried again after a pause, up to `retries` times in a row; then the
        job is left to the resume loop of any replica, which takes it over once its claim lapsed."""
        failures = 0
        while True:
            try:
                if not await self.uow.run(lambda tx: self._step(tx, job_id)):
                    return
                failures = 0
            except Exception as error:  # noqa: BLE001 - the folder moved already; its documents follow later
                failures += 1
                log.warning("folder_job_batch_failed", job_id=job_id, failures=failures, error=str(error)[:200])
                if failures > self.limits.retries:
                    raise
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))

    async def _step(self, tx: Tx, job_id: str) -> int:
        """One batch of a job's documents; 0 when the job is over (or another replica holds it)."""
        job = await tx.repos.folders.job(job_id)
        if job is None or job.get("claimed_by") != self.claimant:
            return 0
        now = datetime.now(UTC)
        await tx.repos.folders.renew_job(job_id, self.claimant, now)
        account_id, folder_id, old, new = job["account_id"], job["folder_id"], job["from"], job["to"]
        folders = tx.repos.folders
        if job["kind"] == "restore":
            documents = await folders.documents_trashed_with(account_id, folder_id, self.limits.batch)
        else:
            documents = await folders.documents_below(account_id, old, self.limits.batch)
        if not documents:
            await folders.end_job(job_id)
            await folders.update_each({folder_id: {"moving": None}})
            return 0
        changes: dict[str, Mapping[str, Any]] = {}
        for document in documents:
            if job["kind"] == "move":
                change: dict[str, Any] = {"path": rebase(document["path"], old, new)}
            elif job["kind"] == "trash":
                change = {**trashed(now), "trashed_with": folder_id}
            else:
                change = {"trashed": False, "trashed_at": None, "trashed_with": None}
                if rules.inside(document["path"], old):
                    change["path"] = rebase(document["path"], old, new)
            changes[document["_id"]] = change
            document.update(change)
            await self._document_events(tx, job, document, now)
        await folders.set_documents(changes)
        return len(documents)

    @staticmethod
    async def _document_events(tx: Tx, job: Mapping[str, Any], document: Doc, now: datetime) -> None:
        account_id, folder_id = job["account_id"], job["folder_id"]
        kind = job["kind"]
        if kind in ("move", "restore") and (kind == "move" or job["from"] != job["to"]):
            tx.emit(
                FileDetailsChanged(
                    account_id=account_id,
                    document_id=document["_id"],
                    name=document["name"],
                    path=document["path"],
                    tags=document.get("tags", []),
                    folder_id=folder_id,
                )
            )
        if kind == "move" and max(document["created_at"], document["modified_at"]) >= job["started_at"]:
            # Recorded after the folder's entry: a client that took that entry does not know it
            # sits under the old path, so it gets its own.
            await tx.repos.documents.add_change(change_entry("moved", document, now))
        if kind == "trash":
            tx.emit(FileTrashed(account_id=account_id, document_id=document["_id"], folder_id=folder_id))
        if kind == "restore":
            tx.emit(FileRestored(account_id=account_id, document_id=document["_id"], folder_id=folder_id))

    async def resume_jobs(self) -> int:
        """Jobs whose claim lapsed (their process died), each claimed and carried on here."""
        resumed = 0
        while True:
            job = await self.reads.folders.claim_job(
                None, claimant=self.claimant, now=datetime.now(UTC), lease=self.limits.lease
            )
            if job is None:
                return resumed
            log.info("folder_job_resumed", job_id=job["_id"], kind=job["kind"])
            await self.run_job(job["_id"])
            resumed += 1

    async def run(self) -> None:
        """The background loop of every replica: resume abandoned jobs."""
        while True:
            try:
                await self.resume_jobs()
            except Exception:  # noqa: BLE001 - a loop must outlive one bad round
                log.exception("folder_jobs_round_failed")
            await asyncio.sleep(self.limits.resume_interval)

    async def drain(self) -> None:
        """Wait for the jobs this process started (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def purge_expired_folders(reads: Repositories, retention: timedelta, *, limit: int = 1000) -> int:
    """Folder rows trashed longer ago than `retention` (the folder trashed and the ones it took
    along), deleted for good: after the trash period a folder can no longer be restored
    (`Folders.restore` answers 410), and its documents are purged one by one by the documents'
    purge (a document restored alone later gets its folder made again). No event: downstream
    knows folders by the documents' own events, and every reader of the trash had
    `folder.trashed`. Outside any transaction; each delete repeats the filter, so replicas
    racing each other delete a row once."""
    cutoff = datetime.now(UTC) - retention
    purged = 0
    while deleted := await reads.folders.delete_expired(cutoff, limit):
        purged += deleted
        if deleted < limit:
            break
    return purged
