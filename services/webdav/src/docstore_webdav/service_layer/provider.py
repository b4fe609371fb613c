"""The account's folders and documents as WsgiDAV resources (a `DAVProvider`).

Every read and write goes to the service that owns it, as the caller: folders and documents to
metadata, bytes through upload's grants (quota reserves the room first) and its completion (the
same path, events and checks as every other upload), S3 through the URLs they sign. The request's
internal path is `/{account_id}/...` (domain/paths.py): the first segment is always the caller's.
"""

from __future__ import annotations

import hashlib
import io
import queue
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from wsgidav import util
from wsgidav.dav_error import (
    HTTP_BAD_REQUEST,
    HTTP_CONFLICT,
    HTTP_FORBIDDEN,
    HTTP_INSUFFICIENT_STORAGE,
    HTTP_LENGTH_REQUIRED,
    HTTP_NOT_FOUND,
    HTTP_PRECONDITION_FAILED,
    HTTP_SERVICE_UNAVAILABLE,
    DAVError,
)
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider

from docstore_webdav.adapters.backend import Backend, BackendError
from docstore_webdav.adapters.stores import FileFacts, PendingWrites, begin_request
from docstore_webdav.domain import multistatus
from docstore_webdav.domain import pending as pending_writes
from docstore_webdav.domain import properties as oc
from docstore_webdav.domain.paths import NotOurs, client_href, folder_path, parent_and_name, segments
from docstore_webdav.domain.propfind import pages
from docstore_webdav.service_layer import propfind
from docstore_webdav.service_layer.parts import ParallelParts, PartPool
from docstore_webdav.service_layer.propfind import SLOW

CHUNK = 1 << 20
ACCOUNT = "docstore.account_id"
PREFIX = "docstore.prefix"
CACHE = "docstore.cache"


OVERLAID = frozenset({"PROPFIND", "HEAD", "PROPPATCH", "LOCK", "UNLOCK", "OPTIONS"})
"""Methods that see a pending write as it will be (domain/pending.py); every other one (GET's
signed URL, an overwrite's base version, DELETE, MOVE, COPY) waits for metadata's own record."""

COPIED = "docstore.copied"
"""The members a collection's COPY has copied at once (`Folder._copy_members`): path -> None, or the
error that member's own `copy_move_single` raises."""
COPY_BATCH = 100
"""Documents per call of upload's batch grant (its limit)."""


def copied(environ: dict[str, Any], path: str) -> bool:
    """Whether this member of a COPY was copied with its folder; raises its error if that failed."""
    done = environ.get(COPIED, {})
    if path not in done:
        return False
    if (error := done[path]) is not None:
        raise error
    return True


TIMING = "docstore.timing"
PUT_HEADERS = "docstore.put_headers"
HANDOFF = "docstore.handoff"
"""A GET whose bytes the gateway reads from S3 itself (`api/redirect.py`): a dict the document's
content fills with the signed URL (`url`) and the offset WsgiDAV starts reading at (`start`)."""


