"""The pure parts of the WebDAV service: path mapping, properties, lock rules."""

from __future__ import annotations

import pytest

from docstore_webdav.domain import properties as oc
from docstore_webdav.domain.locks import is_child, lock_root, timeout_for
from docstore_webdav.domain.paths import (
    NotOurs,
    client_href,
    folder_path,
    internal_path,
    parent_and_name,
    segments,
    split_client_path,
)


def test_both_url_forms_map_to_the_callers_tree() -> None:
    root = split_client_path("/remote.php/dav/files/alice/a/b.txt")
    assert (root.prefix, root.username, root.rest) == ("/remote.php/dav/files/alice", "alice", "/a/b.txt")
    assert split_client_path("/remote.php/dav/files/alice").rest == "/"
    old = split_client_path("/remote.php/webdav/a/")
    assert (old.prefix, old.username, old.rest) == ("/remote.php/webdav", None, "/a/")
    assert split_client_path("/remote.php/webdav").rest == "/"
    for path in ("/remote.php/dav/files/", "/remote.php/webdavx", "/v1/documents", "/remote.php/dav/calendars/a"):
        with pytest.raises(NotOurs):
            split_client_path(path)


def test_internal_paths_are_keyed_by_account_and_map_back() -> None:
    assert internal_path("acc", "/a/b") == "/acc/a/b"
    assert internal_path("acc", "/") == "/acc/"
    assert client_href("/remote.php/webdav", "acc", "/acc/a%20b/") == "/remote.php/webdav/a b/"
    with pytest.raises(NotOurs):
        client_href("/remote.php/webdav", "acc", "/other/a")
    with pytest.raises(NotOurs):
        client_href("/remote.php/webdav", "acc", "/accX/a")


@pytest.mark.parametrize("rest", ["/a/../b", "/./a", "/a\\b", "/a\x00b", "/" + "x" * 256])
def test_tricky_segments_are_refused(rest: str) -> None:
    with pytest.raises(NotOurs):
        segments(rest)


def test_segments_and_folders() -> None:
    assert segments("/a/b/") == ("a", "b")
    assert segments("/") == ()
    assert folder_path(()) == "/"
    assert folder_path(("a", "b")) == "/a/b"
    assert parent_and_name(("a", "b")) == ("/a", "b")
    assert parent_and_name(("b",)) == ("/", "b")
    with pytest.raises(NotOurs):
        parent_and_name(())


def test_etag_changes_with_the_content_only() -> None:
    assert oc.etag("a" * 64, 3) == oc.etag("a" * 64, 3)
    assert oc.etag("a" * 64, 3) != oc.etag("b" * 64, 3)


def test_checksums_in_owncloud_order() -> None:
    assert oc.checksums({"sha256": "s2", "md5": "m", "sha1": "s1"}) == "SHA1:s1 MD5:m SHA256:s2"
    assert oc.checksums({"sha256": "s2"}) == "SHA256:s2"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("1700000000", 1700000000.0), ("1700000000.5", 1700000000.5), (None, None), ("", None), ("-1", None),
     ("abc", None), ("1e9", None), ("99999999999999", None), ("0", None)],
)  # fmt: skip
def test_oc_mtime(header: str | None, expected: float | None) -> None:
    assert oc.parse_mtime(header) == expected


def test_oc_checksum_header() -> None:
    assert oc.parse_oc_checksum("SHA1:" + "A" * 40) == ("sha1", "a" * 40)
    assert oc.parse_oc_checksum("MD5:" + "0" * 32) == ("md5", "0" * 32)
    assert oc.parse_oc_checksum("SHA1:xyz") is None
    assert oc.parse_oc_checksum("ADLER32:1234") is None
    assert oc.parse_oc_checksum(None) is None


def test_locks_are_short_lived() -> None:
    assert timeout_for(None, 600) == 600
    assert timeout_for(-1, 600) == 600  # infinity: the cap
    assert timeout_for("Second-3600", 600) == 600  # nonsense: the cap
    assert timeout_for(30, 600) == 30
    assert timeout_for(10_000, 600) == 600
    assert timeout_for(float("nan"), 600) == 600


def test_lock_roots_and_children() -> None:
    assert lock_root("/acc/a/") == "/acc/a"
    assert lock_root("/") == "/"
    assert is_child("/acc/a", "/acc/a/b")
    assert not is_child("/acc/a", "/acc/ab")
    assert not is_child("/acc/a", "/acc/a")
