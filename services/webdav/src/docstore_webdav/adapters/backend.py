"""The other services, over HTTP, as the caller: metadata (folders, documents, the account),
upload (grants, completion: the same path as every other upload), quota (usage), and S3 through
the signed URLs they hand out. Synchronous: WsgiDAV runs each request in a worker thread."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from docstore_kit.auth import InternalAuth

PAGE = 200
log = structlog.get_logger(__name__)


class BackendError(Exception):
    """A service answered something else than asked: `status` (its own, or 503 when it is away)."""

    def __init__(self, status: int, detail: str = "", body: Any = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.body = body


def unavailable(target: str, method: str, error: httpx.HTTPError) -> BackendError:
    """The 503 for a call to `target` that got no answer, its cause logged: the client's answer
    names no cause, and without the line a 503 left nothing to find it by (ci142). The error's
    type and message only: an S3 call's URL is signed, so it stays out of the line."""
    log.warning(
        "webdav_backend_unavailable", target=target, method=method, error=f"{type(error).__name__}: {error}"[:300]
    )
    return BackendError(503, f"{target} unavailable")


@dataclass(frozen=True)
class Backend:
    auth: InternalAuth
    clients: dict[str, httpx.Client]
    s3: httpx.Client

    def _call(
        self, service: str, account_id: str, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> httpx.Response:
        headers = self.auth.headers(audience=service, subject=account_id, role="user")
        if "json" in kwargs:
            kwargs["content"] = json.dumps(kwargs.pop("json")).encode()
            headers["content-type"] = "application/json"
        try:
            response = self.clients[service].request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            raise unavailable(service, method, error) from error
        if response.status_code not in ok:
            try:
                body = response.json()
            except ValueError:
                body = None
            detail = body.get("detail") if isinstance(body, dict) else response.text[:200]
            raise BackendError(response.status_code, str(detail), body)
        return response

    # --- the account -----------------------------------------------------------------------
    def account(self, account_id: str) -> Any:
        return self._call("accounts", account_id, "GET", "/account").json()

    def usage(self, account_id: str) -> Any:
        return self._call("quota", account_id, "GET", "/usage").json()

    # --- folders ---------------------------------------------------------------------------
    def what_is_at(self, account_id: str, path: str) -> Any:
        """What lives at `path` (metadata's `GET /paths/at`): `{"folder": ...}` or `{"document": ...}`,
        the other null; None when nothing does. One request where asking for the folder, then for
        a document of that name, took three."""
        try:
            return self._call("metadata", account_id, "GET", "/paths/at", params={"path": path}).json()
        except BackendError as error:
            if error.status == 404:
                return None
            raise

    def folder_at(self, account_id: str, path: str) -> Any:
        """The live folder at `path`; None when nothing, or a document, is there."""
        return (self.what_is_at(account_id, path) or {}).get("folder")

    def folders(self, account_id: str, path: str, ahead: Executor | None = None) -> Iterator[dict[str, Any]]:
        yield from self._pages("/folders", account_id, {"path": path}, ahead)

    def documents(self, account_id: str, path: str, ahead: Executor | None = None) -> Iterator[dict[str, Any]]:
        yield from self._pages("/documents", account_id, {"path": path, "sort": "name", "order": "asc"}, ahead)

    def _pages(
        self, route: str, account_id: str, params: dict[str, str], ahead: Executor | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item, a cursor page at a time. With `ahead`, the next page is asked for there
        while the caller handles this one (metadata makes it meanwhile): two pages held at most."""

        def page(cursor: str | None) -> Any:
            query = params | {"limit": str(PAGE)} | ({"cursor": cursor} if cursor else {})
            return self._call("metadata", account_id, "GET", route, params=query).json()

        current = page(None)
        while True:
            cursor = current.get("next_cursor")
            following = None
            if cursor and ahead is not None:
                following = ahead.submit(page, cursor)
            try:
                yield from current.get("items", [])
            except GeneratorExit:  # the answer was dropped: the page asked for ahead is not needed
                if following is not None:
                    following.cancel()
                raise
            if not cursor:
                return
            current = following.result() if following is not None else page(cursor)

    def create_folder(self, account_id: str, parent: str, name: str) -> Any:
        return self._call(
            "metadata", account_id, "POST", "/folders", json={"parent": parent, "name": name}, ok=(200, 201)
        ).json()

    def change_folder(self, account_id: str, folder_id: str, **change: Any) -> Any:
        return self._call("metadata", account_id, "PATCH", f"/folders/{folder_id}", json=change).json()

    def trash_folder(self, account_id: str, folder_id: str) -> None:
        self._call("metadata", account_id, "DELETE", f"/folders/{folder_id}", ok=(200, 202, 204))

    # --- documents -------------------------------------------------------------------------
    def folder(self, account_id: str, folder_id: str) -> Any:
        try:
            return self._call("metadata", account_id, "GET", f"/folders/{folder_id}").json()
        except BackendError as error:
            if error.status in (404, 410):
                return None
            raise

    def document(self, account_id: str, document_id: str) -> Any:
        try:
            return self._call("metadata", account_id, "GET", f"/documents/{document_id}").json()
        except BackendError as error:
            if error.status in (404, 410):
                return None
            raise

    def change_document(self, account_id: str, document_id: str, **change: Any) -> Any:
        return self._call("metadata", account_id, "PATCH", f"/documents/{document_id}", json=change).json()

    def trash_document(self, account_id: str, document_id: str) -> None:
        self._call("metadata", account_id, "DELETE", f"/documents/{document_id}", ok=(200, 202, 204))

    def download_url(self, account_id: str, document_id: str, version: int | None = None) -> Any:
        """Metadata's short-lived signed URL for the bytes of `version` (the one the caller read,
        so a newer version written meanwhile is not what it gets), recorded in the audit trail."""
        params = {"version": str(version)} if version else None
        return self._call("metadata", account_id, "GET", f"/documents/{document_id}/download", params=params).json()[
            "url"
        ]

    # --- uploads ---------------------------------------------------------------------------
    def grant(self, account_id: str, grant: dict[str, Any]) -> Any:
        return self._call("upload", account_id, "POST", "/uploads", json=grant, ok=(200, 201)).json()

    def grant_pinned(self, account_id: str, grant: dict[str, Any]) -> Any:
        """One grant through upload's batch route with the bytes' sha256 (`put`): upload's dedupe
        answers `deduplicated` when the account already stores them, else a presigned PUT that S3
        holds to that sha256 (or, with checksums not pinned, a form). An item's refusal is raised
        with its own status, as the single route would answer it."""
        [item] = self.grant_many(account_id, [grant])
        if isinstance(item, BackendError):
            raise item
        return item

    def grant_many(self, account_id: str, grants: list[dict[str, Any]]) -> list[Any]:
        """Up to 100 grants in one call of upload's batch route: per item, in order, its grant, or
        its refusal as a `BackendError` with the item's own status (and its problem as `body`)."""
        answer = self._call("upload", account_id, "POST", "/uploads/batch", json={"uploads": grants}, ok=(200,))
        results: list[Any] = []
        for item in answer.json()["results"]:
            if problem := item.get("problem"):
                results.append(BackendError(int(problem["status"]), str(problem.get("detail")), problem))
            else:
                results.append(item["grant"])
        return results

    def put_object(self, url: str, headers: dict[str, str], data: bytes) -> None:
        """The bytes of a small file to its presigned PUT, with exactly the headers it was signed with."""
        self._s3("PUT", url, content=data, headers=headers, ok=(200, 201, 204))

    def complete(self, account_id: str, upload_id: str) -> tuple[int, Any]:
        answer = self._call("upload", account_id, "POST", f"/uploads/{upload_id}/complete", ok=(200, 202))
        return answer.status_code, answer.json()

    def complete_now(self, account_id: str, upload_id: str, *, sent: dict[str, Any] | None = None) -> Any:
        """Upload's completion through its batch route, which answers once the completion (and its
        `upload.completed`) is committed, without the single route's wait (up to 2 s) until
        metadata shows the version: the caller keeps the write pending itself (domain/pending.py).
        A multipart upload answers `verifying`, as on the single route, unless `sent` (the body's
        sha256 and each part's MD5, `Writer.sent`) lets upload record it at once."""
        body: dict[str, Any] = {"upload_ids": [upload_id]}
        if sent is not None:
            body["sent"] = {upload_id: sent}
        answer = self._call("upload", account_id, "POST", "/uploads/batch/complete", json=body, ok=(200,))
        item = answer.json()["results"][0]
        if item.get("problem"):
            problem = item["problem"]
            raise BackendError(int(problem["status"]), str(problem.get("detail")), problem)
        return item["upload"]

    def upload_state(self, account_id: str, upload_id: str) -> Any:
        return self._call("upload", account_id, "GET", f"/uploads/{upload_id}").json()

    def abort(self, account_id: str, upload_id: str) -> None:
        try:
            self._call("upload", account_id, "DELETE", f"/uploads/{upload_id}", ok=(200, 202, 204, 404, 409))
        except BackendError:
            pass

    # --- S3, through signed URLs -----------------------------------------------------------
    def post_form(self, url: str, fields: dict[str, str], body: Iterator[bytes], size: int, filename: str) -> None:
        """A signed POST form with the file streamed in as its last field: the body is built as it
        goes, never held."""
        boundary = uuid.uuid4().hex
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        )
        safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        def stream() -> Iterator[bytes]:
            yield head
            yield from body
            yield tail

        headers = {
            "content-type": f"multipart/form-data; boundary={boundary}",
            "content-length": str(len(head) + size + len(tail)),
        }
        self._s3("POST", url, content=stream(), headers=headers, ok=(200, 201, 204, 303))

    def put_part(self, url: str, body: Iterable[bytes], length: int) -> None:
        """One part of a multipart upload: `length` bytes from `body` (streamed as they come, or
        the blocks of a part gathered whole)."""
        self._s3("PUT", url, content=body, headers={"content-length": str(length)}, ok=(200,))

    def _s3(self, method: str, url: str, *, ok: tuple[int, ...], **kwargs: Any) -> httpx.Response:
        try:
            response = self.s3.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            raise unavailable("S3", method, error) from error
        if response.status_code not in ok:
            raise BackendError(502 if response.status_code < 500 else 503, f"S3 answered {response.status_code}")
        return response

    def open_range(self, url: str, start: int) -> httpx.Response:
        """A streamed GET of the object from byte `start` (the caller closes it)."""
        headers = {"range": f"bytes={start}-"} if start else {}
        try:
            request = self.s3.build_request("GET", url, headers=headers)
            response = self.s3.send(request, stream=True)
        except httpx.HTTPError as error:
            raise unavailable("S3", "GET", error) from error
        if response.status_code not in (200, 206):
            response.close()
            raise BackendError(503, f"S3 answered {response.status_code}")
        return response