@contextmanager
def phase(environ: dict[str, Any], name: str) -> Iterator[None]:
    """Adds the time the block takes to the request's `name` phase (sent back in `Server-Timing`
    on a PUT, so the bench can tell where a small file's time goes)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timing = environ.setdefault(TIMING, {})
        timing[name] = timing.get(name, 0.0) + time.perf_counter() - started


def server_timing(environ: dict[str, Any]) -> str:
    return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in environ.get(TIMING, {}).items())


def dav_error(error: BackendError) -> DAVError:
    """A service's refusal as a WebDAV status: no room is 507 (RFC 4918 11.5), a name taken 409
    or 412, a bad name 403; a service away 503."""
    status = error.status
    if status in (413, 402) or (status == 403 and "quota" in error.detail.lower()):
        return DAVError(HTTP_INSUFFICIENT_STORAGE, context_info=error.detail or "the account is full")
    if status == 409:
        return DAVError(HTTP_PRECONDITION_FAILED if "name" in error.detail.lower() else HTTP_CONFLICT, error.detail)
    if status in (400, 422):
        return DAVError(HTTP_FORBIDDEN, context_info=error.detail or "not allowed here")
    if status == 404:
        return DAVError(HTTP_CONFLICT, context_info=error.detail)
    if status == 403:
        return DAVError(HTTP_FORBIDDEN, context_info=error.detail)
    return DAVError(HTTP_SERVICE_UNAVAILABLE, context_info=error.detail or "a service is unavailable")


def _ts(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class DocStoreProvider(DAVProvider):  # type: ignore[misc]  # WsgiDAV ships no types
    def __init__(
        self,
        backend: Backend,
        facts: FileFacts,
        *,
        complete_wait_seconds: float = 60.0,
        spool_dir: str | None = None,
        small_body_bytes: int = 1024 * 1024,
        pending: PendingWrites | None = None,
        parts_in_flight: int = 0,
        part_buffer_bytes: int = 0,
        part_pool: PartPool | None = None,
    ) -> None:
        super().__init__()
        self.parts_in_flight = parts_in_flight
        self.part_buffer_bytes = part_buffer_bytes
        self.part_pool = part_pool
        """Sends a multipart PUT's parts while its body arrives (service_layer/parts.py); None:
        one part at a time, each streamed."""
        self.backend = backend
        self.facts = facts
        self.pending = pending
        """Where PUTs answered before metadata shows them are kept (None: a PUT waits instead)."""
        self.complete_wait_seconds = complete_wait_seconds
        self.spool_dir = spool_dir
        self.small_body_bytes = small_body_bytes
        self._ahead = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webdav-lookup")
        """Lookups made while the request's thread makes another (a PUT's parent folder)."""

    def is_readonly(self) -> bool:
        return False

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> Any:
        account_id = environ[ACCOUNT]
        cache = environ.setdefault(CACHE, {})
        key = path.rstrip("/") or "/"
        if key in cache:
            return cache[key]
        head, _, rest = path.lstrip("/").partition("/")
        if head != account_id:
            return None
        try:
            parts = segments(rest)
        except NotOurs:
            return None
        with phase(environ, "lookup"):
            parent = self._parent_ahead(account_id, parts, environ)
            try:
                cache[key] = self._lookup(account_id, parts, environ)
            finally:
                if parent is not None:
                    self._keep_parent(account_id, parts[:-1], parent, cache, environ)
        return cache[key]

    def _parent_ahead(self, account_id: str, parts: tuple[str, ...], environ: dict[str, Any]) -> Future[Any] | None:
        """A PUT looks up its target, then its parent (WsgiDAV's `do_PUT`: 409 when that is no
        folder): the parent's folder is asked for meanwhile, one round trip instead of two in a row."""
        if environ.get("REQUEST_METHOD") != "PUT" or len(parts) < 2:
            return None
        if ("/" + "/".join((account_id, *parts[:-1]))) in environ[CACHE]:
            return None
        return self._ahead.submit(self.backend.folder_at, account_id, folder_path(parts[:-1]))

    def _keep_parent(
        self,
        account_id: str,
        parts: tuple[str, ...],
        ahead: Future[Any],
        cache: dict[str, Any],
        environ: dict[str, Any],
    ) -> None:
        """The parent's folder as the next lookup will find it (anything else: it is asked again)."""
        try:
            found = ahead.result()
        except BackendError:
            return
        if found is not None:
            cache["/" + "/".join((account_id, *parts))] = Folder(self, account_id, parts, found, environ)

    def _lookup(self, account_id: str, parts: tuple[str, ...], environ: dict[str, Any]) -> Any:
        try:
            if not parts:
                return Folder(self, account_id, parts, None, environ)
            parent, name = parent_and_name(parts)
            if self.pending is not None and (write := self.pending.get(account_id, parent, name)) is not None:
                if environ.get("REQUEST_METHOD") in OVERLAID:
                    doc = self._pending_shown(account_id, write, name)
                else:
                    doc = self.wait_recorded(account_id, write, strict=True)
                # Metadata's record, read to learn that the write is recorded, is what a lookup
                # would find while it is still at this path: not asked for again.
                if doc is not None and (doc.get("pending") or pending_writes.still_at(doc, parent, name)):
                    return Document(self, account_id, parts, doc, environ)
            found = self.backend.what_is_at(account_id, folder_path(parts))
        except BackendError as error:
            raise dav_error(error) from error
        if found is None:
            return None
        if found.get("folder") is not None:
            return Folder(self, account_id, parts, found["folder"], environ)
        return Document(self, account_id, parts, found["document"], environ)

    def _pending_shown(self, account_id: str, write: dict[str, Any], name: str) -> dict[str, Any]:
        """A pending write at the path, for the methods that only describe it (`OVERLAID`): the
        document as it will be while metadata does not show it (one read of the document by its
        id: no lookup of the path); once metadata shows it, the write is forgotten and
        metadata's record is the answer."""
        assert self.pending is not None
        doc = self.backend.document(account_id, write["document_id"])
        if not pending_writes.recorded(write, doc):
            return pending_writes.shown(write, name)
        self.pending.drop(write)
        return doc

    def wait_recorded(self, account_id: str, write: dict[str, Any], *, strict: bool) -> dict[str, Any] | None:
        """Wait until metadata shows a pending write (at most `complete_wait_seconds`, asking less
        often as it takes longer), then forget it: metadata's record of the document. Past the
        wait, `strict` is 503 (the write is durable, its record late); otherwise the caller goes
        on with what metadata shows (None)."""
        assert self.pending is not None
        deadline = time.monotonic() + self.complete_wait_seconds
        delay = 0.02
        while not pending_writes.recorded(write, doc := self.backend.document(account_id, write["document_id"])):
            if time.monotonic() >= deadline:
                if strict:
                    raise DAVError(HTTP_SERVICE_UNAVAILABLE, context_info="the new version is still being recorded")
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        self.pending.drop(write)
        return doc

    def settle_pending(self, account_id: str, folder: str, *, deep: bool) -> None:
        """Wait for the pending writes in `folder` (`deep`: and below it) to show in metadata, so
        a listing, or a folder's move or trash, sees them (read your writes)."""
        if self.pending is None:
            return
        for write in self.pending.under(account_id, folder, deep=deep):
            self.wait_recorded(account_id, write, strict=False)

    def forget(self, environ: dict[str, Any]) -> None:
        environ.pop(CACHE, None)

    def custom_request_handler(self, environ: dict[str, Any], start_response: Any, default_handler: Any) -> Any:
        # WsgiDAV's hook (#55), called for every request before its method's handler: the
        # request's lock reads start afresh (adapters/stores.py); PROPFIND is answered streamed, a
        # page at a time (service_layer/propfind.py).
        begin_request()
        if environ.get("REQUEST_METHOD") == "PROPFIND":
            return propfind.handle(self, environ, start_response, default_handler)
        return default_handler(environ, start_response)


class _Mixin:
    provider: DocStoreProvider
    environ: dict[str, Any]
    account_id: str
    parts: tuple[str, ...]

    def get_href(self) -> str:
        # The client's own URL form (`/remote.php/dav/files/<username>/...`), not the internal path.
        internal = f"/{self.account_id}/" + "/".join(self.parts) + ("/" if self.is_collection and self.parts else "")  # type: ignore[attr-defined]
        return str(util.quote(client_href(self.environ[PREFIX], self.account_id, internal), safe="/!*'(),$-_|.~"))

    def get_ref_url(self) -> str:
        # Asked about ten times per member of a listing (locks, dead properties), each a quote():
        # the path of a resource object does not change, so its URL is made once.
        url: str | None = self.__dict__.get("_ref_url")
        if url is None:
            url = self._ref_url = super().get_ref_url()  # type: ignore[misc]
        return url

    def get_property_value(self, name: str) -> Any:
        if name == "{DAV:}lockdiscovery" and self._unlocked():
            from wsgidav.xml_tools import etree

            return etree.Element(name)
        return super().get_property_value(name)  # type: ignore[misc]

    def _listing_common(self, name: str) -> Any:
        """The values every resource answers alike (for `listing_value`), else `SLOW`."""
        if name == "{DAV:}lockdiscovery":
            return multistatus.LOCKDISCOVERY_NONE if self._unlocked() else SLOW
        if name == "{DAV:}supportedlock":
            return multistatus.SUPPORTEDLOCK if self.provider.lock_manager else SLOW
        return SLOW

    def _unlocked(self) -> bool:
        """Whether the page's one lock query (service_layer/propfind.py) found no direct lock here."""
        primed = self.environ.get(propfind.LOCKED)
        if not primed:
            return False
        key = propfind.lock_key(self.get_ref_url())
        return key in primed[0] and key not in primed[1]

    def _internal(self, parts: tuple[str, ...]) -> str:
        return f"/{self.account_id}/" + "/".join(parts)

    @staticmethod
    def _dest_parts(dest_path: str) -> tuple[str, ...]:
        _, _, rest = dest_path.lstrip("/").partition("/")
        try:
            return segments(rest)
        except NotOurs as error:
            raise DAVError(HTTP_FORBIDDEN, context_info=str(error)) from error


