"""A multipart PUT's parts sent while the body arrives (service_layer/parts.py): at most `in_flight`
at once (the body is not read further meanwhile), each part whole and in its place, and a failing
part or a body that ends short aborts the upload after every part's PUT has ended, so nothing is
left stored. Fakes for upload (grant, abort) and S3 (the part URLs)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from typing import Any

import pytest
from wsgidav.dav_error import HTTP_BAD_REQUEST, HTTP_SERVICE_UNAVAILABLE, DAVError

from docstore_webdav.adapters.backend import BackendError
from docstore_webdav.service_layer.parts import PartPool
from docstore_webdav.service_layer.provider import ACCOUNT, DocStoreProvider, Document, Writer, parallel_parts

ACC = "acc"
PART = 8
WAIT = 10.0  # seconds a condition may take on a loaded machine (never waited when all is well)


class Upload:
    """Upload's grant and abort, and S3's part URLs: parts are stored per upload until aborted."""

    def __init__(self, parts: int, *, fail: int | None = None, hold: bool = False) -> None:
        self.parts = parts
        self.fail = fail
        self.stored: dict[str, bytes] = {}
        self.aborted: list[str] = []
        self.sending = 0
        self.most_sending = 0
        self.sending_at_abort: int | None = None
        self.changed = threading.Condition()
        self.attempted: list[str] = []
        self.failed_once = threading.Event()
        self.go = threading.Event()
        if not hold:
            self.go.set()

    def grant(self, account_id: str, grant: dict[str, Any]) -> dict[str, Any]:
        urls = [{"number": n, "url": f"s3://up1/{n}"} for n in range(1, self.parts + 1)]
        return {"upload_id": "up1", "document_id": "d1", "multipart": {"part_size": PART, "parts": urls}}

    def put_part(self, url: str, body: Iterable[bytes], length: int) -> None:
        with self.changed:
            self.attempted.append(url)
            self.sending += 1
            self.most_sending = max(self.most_sending, self.sending)
            self.changed.notify_all()
        try:
            assert self.go.wait(WAIT)
            data = b"".join(body)
            assert len(data) == length
            if self.fail is not None and url.endswith(f"/{self.fail}"):
                self.failed_once.set()
                raise BackendError(503, "S3 unavailable")
            if self.fail is not None:  # the other parts end after the failing one
                assert self.failed_once.wait(WAIT)
            self.stored[url] = data
        finally:
            with self.changed:
                self.sending -= 1
                self.changed.notify_all()

    def abort(self, account_id: str, upload_id: str) -> None:
        self.sending_at_abort = self.sending
        self.aborted.append(upload_id)
        self.stored = {url: data for url, data in self.stored.items() if not url.startswith(f"s3://{upload_id}/")}

    def wait_sending(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.sending >= count, WAIT)


def _body(parts: int) -> bytes:
    return bytes(range(256)) * (parts * PART // 256 + 1)


def _written(upload: Upload, body: bytes, **options: Any) -> Writer:
    """A `Writer` of upload's grant (`options`: its pool and part settings), `body` written in
    blocks of 3 bytes, then closed."""
    writer = Writer(upload, upload.grant(ACC, {}), len(body), "big.bin", **options)  # type: ignore[arg-type]
    for at in range(0, len(body), 3):
        writer.write(body[at : at + 3])
    writer.close()
    return writer


def _put(
    upload: Upload, body: bytes, *, declared: int, in_flight: int = 2, headers: dict[str, str] | None = None
) -> Document:
    """A PUT as WsgiDAV makes it (begin_write, write blocks of 3 bytes, close, end_write)."""
    provider = DocStoreProvider(
        upload,  # type: ignore[arg-type]  (the fake answers what the writer asks)
        None,  # type: ignore[arg-type]  (no facts are recorded on these paths)
        small_body_bytes=0,
        part_pool=PartPool(8),
        parts_in_flight=in_flight,
        part_buffer_bytes=1 << 30,
    )
    environ = {ACCOUNT: ACC, "REQUEST_METHOD": "PUT", "CONTENT_LENGTH": str(declared), "wsgidav.provider": provider}
    environ |= headers or {}
    doc = Document(provider, ACC, ("big.bin",), None, environ)
    writer = doc.begin_write()
    try:
        for at in range(0, len(body), 3):
            writer.write(body[at : at + 3])
        writer.close()
    except Exception:
        doc.end_write(with_errors=True)
        raise
    doc.end_write(with_errors=False)
    return doc


def test_parts_go_at_most_in_flight_at_once_and_the_body_waits() -> None:
    upload = Upload(6, hold=True)
    body = _body(6)[: 6 * PART - 3]  # the last part shorter
    writer = Writer(
        upload,  # type: ignore[arg-type]
        upload.grant(ACC, {}),
        len(body),
        "big.bin",
        pool=PartPool(8),
        parts_in_flight=2,
        part_buffer_bytes=1 << 30,
    )
    done = threading.Event()

    def write_all() -> None:
        for at in range(0, len(body), 3):
            writer.write(body[at : at + 3])
        writer.close()
        done.set()

    thread = threading.Thread(target=write_all)
    thread.start()
    upload.wait_sending(2)
    assert not done.wait(0.2)  # two parts sending: the third is gathered, then the body waits
    assert writer.written <= 3 * PART + 3
    upload.go.set()
    thread.join(WAIT)
    assert done.is_set()
    assert upload.most_sending == 2
    assert writer.failed is None
    assert b"".join(upload.stored[f"s3://up1/{n}"] for n in range(1, 7)) == body


def test_a_failing_part_stops_the_body_and_aborts_with_nothing_left() -> None:
    upload = Upload(8, fail=2)
    body = _body(8)[: 8 * PART]
    with pytest.raises(DAVError) as refused:
        _put(upload, body, declared=len(body))
    assert refused.value.value == HTTP_SERVICE_UNAVAILABLE
    assert upload.aborted == ["up1"]
    assert upload.sending_at_abort == 0  # every part's PUT had ended before the abort
    assert upload.stored == {}
    assert sorted(upload.attempted) == ["s3://up1/1", "s3://up1/2"]  # no part sent after the failure


def test_a_body_that_ends_short_aborts_with_nothing_left() -> None:
    upload = Upload(4)
    body = _body(4)[: 4 * PART]
    with pytest.raises(DAVError) as refused:
        _put(upload, body[: 3 * PART - 1], declared=len(body))  # the client went away
    assert refused.value.value == HTTP_BAD_REQUEST
    assert upload.aborted == ["up1"]
    assert upload.sending_at_abort == 0
    assert upload.stored == {}


@pytest.mark.parametrize("pool", [None, PartPool(8)])
def test_without_room_for_two_parts_they_are_streamed_one_at_a_time(pool: PartPool | None) -> None:
    upload = Upload(3)
    body = _body(3)[: 3 * PART - 5]
    # not even room for one part and the next
    writer = _written(upload, body, pool=pool, parts_in_flight=4, part_buffer_bytes=PART)
    assert writer.failed is None
    assert upload.most_sending == 1
    assert b"".join(upload.stored[f"s3://up1/{n}"] for n in range(1, 4)) == body


@pytest.mark.parametrize(
    ("part_size", "in_flight", "budget", "expected"),
    [
        (16, 4, 160, 4),  # (4 + 1) x 16 fits
        (64, 4, 160, 1),  # only one part and the next fit
        (100, 4, 160, 0),  # not even two: one part at a time, streamed
        (16, 0, 160, 0),  # turned off
    ],
)
def test_parts_in_flight_fit_the_buffer(part_size: int, in_flight: int, budget: int, expected: int) -> None:
    assert parallel_parts(part_size, in_flight, budget) == expected


def test_a_body_that_is_not_what_oc_checksum_says_is_refused_and_nothing_kept() -> None:
    """ownCloud's clients (rclone `vendor=owncloud`, the desktop client) send the body's SHA-1 in
    `OC-Checksum`; a body that arrived otherwise is 400, its upload aborted."""
    import hashlib

    body = _body(3)[: 3 * PART]
    wrong = hashlib.sha1(body + b"x").hexdigest()  # noqa: S324
    upload = Upload(3)
    with pytest.raises(DAVError) as refused:
        _put(upload, body, declared=len(body), headers={"HTTP_OC_CHECKSUM": f"SHA1:{wrong}"})
    assert refused.value.value == HTTP_BAD_REQUEST and "OC-Checksum" in str(refused.value.context_info)
    assert "s3://up1/3" not in upload.attempted  # the last part never left
    assert upload.aborted == ["up1"] and upload.stored == {}


@pytest.mark.parametrize("in_flight", [2, 0])
def test_what_upload_is_told_of_a_multipart_body_is_each_parts_md5_as_sent(in_flight: int) -> None:
    """`Writer.sent`: the whole body's sha256 and each part's MD5 (S3's ETag of that part), in
    order, whether parts go side by side or are streamed one at a time."""
    upload = Upload(3)
    body = _body(3)[: 3 * PART - 5]
    writer = _written(upload, body, pool=PartPool(8), parts_in_flight=in_flight, part_buffer_bytes=1 << 30)
    parts = [upload.stored[f"s3://up1/{n}"] for n in range(1, 4)]
    assert writer.sent() == {
        "sha256": hashlib.sha256(body).hexdigest(),
        "part_md5s": [hashlib.md5(part).hexdigest() for part in parts],  # noqa: S324  (S3's ETag)
    }
