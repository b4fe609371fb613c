"""The gateway's WebDAV edge (issue 38), pure: which paths, a scope's methods, Destination."""

from __future__ import annotations

import pytest

from docstore_gateway.domain.webdav import READ_METHODS, WRITE_METHODS, destination_path, is_webdav, scope_refusal


def test_webdav_paths() -> None:
    assert is_webdav("/remote.php/dav/files/alice/x")
    assert is_webdav("/remote.php/webdav")
    assert is_webdav("/remote.php/webdav/a")
    assert not is_webdav("/remote.php/webdavx")
    assert not is_webdav("/v1/documents")


@pytest.mark.parametrize("method", sorted(READ_METHODS))
def test_read_only_reads(method: str) -> None:
    assert scope_refusal("read-only", method) is None


@pytest.mark.parametrize("method", sorted(WRITE_METHODS))
def test_read_only_writes_nothing(method: str) -> None:
    refused = scope_refusal("read-only", method)
    assert refused is not None and refused.status == 403
    assert scope_refusal("webdav-sync", method) is None
    assert scope_refusal(None, method) is None
    assert scope_refusal("something-else", method) is not None


def test_destination_made_path_only() -> None:
    assert destination_path("http://h:8080/remote.php/webdav/b", request_host="h:8080") == "/remote.php/webdav/b"
    assert destination_path("/remote.php/webdav/b", request_host="h") == "/remote.php/webdav/b"
    assert destination_path("http://evil/remote.php/webdav/b", request_host="h") is None
    assert destination_path("relative/b", request_host="h") is None


def test_answers_without_a_body() -> None:
    from docstore_gateway.domain.webdav import without_body

    assert without_body(204) and without_body(304) and without_body(101)
    assert not without_body(200) and not without_body(207) and not without_body(423)


def test_a_handoff_range_is_one_closed_range_of_bytes() -> None:
    from docstore_gateway.domain.webdav import handoff_length

    assert handoff_length("bytes=0-0") == 1
    assert handoff_length("bytes=8-10") == 3
    assert handoff_length("bytes=0-1073741823") == 1 << 30
    for bad in ("", "bytes=5-4", "bytes=-5", "bytes=5-", "items=0-1", "bytes=0-1,4-5", "bytes= 0-1x"):
        assert handoff_length(bad) is None, bad