class Folder(_Mixin, DAVCollection):  # type: ignore[misc]
    def __init__(
        self,
        provider: DocStoreProvider,
        account_id: str,
        parts: tuple[str, ...],
        folder: dict[str, Any] | None,
        environ: dict[str, Any],
    ) -> None:
        path = f"/{account_id}/" + "/".join(parts)
        super().__init__(path if parts else f"/{account_id}", environ)
        self.provider = provider
        self.account_id = account_id
        self.parts = parts
        self.folder = folder

    @property
    def backend(self) -> Backend:
        return self.provider.backend

    def get_display_name(self) -> str:
        return self.parts[-1] if self.parts else ""

    def get_creation_date(self) -> float | None:
        return _ts(self.folder.get("created_at")) if self.folder else None

    def get_last_modified(self) -> float | None:
        return self.get_creation_date() or time.time()

    def get_etag(self) -> None:
        return None

    def _usage(self) -> dict[str, Any]:
        key = "docstore.usage"
        if key not in self.environ:
            try:
                self.environ[key] = self.backend.usage(self.account_id)
            except BackendError:
                self.environ[key] = {}
        found: dict[str, Any] = self.environ[key]
        return found

    def get_used_bytes(self) -> int | None:
        return self._usage().get("used_bytes")

    def get_available_bytes(self) -> int | None:
        return self._usage().get("room_bytes")

    def member_pages(self, size: int) -> Iterator[list[_Mixin]]:
        """The members a page at a time (folders, then documents; metadata's cursor pages), each
        document with its facts (X-OC-Mtime, checksums) read in one query per page."""
        here = folder_path(self.parts)
        try:
            self.provider.settle_pending(self.account_id, here, deep=False)
            ahead = self.provider._ahead  # the next metadata page is made while this one is written
            for items in pages(self.backend.folders(self.account_id, here, ahead), size):
                yield [
                    Folder(self.provider, self.account_id, (*self.parts, item["name"]), item, self.environ)
                    for item in items
                ]
            for docs in pages(self.backend.documents(self.account_id, here, ahead), size):
                facts = self.provider.facts.many(self.account_id, [d["document_id"] for d in docs])
                yield [
                    Document(
                        self.provider,
                        self.account_id,
                        (*self.parts, doc["name"]),
                        doc,
                        self.environ,
                        facts.get(doc["document_id"], {}),
                    )
                    for doc in docs
                ]
        except BackendError as error:
            raise dav_error(error) from error

    def _children(self) -> Iterator[_Mixin]:
        for page in self.member_pages(200):
            yield from page

    def get_member_list(self) -> list[Any]:
        return list(self._children())

    def get_member_names(self) -> list[str]:
        return [child.parts[-1] for child in self._children()]

    def get_member(self, name: str) -> Any:
        return self.provider.get_resource_inst(self._internal((*self.parts, name)), self.environ)

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        names: list[str] = super().get_property_names(is_allprop=is_allprop)
        return names + [oc.OC_PERMISSIONS, oc.OC_FILEID, oc.OC_ID, oc.OC_SIZE]

    def get_property_value(self, name: str) -> Any:
        if name == oc.OC_PERMISSIONS:
            return oc.FOLDER_PERMISSIONS
        if name in (oc.OC_FILEID, oc.OC_ID):
            return self.folder["folder_id"] if self.folder else f"root-{self.account_id}"
        if name == oc.OC_SIZE:
            return str(self._usage().get("used_bytes", 0) if not self.parts else 0)
        return super().get_property_value(name)

    def listing_value(self, name: str) -> Any:
        """A property's value as `get_property_value` answers it, made directly for the common
        ones (a listing asks for each of its members); `SLOW` for the rest, which WsgiDAV answers."""
        if name == "{DAV:}resourcetype":
            return multistatus.RESOURCETYPE_COLLECTION
        if name == "{DAV:}displayname":
            return self.get_display_name()
        if name == "{DAV:}getlastmodified":
            return util.get_rfc1123_time(self.get_last_modified())
        if name == "{DAV:}creationdate":
            created = self.get_creation_date()
            return SLOW if created is None else util.get_rfc3339_time(created)
        if name == oc.OC_PERMISSIONS:
            return oc.FOLDER_PERMISSIONS
        if name in (oc.OC_FILEID, oc.OC_ID) and self.folder:
            return self.folder["folder_id"]
        return self._listing_common(name)

    def create_empty_resource(self, name: str) -> Document:
        parts = (*self.parts, name)
        doc = Document(self.provider, self.account_id, parts, None, self.environ)
        if self.environ.get("REQUEST_METHOD") == "LOCK":
            doc.write_empty()  # a lock on an unmapped URL makes an empty resource (RFC 4918 7.3)
        return doc

    def create_collection(self, name: str) -> Folder:
        try:
            found = self.backend.create_folder(self.account_id, folder_path(self.parts), name)
        except BackendError as error:
            raise dav_error(error) from error
        self.provider.forget(self.environ)
        return Folder(self.provider, self.account_id, (*self.parts, name), found, self.environ)

    def support_recursive_delete(self) -> bool:
        return True

    def delete(self) -> None:
        if not self.folder:
            raise DAVError(HTTP_FORBIDDEN, context_info="the root folder cannot be deleted")
        try:
            self.provider.settle_pending(self.account_id, folder_path(self.parts), deep=True)
            self.backend.trash_folder(self.account_id, self.folder["folder_id"])
            self._settle(self.folder["folder_id"])
        except BackendError as error:
            raise dav_error(error) from error
        self.remove_all_properties(recursive=True)
        self.remove_all_locks(recursive=True)
        self.provider.forget(self.environ)

    def support_recursive_move(self, dest_path: str) -> bool:
        return True

    def _settle(self, folder_id: str) -> None:
        """Wait until metadata's background job for a folder's trash or move is done (`moving`
        false), so the answer of DELETE or MOVE describes the tree as it is (bounded wait)."""
        deadline = time.monotonic() + self.provider.complete_wait_seconds
        while time.monotonic() < deadline:
            found = self.backend.folder(self.account_id, folder_id)
            if not found or not found.get("moving"):
                return
            time.sleep(0.05)

    def move_recursive(self, dest_path: str) -> None:
        if not self.folder:
            raise DAVError(HTTP_FORBIDDEN, context_info="the root folder cannot be moved")
        parent, name = parent_and_name(self._dest_parts(dest_path))
        try:
            self.provider.settle_pending(self.account_id, folder_path(self.parts), deep=True)
            self.backend.change_folder(self.account_id, self.folder["folder_id"], name=name, parent=parent)
            self._settle(self.folder["folder_id"])
        except BackendError as error:
            raise dav_error(error) from error
        if self.provider.prop_manager:
            self.provider.prop_manager.move_properties(
                self.get_ref_url(), dest_path.rstrip("/") + "/", with_children=True, environ=self.environ
            )
        self.provider.forget(self.environ)

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        # A collection's copy: the folder itself. WsgiDAV then calls this for each member, top
        # down; a folder made here copies what it holds at once (`_copy_members`), and the
        # members' own calls only report how that went.
        if copied(self.environ, self.path):
            return
        dest_parts = self._dest_parts(dest_path)
        parent, name = parent_and_name(dest_parts)
        try:
            if self.backend.folder_at(self.account_id, folder_path(dest_parts)) is None:
                self.backend.create_folder(self.account_id, parent, name)
                if not is_move and self.environ.get("HTTP_DEPTH") == "infinity" and not self.environ.get("HTTP_IF"):
                    self.environ.setdefault(COPIED, {}).update(self._copy_members(dest_parts))
        except BackendError as error:
            raise dav_error(error) from error
        self.provider.forget(self.environ)

    def _copy_members(self, dest_parts: tuple[str, ...]) -> dict[str, DAVError | None]:
        """Copies everything below this folder into `dest_parts`, a folder just made (so nothing
        is overwritten): the folders top down, then the documents through upload's batch grant,
        100 at a time, each made from the bytes the account already stores (dedupe: no byte
        passes through here), then waits until metadata lists them (read your writes). One
        document at a time, a folder of N documents took N grants and N waits in a row
        (bench/webdav.py: 100 documents 169.7 s, in batches 17.4 s).

        Returns, per member's path, None (copied) or the error its own call reports. A member not
        in it (a document too large for a batch item, or below a folder that failed) is copied
        alone when WsgiDAV reaches it, or skipped by WsgiDAV below a failed folder. An `If`
        header is evaluated per member by WsgiDAV, so such a COPY is left to it (the caller)."""
        done: dict[str, DAVError | None] = {}
        failed: list[str] = []
        documents: list[tuple[Document, tuple[str, ...]]] = []
        for member in self.get_descendants(depth_first=False):
            if any(util.is_equal_or_child_uri(path, member.path) for path in failed):
                continue
            target = (*dest_parts, *member.parts[len(self.parts) :])
            if isinstance(member, Document):
                documents.append((member, target))
                continue
            try:
                self.backend.create_folder(self.account_id, *parent_and_name(target))
                done[member.path] = None
            except BackendError as error:
                done[member.path] = dav_error(error)
                failed.append(member.path)
        granted: list[tuple[Document, tuple[str, ...], str]] = []
        for start in range(0, len(documents), COPY_BATCH):
            batch = documents[start : start + COPY_BATCH]
            answers = self.backend.grant_many(self.account_id, [doc.copy_grant(target) for doc, target in batch])
            for (doc, target), answer in zip(batch, answers, strict=True):
                if isinstance(answer, BackendError):
                    if not str((answer.body or {}).get("type", "")).endswith(":not-for-batch"):
                        done[doc.path] = dav_error(answer)
                elif not answer.get("deduplicated"):
                    self.backend.abort(self.account_id, answer["upload_id"])
                    done[doc.path] = DAVError(HTTP_SERVICE_UNAVAILABLE, "the copy could not be made server-side")
                else:
                    granted.append((doc, target, answer["document_id"]))
        self._wait_listed(granted)
        self.provider.facts.record_many(
            self.account_id,
            {document_id: (doc.doc["sha256"], kept) for doc, _, document_id in granted if (kept := doc.kept_facts())},
        )
        done |= {doc.path: None for doc, _, _ in granted}
        return done

    def _wait_listed(self, granted: list[tuple[Document, tuple[str, ...], str]]) -> None:
        """Wait until metadata lists every copy in its folder (at most `complete_wait_seconds`,
        asking less often as it takes longer): one listing per folder and round, not one read per
        document. Past the wait the answer goes out all the same, as for one document's copy."""
        waiting: dict[str, set[str]] = {}
        for _, target, document_id in granted:
            waiting.setdefault(folder_path(target[:-1]), set()).add(document_id)
        deadline = time.monotonic() + self.provider.complete_wait_seconds
        delay = 0.02
        while waiting and time.monotonic() < deadline:
            for folder in list(waiting):
                waiting[folder] -= {d["document_id"] for d in self.backend.documents(self.account_id, folder)}
                if not waiting[folder]:
                    del waiting[folder]
            if waiting:
                time.sleep(delay)
                delay = min(delay * 2, 0.5)


