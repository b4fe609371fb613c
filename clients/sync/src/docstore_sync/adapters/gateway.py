"""The gateway's public API, and S3 transfers through the URLs it signs. Every call is retried
with exponential backoff (and jitter) on 5xx answers and network errors; other answers are
returned or raised as `ApiError` with the problem's `detail`."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from docstore_sync.domain.plan import RemoteFile

RETRIES = 5
BACKOFF_START = 0.5
BACKOFF_MAX = 8.0
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
STREAM_CHUNK = 256 * 1024

Progress = Callable[[int], None]


class ApiError(Exception):
    """An answer the client cannot go on from: status and the server's `detail`, in one line."""

    def __init__(self, status: int, detail: str, body: Any = None) -> None:
        super().__init__(f"{status} {detail}")
        self.status = status
        self.detail = detail
        self.body = body


class NetworkError(Exception):
    """The server could not be reached after every retry."""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, dict):
        detail = detail.get("message") or detail
    if isinstance(detail, list):  # FastAPI's 422: the first complaint is enough for one line
        first = detail[0] if detail else {}
        detail = first.get("msg", first) if isinstance(first, dict) else first
    return str(detail)


def with_retries(call: Callable[[], httpx.Response], what: str) -> httpx.Response:
    """`call()` until it answers below 500; network errors and 5xx are retried with backoff."""
    delay = BACKOFF_START
    for attempt in range(RETRIES):
        try:
            response = call()
        except httpx.TransportError as error:
            if attempt == RETRIES - 1:
                raise NetworkError(f"{what}: {error.__class__.__name__}: {error}") from error
        else:
            if response.status_code < 500 or attempt == RETRIES - 1:
                return response
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, BACKOFF_MAX)
    raise AssertionError("unreachable")