class Document(_Mixin, DAVNonCollection):  # type: ignore[misc]
    def __init__(
        self,
        provider: DocStoreProvider,
        account_id: str,
        parts: tuple[str, ...],
        doc: dict[str, Any] | None,
        environ: dict[str, Any],
        facts: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"/{account_id}/" + "/".join(parts), environ)
        self.provider = provider
        self.account_id = account_id
        self.parts = parts
        self.doc = doc
        self._facts = facts
        self._facts_of = doc["sha256"] if doc is not None and facts is not None else None

    @property
    def backend(self) -> Backend:
        return self.provider.backend

    def facts(self) -> dict[str, Any]:
        if self.doc is None:
            return {}
        # Read once per version of the bytes (a listing passes them in, read a page at a time; no
        # row, {}, is an answer too): not once per property asked.
        if self._facts is None or self._facts_of != self.doc["sha256"]:
            self._facts = self.provider.facts.get(self.account_id, self.doc["document_id"], self.doc["sha256"])
            self._facts_of = self.doc["sha256"]
        return self._facts if self._facts.get("sha256") == self.doc["sha256"] else {}

    def get_display_name(self) -> str:
        return self.parts[-1]

    def get_content_length(self) -> int:
        return int(self.doc["size"]) if self.doc else 0

    def get_content_type(self) -> str:
        return self.doc["content_type"] if self.doc else "application/octet-stream"

    def get_creation_date(self) -> float | None:
        return _ts(self.doc["created_at"]) if self.doc else None

    def get_last_modified(self) -> float | None:
        if not self.doc:
            return None
        return self.facts().get("mtime") or _ts(self.doc["modified_at"])

    def get_etag(self) -> str | None:
        return oc.etag(self.doc["sha256"], int(self.doc["size"])) if self.doc else None

    def support_etag(self) -> bool:
        return True

    def support_ranges(self) -> bool:
        return True

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        names: list[str] = super().get_property_names(is_allprop=is_allprop)
        return names + [oc.OC_PERMISSIONS, oc.OC_CHECKSUMS, oc.OC_FILEID, oc.OC_ID, oc.OC_SIZE]

    def get_property_value(self, name: str) -> Any:
        if self.doc is not None:
            if name == oc.OC_PERMISSIONS:
                return oc.FILE_PERMISSIONS
            if name == oc.OC_CHECKSUMS:
                from wsgidav.xml_tools import etree

                element = etree.Element(oc.OC_CHECKSUMS)
                child = etree.SubElement(element, f"{{{oc.OC_NS}}}checksum")
                child.text = oc.checksums({**self.facts(), "sha256": self.doc["sha256"]})
                return element
            if name in (oc.OC_FILEID, oc.OC_ID):
                return self.doc["document_id"]
            if name == oc.OC_SIZE:
                return str(self.doc["size"])
        return super().get_property_value(name)

    def listing_value(self, name: str) -> Any:
        """A property's value as `get_property_value` answers it, made directly for the ones a
        listing asks of every document (rclone's, Finder's, allprop's); `SLOW` for the rest."""
        doc = self.doc
        if doc is None:
            return SLOW
        if name == "{DAV:}getcontentlength":
            return str(int(doc["size"]))
        if name == "{DAV:}getlastmodified":
            modified = self.get_last_modified()
            return SLOW if modified is None else util.get_rfc1123_time(modified)
        if name == "{DAV:}getetag":
            return oc.etag(doc["sha256"], int(doc["size"]))
        if name == "{DAV:}getcontenttype":
            return doc["content_type"] or SLOW
        if name == "{DAV:}displayname":
            return self.parts[-1]
        if name == "{DAV:}resourcetype":
            return ""
        if name == "{DAV:}creationdate":
            created = _ts(doc.get("created_at"))
            return SLOW if created is None else util.get_rfc3339_time(created)
        if name == oc.OC_PERMISSIONS:
            return oc.FILE_PERMISSIONS
        if name == oc.OC_CHECKSUMS:
            sums = oc.checksums({**self.facts(), "sha256": doc["sha256"]})
            return multistatus.Node(oc.OC_CHECKSUMS, (multistatus.Node(f"{{{oc.OC_NS}}}checksum", text=sums),))
        if name in (oc.OC_FILEID, oc.OC_ID):
            return doc["document_id"]
        if name == oc.OC_SIZE:
            return str(doc["size"])
        return self._listing_common(name)

    # --- reading ---------------------------------------------------------------------------
    def signed_url(self) -> str:
        """Metadata's short-lived signed S3 URL for the bytes of the version this request read
        (the redirect's target, and what the streamed GET reads)."""
        assert self.doc is not None
        try:
            url: str = self.backend.download_url(
                self.account_id, self.doc["document_id"], self.doc.get("version") or None
            )
        except BackendError as error:
            raise dav_error(error) from error
        return url

    def get_content(self) -> io.RawIOBase:
        if not self.doc:
            return io.BytesIO(b"")  # type: ignore[return-value]
        handoff = self.environ.get(HANDOFF)
        if handoff is not None and int(self.doc["size"]) > 0:
            return Handoff(handoff, self.signed_url())
        return RemoteFile(self.backend, self.signed_url(), int(self.doc["size"]))

    # --- writing ---------------------------------------------------------------------------
    def write_empty(self) -> None:
        writer = self._writer(0)
        writer.close()
        self.end_write(with_errors=False)

    def begin_write(self, *, content_type: str | None = None) -> Writer | Spool | SmallBody:
        size = _declared_size(self.environ)
        if size is None:
            try:
                room = self.backend.usage(self.account_id).get("room_bytes")
            except BackendError as error:
                raise dav_error(error) from error
            return Spool(self, room, self.provider.spool_dir)
        if 0 < size <= self.provider.small_body_bytes:
            return SmallBody(self, size)
        return self._writer(size, content_type)

    def _writer(self, size: int, content_type: str | None = None, *, sha256: str | None = None) -> Writer:
        parent, name = parent_and_name(self.parts)
        grant: dict[str, Any] = {
            "filename": name,
            "size": size,
            # The name's type, not the request's (curl says form-urlencoded, clients say octet-stream).
            "content_type": util.guess_mime_type(name) or "application/octet-stream",
            "path": parent,
        }
        if self.doc:
            grant["document_id"] = self.doc["document_id"]
            grant["base_version"] = self.doc["version"]  # WebDAV's PUT replaces: the version it read
            grant.pop("path")
        if sha256 is not None:
            grant |= {"sha256": sha256, "put": True}
        try:
            with phase(self.environ, "grant"):
                if sha256 is not None:
                    granted = self.backend.grant_pinned(self.account_id, grant)
                else:
                    granted = self.backend.grant(self.account_id, grant)
        except BackendError as error:
            raise dav_error(error) from error
        self._writer_obj = Writer(
            self.backend,
            granted,
            size,
            name,
            pool=self.provider.part_pool,
            parts_in_flight=self.provider.parts_in_flight,
            part_buffer_bytes=self.provider.part_buffer_bytes,
            expected=oc.parse_oc_checksum(self.environ.get("HTTP_OC_CHECKSUM")),
        )
        return self._writer_obj

    def end_write(self, *, with_errors: bool) -> None:
        writer: Writer | None = getattr(self, "_writer_obj", None)
        if writer is None:  # no grant was made (refused, or a spooled body that failed first)
            return
        if with_errors:
            writer.cancel()
            self.backend.abort(self.account_id, writer.upload_id)
            if writer.failed:
                raise dav_error(writer.failed)
            return
        if writer.written != writer.size:
            writer.cancel()
            self.backend.abort(self.account_id, writer.upload_id)
            raise DAVError(HTTP_BAD_REQUEST, context_info="the body is not as long as its Content-Length")
        if writer.failed:
            self.backend.abort(self.account_id, writer.upload_id)
            raise dav_error(writer.failed)
        self.environ.setdefault(TIMING, {})["body"] = writer.seconds
        try:
            document_id = self._complete(writer)
        except BackendError as error:
            self.backend.abort(self.account_id, writer.upload_id)
            raise dav_error(error) from error
        facts: dict[str, Any] = {"sha1": writer.sha1.hexdigest(), "md5": writer.md5.hexdigest()}
        mtime = oc.parse_mtime(self.environ.get("HTTP_X_OC_MTIME"))
        if mtime:
            facts["mtime"] = mtime
            self.environ["docstore.mtime_accepted"] = True
        with phase(self.environ, "facts"):
            self.provider.facts.record(self.account_id, document_id, writer.sha256.hexdigest(), facts)
        self.provider.forget(self.environ)
        self.environ[PUT_HEADERS] = self.put_headers()

    def _complete(self, writer: Writer) -> str:
        """Upload's completion (its own checks and events), then the wait until metadata shows
        the new bytes; the two waits are timed apart (`upload`, `visible`)."""
        document_id = writer.document_id
        started = time.perf_counter()
        if self.provider.pending is not None:
            return self._complete_pending(writer, started)
        if not writer.deduplicated:
            status, answer = self.backend.complete(self.account_id, writer.upload_id)
            deadline = time.monotonic() + self.provider.complete_wait_seconds
            while answer.get("status") == "verifying" and time.monotonic() < deadline:
                time.sleep(0.2)
                answer = self.backend.upload_state(self.account_id, writer.upload_id)
            if answer.get("status") not in ("completed", "verifying"):
                raise BackendError(409, f"the upload ended {answer.get('status')}")
            if answer.get("recorded") is True and answer.get("sha256") == writer.sha256.hexdigest():
                # Upload's completion already waited until metadata shows the version (its own
                # read-your-writes): no second look is needed for a PROPFIND or GET to see it.
                self.environ.setdefault(TIMING, {})["upload"] = time.perf_counter() - started
                self.doc = (self.doc or {}) | {
                    "document_id": document_id,
                    "sha256": answer["sha256"],
                    "size": writer.size,
                }
                return document_id
        # Read-your-writes: wait until metadata shows these bytes as the document's current version.
        self.environ.setdefault(TIMING, {})["upload"] = time.perf_counter() - started
        started = time.perf_counter()
        sha = writer.sha256.hexdigest()
        deadline = time.monotonic() + self.provider.complete_wait_seconds
        while time.monotonic() < deadline:
            doc = self.backend.document(self.account_id, document_id)
            if doc and doc["sha256"] == sha:
                self.doc = doc
                break
            time.sleep(0.05)
        self.environ[TIMING]["visible"] = time.perf_counter() - started
        return document_id

    def _complete_pending(self, writer: Writer, started: float) -> str:
        """Upload's completion without its wait for metadata (the batch route answers once the
        completion and its `upload.completed` are committed: durable), then the pending write
        kept for the path until metadata shows it (domain/pending.py)."""
        assert self.provider.pending is not None
        document_id = writer.document_id
        sha256 = writer.sha256.hexdigest()
        if not writer.deduplicated:
            answer = self.backend.complete_now(self.account_id, writer.upload_id, sent=writer.sent())
            # A multipart upload is recorded at once with the sha256 this service computed when
            # S3's checksum of every part (its ETag) is the MD5 this service sent it with (upload's
            # `SentBytes`). Otherwise it answers `verifying`: S3 has joined the parts and upload
            # reads the object back for its facts (its watcher finishes a verification any process
            # death interrupts). The write is durable here, as it is once `completed`; the
            # read-back (about 5 s for 1 GiB) runs after the answer, and the pending write, with
            # the sha256 of the bytes this service sent, covers it as it covers metadata's record.
            if answer.get("status") not in ("completed", "verifying"):
                raise BackendError(409, f"the upload ended {answer.get('status')}")
            sha256 = answer.get("sha256") or sha256
        parent, name = parent_and_name(self.parts)
        write = {
            "document_id": document_id,
            "sha256": sha256,
            "size": writer.size,
            "content_type": util.guess_mime_type(name) or "application/octet-stream",
            "base_version": self.doc["version"] if self.doc else None,
            "created_at": self.doc.get("created_at") if self.doc else None,
        }
        self.doc = pending_writes.shown(self.provider.pending.put(self.account_id, parent, name, write), name)
        self.environ.setdefault(TIMING, {})["upload"] = time.perf_counter() - started
        return document_id

    def put_headers(self) -> list[tuple[str, str]]:
        """The headers ownCloud's clients read on a PUT's answer (WsgiDAV calls `finalize_headers`
        on GET only, so `api/redirect.py` adds these to the PUT's answer)."""
        headers: list[tuple[str, str]] = []
        if self.environ.get("docstore.mtime_accepted"):
            headers.append(("X-OC-MTime", "accepted"))
        if self.doc:
            headers.append(("OC-FileId", self.doc["document_id"]))
            headers.append(("OC-ETag", f'"{self.get_etag()}"'))
        if self.environ.get(TIMING):
            headers.append(("Server-Timing", server_timing(self.environ)))
        return headers

    def delete(self) -> None:
        if not self.doc:
            return
        try:
            self.backend.trash_document(self.account_id, self.doc["document_id"])
        except BackendError as error:
            raise dav_error(error) from error
        self.remove_all_properties(recursive=True)
        self.remove_all_locks(recursive=True)
        self.provider.forget(self.environ)

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        if copied(self.environ, self.path):
            return
        if not self.doc:
            raise DAVError(HTTP_NOT_FOUND)
        parent, name = parent_and_name(self._dest_parts(dest_path))
        try:
            if is_move:
                self.backend.change_document(self.account_id, self.doc["document_id"], name=name, path=parent)
            else:
                # A server-side copy: upload's dedupe makes the new document from the bytes the
                # account already stores (no byte passes through here).
                grant = self.copy_grant(self._dest_parts(dest_path))
                # A copy onto a document (a collection copied over another) is a new version of it.
                there = self.backend.what_is_at(self.account_id, folder_path(self._dest_parts(dest_path))) or {}
                if existing := there.get("document"):
                    grant = grant | {"document_id": existing["document_id"], "base_version": existing["version"]}
                    grant.pop("path")
                granted = self.backend.grant(self.account_id, grant)
                if not granted.get("deduplicated"):
                    self.backend.abort(self.account_id, granted["upload_id"])
                    raise BackendError(503, "the copy could not be made server-side")
                self.copied_to(granted["document_id"])
        except BackendError as error:
            raise dav_error(error) from error
        self.provider.forget(self.environ)

    def copy_grant(self, dest_parts: tuple[str, ...]) -> dict[str, Any]:
        """Upload's grant of a copy of this version at `dest_parts`: its sha256, so that upload's
        dedupe makes it from the bytes the account stores."""
        assert self.doc is not None
        parent, name = parent_and_name(dest_parts)
        return {
            "filename": name,
            "size": int(self.doc["size"]),
            "content_type": self.doc["content_type"],
            "path": parent,
            "sha256": self.doc["sha256"],
        }

    def copied_to(self, document_id: str) -> None:
        """Once the copy `document_id` shows in metadata, it keeps this version's facts."""
        self._wait_for(document_id)
        if kept := self.kept_facts():
            self.provider.facts.record(self.account_id, document_id, self.doc["sha256"], kept)

    def kept_facts(self) -> dict[str, Any]:
        """What a copy of this version keeps of its facts (the checksums and modification time
        the client gave), or nothing when none are known."""
        facts = self.facts()
        return {k: facts[k] for k in ("sha1", "md5", "mtime") if k in facts} if facts.get("sha1") else {}

    def _wait_for(self, document_id: str) -> None:
        deadline = time.monotonic() + self.provider.complete_wait_seconds
        while time.monotonic() < deadline:
            doc = self.backend.document(self.account_id, document_id)
            if doc is not None and self.doc and doc["sha256"] == self.doc["sha256"]:
                return
            time.sleep(0.05)

    def support_recursive_move(self, dest_path: str) -> bool:
        # A move is one PATCH (WsgiDAV's generic move would copy, then delete the source).
        return True

    def move_recursive(self, dest_path: str) -> None:
        self.copy_move_single(dest_path, is_move=True)
        if self.provider.prop_manager:
            self.provider.prop_manager.move_properties(
                self.get_ref_url(), dest_path, with_children=False, environ=self.environ
            )