class RateLimit:
    """A token bucket shared by every transfer of one run (`--max-rate`, bytes per second)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.lock = threading.Lock()
        self.allowance = 0.0
        self.last = time.monotonic()

    def take(self, n: int) -> None:
        if not self.rate:
            return
        with self.lock:
            now = time.monotonic()
            self.allowance = min(self.rate, self.allowance + (now - self.last) * self.rate)
            self.last = now
            self.allowance -= n
            owed = -self.allowance / self.rate if self.allowance < 0 else 0.0
        if owed > 0:
            time.sleep(owed)


def _file_chunks(path: Path, offset: int, length: int, limit: RateLimit, progress: Progress | None) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(offset)
        left = length
        while left > 0:
            chunk = f.read(min(STREAM_CHUNK, left))
            if not chunk:
                raise ChangedWhileReading(f"{path.name}: shorter than when it was scanned")
            limit.take(len(chunk))
            left -= len(chunk)
            if progress:
                progress(len(chunk))
            yield chunk


class ChangedWhileReading(Exception):
    """The file moved under the client while it was being sent."""


@dataclass
class Session:
    gateway: str
    token: str
    account_id: str
    refresh_token: str | None = None
    """Spent (once) for the next access token when this one has expired: access tokens last minutes."""


class Gateway:
    """One logged-in session's calls."""

    def __init__(
        self,
        session: Session,
        *,
        max_rate: float | None = None,
        concurrency: int = 4,
        on_refresh: Callable[[Session], None] | None = None,
    ) -> None:
        self.session = session
        self.on_refresh = on_refresh
        self._refreshing = threading.Lock()
        self.http = httpx.Client(
            base_url=session.gateway,
            headers={"Authorization": f"Bearer {session.token}"},
            timeout=TIMEOUT,
        )
        self.s3 = httpx.Client(timeout=TIMEOUT)
        self.limit = RateLimit(max_rate)
        self.concurrency = max(1, concurrency)

    def close(self) -> None:
        self.http.close()
        self.s3.close()

    def call(self, method: str, url: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        token = self.session.token
        response = with_retries(lambda: self.http.request(method, url, **kwargs), f"{method} {url}")
        if response.status_code == 401 and 401 not in ok and self._refresh(token):
            response = with_retries(lambda: self.http.request(method, url, **kwargs), f"{method} {url}")
        if response.status_code not in ok:
            body = None
            try:
                body = response.json()
            except ValueError:
                pass
            raise ApiError(response.status_code, _detail(response), body)
        return response

    def _refresh(self, expired: str) -> bool:
        """A new access token for the refresh token (once per expiry, whichever thread asks
        first); False when there is none or the server refused it (sign in again)."""
        with self._refreshing:
            if self.session.token != expired:
                return True  # another call refreshed meanwhile
            if not self.session.refresh_token:
                return False
            answer = with_retries(
                lambda: self.http.post("/v1/sessions/refresh", json={"refresh_token": self.session.refresh_token}),
                "refresh the session",
            )
            if answer.status_code != 200:
                return False
            body = answer.json()
            self.session.token, self.session.refresh_token = body["token"], body.get("refresh_token")
            self.http.headers["Authorization"] = f"Bearer {self.session.token}"
            if self.on_refresh is not None:
                self.on_refresh(self.session)
            return True

    # --- account -------------------------------------------------------------------------
    def account(self) -> dict[str, Any]:
        return dict(self.call("GET", "/v1/account").json())

    def usage(self) -> dict[str, Any]:
        return dict(self.call("GET", "/v1/usage").json())

    def log_out(self) -> None:
        self.call("DELETE", "/v1/sessions/current", ok=(204, 401))

    # --- remote state --------------------------------------------------------------------
    def documents(self) -> Iterator[dict[str, Any]]:
        """Every live document of the account, page after page."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 200, "sort": "name"}
            if cursor:
                params["cursor"] = cursor
            page = self.call("GET", "/v1/documents", params=params).json()
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def folders(self, path: str = "/") -> Iterator[dict[str, Any]]:
        """Every live folder at and below `path` (empty ones too), parents before children."""
        todo = [path]
        while todo:
            parent = todo.pop(0)
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"path": parent, "limit": 200}
                if cursor:
                    params["cursor"] = cursor
                page = self.call("GET", "/v1/folders", params=params).json()
                for folder in page["items"]:
                    yield folder
                    todo.append(folder["path"])
                cursor = page.get("next_cursor")
                if not cursor:
                    break

    def create_folder(self, parent: str, name: str) -> None:
        """An (empty) folder on the server; one that exists already is fine (409 names it)."""
        self.call("POST", "/v1/folders", ok=(201, 409), json={"parent": parent, "name": name})

    def folder_at(self, path: str) -> dict[str, Any] | None:
        """The live folder at `path`, or None."""
        response = self.call("GET", "/v1/folders/at", ok=(200, 404), params={"path": path})
        return dict(response.json()) if response.status_code == 200 else None

    def move_folder(self, folder_id: str, parent: str, name: str) -> dict[str, Any]:
        """Rename and/or move a folder with everything inside: one request, no bytes travel."""
        return dict(self.call("PATCH", f"/v1/folders/{folder_id}", json={"parent": parent, "name": name}).json())

    def trash_folder(self, folder_id: str) -> None:
        """A folder and everything inside to the trash (restorable as a whole); gone already is fine."""
        self.call("DELETE", f"/v1/folders/{folder_id}", ok=(204, 404, 410))

    def document(self, document_id: str) -> dict[str, Any] | None:
        response = self.call("GET", f"/v1/documents/{document_id}", ok=(200, 404, 410))
        return dict(response.json()) if response.status_code == 200 else None

    def changes(self, cursor: str | None, wait: float = 0) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        if wait:
            params["wait"] = wait
        page = self.call("GET", "/v1/changes", params=params, timeout=httpx.Timeout(wait + 30)).json()
        return list(page["items"]), page.get("next_cursor") or cursor

    def feed_end(self, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Every change after `cursor`, and the position after the last one."""
        entries: list[dict[str, Any]] = []
        while True:
            items, cursor = self.changes(cursor)
            entries.extend(items)
            if len(items) < 1000:
                return entries, cursor

    def move(self, document_id: str, path: str, name: str) -> dict[str, Any]:
        """Rename and/or move a document (no bytes travel); the document as it is now. A 409 when
        another live document holds that name in that folder."""
        return dict(self.call("PATCH", f"/v1/documents/{document_id}", json={"name": name, "path": path}).json())

    def trash(self, document_id: str) -> None:
        """Move to the trash (never a permanent delete); a document already gone is fine."""
        self.call("DELETE", f"/v1/documents/{document_id}", ok=(204, 404, 410))

    # --- downloads -------------------------------------------------------------------------
    def download(self, document_id: str, version: int | None, into: Path, progress: Progress | None = None) -> str:
        """Stream the document's bytes into `into`; returns their sha256."""
        params = {"version": version} if version else {}
        url = self.call("GET", f"/v1/documents/{document_id}/download", params=params).json()["url"]
        delay = BACKOFF_START
        for attempt in range(RETRIES):
            digest = hashlib.sha256()
            try:
                with self.s3.stream("GET", url) as response, into.open("wb") as out:
                    if response.status_code >= 500 and attempt < RETRIES - 1:
                        raise httpx.TransportError(f"S3 answered {response.status_code}")
                    if response.status_code != 200:
                        raise ApiError(response.status_code, "the download was refused by storage")
                    for chunk in response.iter_bytes(STREAM_CHUNK):
                        self.limit.take(len(chunk))
                        digest.update(chunk)
                        out.write(chunk)
                        if progress:
                            progress(len(chunk))
                return digest.hexdigest()
            except httpx.TransportError as error:
                if attempt == RETRIES - 1:
                    raise NetworkError(f"download: {error}") from error
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, BACKOFF_MAX)
        raise AssertionError("unreachable")

    # --- uploads -------------------------------------------------------------------------
    def grant(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", "/v1/uploads", ok=(201,), json=body).json())

    def grant_batch(self, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Up to 100 form grants in one request: per item, its `grant` or its `problem`."""
        return list(self.call("POST", "/v1/uploads/batch", json={"uploads": bodies}).json()["results"])

    def complete_batch(self, upload_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Up to 100 completions in one request: upload id -> its `upload` state or its `problem`."""
        answer = self.call("POST", "/v1/uploads/batch/complete", json={"upload_ids": upload_ids}).json()
        return {item["upload_id"]: item for item in answer["results"]}

    def send_form(self, form: dict[str, Any], path: Path, size: int, name: str, progress: Progress | None) -> None:
        data = self._read_whole(path, size, name)
        response = with_retries(
            lambda: self.s3.post(form["url"], data=form["fields"], files={"file": (name, data)}), "S3 form upload"
        )
        self._sent(response, size, progress)

    def send_put(self, put: dict[str, Any], path: Path, size: int, name: str, progress: Progress | None) -> None:
        """A batch item's presigned PUT (`put: true`): the bytes with exactly the signed headers;
        S3 refuses other bytes than the sha256 the grant pinned (400) or other headers (403)."""
        data = self._read_whole(path, size, name)
        response = with_retries(lambda: self.s3.put(put["url"], content=data, headers=put["headers"]), "S3 upload")
        self._sent(response, size, progress)

    def _read_whole(self, path: Path, size: int, name: str) -> bytes:
        data = path.read_bytes()
        if len(data) != size:
            raise ChangedWhileReading(f"{name}: changed while it was being read")
        self.limit.take(size)
        return data

    @staticmethod
    def _sent(response: httpx.Response, size: int, progress: Progress | None) -> None:
        if response.status_code not in (200, 201, 204):
            raise ApiError(response.status_code, f"storage refused the upload: {response.text[:200]}")
        if progress:
            progress(size)

    def parts(self, upload_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/v1/uploads/{upload_id}/parts").json())

    def send_parts(
        self,
        path: Path,
        part_size: int,
        size: int,
        urls: dict[int, str],
        progress: Progress | None,
        layout: dict[int, tuple[int, int]] | None = None,
    ) -> None:
        """PUT the given parts (number -> URL) side by side, `concurrency` at a time. A part's
        bytes are `layout[number]` (offset, length) when the server gave them (a delta upload's
        parts differ in size), else the `part_size` slice its number says."""

        def put(number: int, url: str) -> None:
            if layout and number in layout:
                offset, length = layout[number]
            else:
                offset = (number - 1) * part_size
                length = min(part_size, size - offset)
            sent = [0]

            def counted(n: int) -> None:
                sent[0] += n
                if progress:
                    progress(n)

            def once() -> httpx.Response:
                if sent[0] and progress:  # a retry sends the part again: take back what was shown
                    progress(-sent[0])
                sent[0] = 0
                return self.s3.put(
                    url,
                    content=_file_chunks(path, offset, length, self.limit, counted),
                    headers={"Content-Length": str(length)},
                )

            response = with_retries(once, f"part {number}")
            if response.status_code != 200:
                raise ApiError(response.status_code, f"storage refused part {number}: {response.text[:200]}")

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for future in [pool.submit(put, n, u) for n, u in sorted(urls.items())]:
                future.result()

    def complete(self, upload_id: str) -> dict[str, Any]:
        return dict(self.call("POST", f"/v1/uploads/{upload_id}/complete", ok=(200, 202)).json())

    def upload_state(self, upload_id: str) -> dict[str, Any] | None:
        response = self.call("GET", f"/v1/uploads/{upload_id}", ok=(200, 404))
        return dict(response.json()) if response.status_code == 200 else None

    def abort(self, upload_id: str) -> None:
        self.call("DELETE", f"/v1/uploads/{upload_id}", ok=(200, 404, 409))

    def recorded(self, document_id: str, sha256: str, timeout: float = 60.0) -> RemoteFile | None:
        """Wait until metadata has recorded the upload (the document's current bytes are ours);
        None if it did not within `timeout` (the change feed will tell later)."""
        deadline = time.monotonic() + timeout
        delay = 0.1
        while True:
            doc = self.document(document_id)
            if doc and doc.get("sha256") == sha256:
                return RemoteFile(document_id, int(doc["version"]), sha256)
            if time.monotonic() > deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)


MFA_ATTEMPTS = 3
"""Codes asked for one password step before starting over (the gateway throttles beyond)."""


def log_in(gateway: str, username: str, password: str, *, code_prompt: Callable[[], str] | None = None) -> Session:
    """POST /v1/sessions; a 307 to the account's home region is followed (method and body kept)
    and that region's gateway is the one remembered. For an account with two-step sign-in the
    gateway answers 401 `mfa_required` with a ticket: `code_prompt` asks for the code (TOTP or a
    recovery code), sent with the ticket to POST /v1/sessions/mfa; without one, ApiError says so."""
    url = gateway.rstrip("/") + "/v1/sessions"
    with httpx.Client(timeout=TIMEOUT) as http:
        for _ in range(3):
            body = {"username": username, "password": password, "refresh_token_in_body": True}
            response = with_retries(partial(http.post, url, json=body), "log in")
            if response.status_code == 307:
                url = str(httpx.URL(url).join(response.headers["location"]))
                continue
            ticket = _mfa_ticket(response)
            if ticket is not None:
                if code_prompt is None:
                    raise ApiError(401, "this account uses two-step sign-in: run `docstore login` and enter the code")
                url = str(httpx.URL(url).join("/v1/sessions/mfa"))
                response = _second_step(http, url, ticket, code_prompt)
            if response.status_code != 201:
                raise ApiError(response.status_code, _detail(response))
            answer = response.json()
            where = httpx.URL(url)
            base = f"{where.scheme}://{where.netloc.decode()}"
            return Session(
                gateway=base,
                token=answer["token"],
                account_id=answer["account_id"],
                refresh_token=answer.get("refresh_token"),
            )
    raise ApiError(508, "too many redirects between regions")


def _mfa_ticket(response: httpx.Response) -> str | None:
    if response.status_code != 401:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    ticket = body.get("mfa_ticket") if isinstance(body, dict) and body.get("mfa_required") else None
    return ticket if isinstance(ticket, str) else None


def _problem_type(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("type", "")) if isinstance(body, dict) else ""


def _second_step(http: httpx.Client, url: str, ticket: str, code_prompt: Callable[[], str]) -> httpx.Response:
    """Ask for the code and send it with the ticket; a wrong code is asked again a few times."""
    response = None
    for _ in range(MFA_ATTEMPTS):
        body = {"mfa_ticket": ticket, "code": code_prompt().strip(), "refresh_token_in_body": True}
        response = with_retries(partial(http.post, url, json=body), "log in (second step)")
        if not (response.status_code == 401 and _problem_type(response).endswith("wrong-code")):
            return response
    assert response is not None
    return response