def _declared_size(environ: dict[str, Any]) -> int | None:
    """The body's size: its Content-Length, or what davfs2 and Finder declare for a chunked body
    (`OC-Total-Length`, `X-Expected-Entity-Length`); None when nothing says it."""
    for key in ("CONTENT_LENGTH", "HTTP_OC_TOTAL_LENGTH", "HTTP_X_EXPECTED_ENTITY_LENGTH"):
        value = environ.get(key)
        if value not in (None, ""):
            try:
                size = int(value)
            except ValueError:
                break
            if size >= 0:
                return size
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    raise DAVError(HTTP_LENGTH_REQUIRED, context_info="send Content-Length or a chunked body")


def parallel_parts(part_size: int, in_flight: int, buffer_bytes: int) -> int:
    """How many parts of `part_size` one PUT sends at once: `in_flight`, fewer when (that + the
    part being read) x the part size would pass `buffer_bytes`; 0 (one part at a time, streamed,
    nothing buffered) when not even one part and the next fit."""
    if in_flight <= 0 or part_size <= 0:
        return 0
    return max(0, min(in_flight, buffer_bytes // part_size - 1))


class _Feed:
    """The body's blocks as the sending thread takes them from a bounded queue, cut to lengths:
    `take(n)` yields exactly the next `n` bytes (fewer when the body ends early), keeping the rest
    of a block that straddles a part boundary for the next part."""

    def __init__(self, q: queue.Queue[bytes | None]) -> None:
        self.q = q
        self.rest = b""
        self.ended = False

    def _next(self) -> bytes | None:
        if self.rest:
            kept, self.rest = self.rest, b""
            return kept
        if self.ended:
            return None
        block = self.q.get()
        if block is None:
            self.ended = True
        return block

    def take(self, length: int) -> Iterator[bytes]:
        left = length
        while left > 0:
            block = self._next()
            if block is None:
                return
            if len(block) > left:
                block, self.rest = block[:left], block[left:]
            left -= len(block)
            yield block

    def all(self) -> Iterator[bytes]:
        while (block := self._next()) is not None:
            yield block


def _hashed(blocks: Iterator[bytes], digest: Any) -> Iterator[bytes]:
    for block in blocks:
        digest.update(block)
        yield block


class Writer:
    """Where WsgiDAV writes a PUT's body: into S3 as it arrives, never the whole file in memory.
    One sending thread takes the blocks from a bounded queue (`QUEUE_BLOCKS` blocks): a form upload
    streams them through one POST; a multipart upload streams each part as its own PUT with the
    part's length (no part is gathered first), one after the other, while the next blocks arrive.
    SHA-256, SHA-1 and MD5 are computed on the way."""

    QUEUE_BLOCKS = 8

    def __init__(
        self,
        backend: Backend,
        granted: dict[str, Any],
        size: int,
        filename: str,
        *,
        pool: PartPool | None = None,
        parts_in_flight: int = 0,
        part_buffer_bytes: int = 0,
        expected: tuple[str, str] | None = None,
    ) -> None:
        self.backend = backend
        self.expected = expected
        """The client's `OC-Checksum` (kind, hex), checked once the whole body was written."""
        self.upload_id: str = granted["upload_id"]
        self.document_id: str = granted["document_id"]
        self.deduplicated = bool(granted.get("deduplicated"))
        self.size = size
        self.written = 0
        self.failed: BackendError | None = None
        self.sha256 = hashlib.sha256()
        self.sha1 = hashlib.sha1()  # noqa: S324  (ownCloud's checksum, not security)
        self.md5 = hashlib.md5()  # noqa: S324  (ownCloud's checksum, not security)
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None
        self._parallel: ParallelParts | None = None
        self._md5s: dict[int, str] = {}
        self.put: dict[str, Any] | None = granted.get("put")
        self.started = time.perf_counter()
        self.seconds = 0.0
        multipart: Any = granted.get("multipart")
        form: Any = granted.get("form")
        if self.deduplicated or not (multipart or form):
            return
        if multipart and pool is not None:
            part_size = int(multipart["part_size"])
            in_flight = parallel_parts(part_size, parts_in_flight, part_buffer_bytes)
            if in_flight:
                urls = [part["url"] for part in multipart["parts"]]
                self._parallel = ParallelParts(pool, self.backend.put_part, urls, part_size, size, in_flight)
                return
        self._queue = queue.Queue(maxsize=self.QUEUE_BLOCKS)
        target = (
            (lambda feed: self._parts(feed, multipart))
            if multipart
            else (lambda feed: self.backend.post_form(form["url"], form["fields"], feed.all(), size, filename))
        )
        self._thread = threading.Thread(target=self._send, args=(target,), daemon=True)
        self._thread.start()

    def _parts(self, feed: _Feed, multipart: dict[str, Any]) -> None:
        part_size = int(multipart["part_size"])
        for number, part in enumerate(multipart["parts"]):
            length = min(part_size, self.size - number * part_size)
            if length <= 0:
                break
            md5 = hashlib.md5()  # noqa: S324  (S3's part checksum, its ETag: not security)
            self.backend.put_part(part["url"], _hashed(feed.take(length), md5), length)
            self._md5s[number + 1] = md5.hexdigest()

    def sent(self) -> dict[str, Any] | None:
        """What this service says of a multipart body it sent whole (upload's `sent`): the
        sha256 of the body and each part's MD5, in order; None for a form or a deduplicated
        upload, or while a part's MD5 is missing (asked after `close`)."""
        md5s = self._md5s
        if not md5s or sorted(md5s) != list(range(1, len(md5s) + 1)):
            return None
        return {"sha256": self.sha256.hexdigest(), "part_md5s": [md5s[number] for number in sorted(md5s)]}

    def _send(self, target: Any) -> None:
        assert self._queue is not None
        q = self._queue
        try:
            target(_Feed(q))
        except BackendError as error:
            self.failed = error
        finally:
            while True:  # unblock a writer still feeding a failed upload
                try:
                    q.get_nowait()
                except queue.Empty:
                    break

    def write(self, data: bytes) -> int:
        if self.failed:
            raise dav_error(self.failed)
        if self.written + len(data) > self.size:
            raise DAVError(HTTP_BAD_REQUEST, context_info="the body is longer than its Content-Length")
        self.written += len(data)
        self.sha256.update(data)
        self.sha1.update(data)
        self.md5.update(data)
        if self.expected is not None and self.written == self.size:
            self._check_expected()  # before the last block leaves: S3 never holds the whole body
        if self._parallel is not None:
            try:
                self._parallel.write(data)
            except BackendError as error:
                self.failed = error
                raise dav_error(error) from None
        if self._queue is not None:
            while True:
                try:
                    self._queue.put(bytes(data), timeout=1.0)
                    break
                except queue.Full:
                    if self.failed or not (self._thread and self._thread.is_alive()):
                        raise dav_error(self.failed or BackendError(503, "S3 stopped reading")) from None
        return len(data)

    def writelines(self, blocks: Iterator[bytes]) -> None:
        for block in blocks:
            self.write(block)

    def _check_expected(self) -> None:
        """ownCloud's `OC-Checksum` (the client's hash of the body) against the body that came: a
        body that changed on its way is 400, and nothing of it is stored (the request's end
        aborts the upload)."""
        assert self.expected is not None
        kind, value = self.expected
        computed = {"sha256": self.sha256, "sha1": self.sha1, "md5": self.md5}[kind].hexdigest()
        if computed != value:  # WsgiDAV then ends the write with errors: the upload is aborted
            raise DAVError(
                HTTP_BAD_REQUEST,
                context_info="the body's checksum is not the one sent in OC-Checksum: nothing was stored",
            )

    def cancel(self) -> None:
        """The request failed: end the sending thread (its upload ends short and fails), or send
        no more parts and wait for those sending (so the abort that follows leaves nothing)."""
        if self._parallel is not None:
            self._parallel.cancel()
            self.failed = self.failed or self._parallel.failed
            self._parallel = None
        q, self._queue = self._queue, None
        if q is None or self._thread is None:
            return
        while True:
            try:
                q.get_nowait()
            except queue.Empty:
                break
        try:
            q.put_nowait(None)
        except queue.Full:
            pass

    def close(self) -> None:
        if self._parallel is not None:
            if self.written == self.size:
                self._parallel.finish()
            else:  # a short body: the upload is aborted (end_write), so nothing more is sent
                self._parallel.cancel()
            self.failed = self.failed or self._parallel.failed
            self._md5s = self._parallel.md5s
            self._parallel = None
        if self._queue is not None and self._thread is not None:
            while self._thread.is_alive():
                try:
                    self._queue.put(None, timeout=1.0)
                    break
                except queue.Full:
                    continue
            self._thread.join()
            self._queue = None
        self.seconds = time.perf_counter() - self.started


class SmallBody:
    """A small body (at most `SMALL_BODY_BYTES`, 1 MiB: bounded per request) held until it has
    arrived, so its sha256 is known before the grant: upload's dedupe then stores nothing when the
    account already holds these bytes, and otherwise S3 takes them through a presigned PUT pinned to
    that sha256, whose completion reads one HEAD back instead of copying a staging object and
    reading it whole. The same grant, completion and events as any upload."""

    def __init__(self, document: Document, size: int) -> None:
        self.document = document
        self.size = size
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        if len(self.data) + len(data) > self.size:
            raise DAVError(HTTP_BAD_REQUEST, context_info="the body is longer than its Content-Length")
        self.data += data
        return len(data)

    def writelines(self, blocks: Iterator[bytes]) -> None:
        for block in blocks:
            self.write(block)

    def close(self) -> None:
        data = bytes(self.data)
        self.data = bytearray()
        if len(data) != self.size:
            raise DAVError(HTTP_BAD_REQUEST, context_info="the body is not as long as its Content-Length")
        writer = self.document._writer(self.size, sha256=hashlib.sha256(data).hexdigest())
        writer.write(data)
        writer.close()
        put = writer.put
        if put and not writer.deduplicated and not writer.failed:
            with phase(self.document.environ, "s3"):
                try:
                    self.document.backend.put_object(put["url"], dict(put.get("headers") or {}), data)
                except BackendError as error:
                    writer.failed = error


class Spool:
    """A body whose size nothing declared (chunked, without `OC-Total-Length`): spooled to a
    temporary file (memory stays flat; never more than the account's room, else 507 at once), then
    sent as a body of known size through the same grant, S3 upload and completion."""

    def __init__(self, document: Document, room: int | None, spool_dir: str | None) -> None:
        self.document = document
        self.room = room
        self.file = tempfile.TemporaryFile(dir=spool_dir)  # noqa: SIM115  (closed in close())
        self.size = 0
        self.writer: Writer | None = None

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.room is not None and self.size > self.room:
            raise DAVError(HTTP_INSUFFICIENT_STORAGE, context_info="the body is larger than the account's room")
        self.file.write(data)
        return len(data)

    def writelines(self, blocks: Iterator[bytes]) -> None:
        for block in blocks:
            self.write(block)

    def close(self) -> None:
        try:
            self.file.seek(0)
            writer = self.document._writer(self.size)
            while block := self.file.read(CHUNK):
                writer.write(block)
            writer.close()
            self.writer = writer
        finally:
            self.file.close()


class Handoff(io.RawIOBase):
    """The content of a GET the gateway reads from S3 itself: no bytes; it notes the signed URL
    and where WsgiDAV seeks to (a range's first byte), which `api/redirect.py` hands on."""

    def __init__(self, note: dict[str, Any], url: str) -> None:
        super().__init__()
        self.note = note
        note.update(url=url, start=0)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0:
            raise io.UnsupportedOperation("WsgiDAV seeks to a range's start only")
        self.note["start"] = offset
        return offset

    def read(self, size: int = -1) -> bytes:
        return b""


class RemoteFile(io.RawIOBase):
    """The stored bytes as a seekable file WsgiDAV reads (ranges seek first): a streamed S3 GET,
    opened again from the new offset after a seek."""

    def __init__(self, backend: Backend, url: str, size: int) -> None:
        super().__init__()
        self.backend = backend
        self.url = url
        self.size = size
        self.pos = 0
        self._response: Any = None
        self._chunks: Iterator[bytes] | None = None
        self._pending = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        target = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        if target != self.pos:
            self._drop()
            self.pos = target
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, size: int = -1) -> bytes:
        if self.pos >= self.size:
            return b""
        if self._chunks is None:
            try:
                self._response = self.backend.open_range(self.url, self.pos)
            except BackendError as error:
                raise dav_error(error) from error
            self._chunks = self._response.iter_bytes(CHUNK)
        want = CHUNK if size is None or size < 0 else size
        while len(self._pending) < want:
            try:
                self._pending += next(self._chunks)
            except StopIteration:
                break
        out, self._pending = self._pending[:want], self._pending[want:]
        self.pos += len(out)
        return out

    def _drop(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response = None
        self._chunks = None
        self._pending = b""

    def close(self) -> None:
        self._drop()
        super().close()
