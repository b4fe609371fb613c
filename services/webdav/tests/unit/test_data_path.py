"""The data path's pure rules (issue 38): which GETs are redirected, and how a body is cut into
multipart parts without gathering a part in memory."""

from __future__ import annotations

import queue

import pytest

from docstore_webdav.domain.redirects import DEFAULT_USER_AGENTS, follows_redirects, redirect_get
from docstore_webdav.service_layer.provider import _Feed


@pytest.mark.parametrize(
    ("agent", "opt_in", "expected"),
    [
        ("rclone/v1.60.1", None, True),
        ("Go-http-client/1.1", None, True),
        ("curl/7.88.1", None, False),  # curl follows only with -L: it opts in explicitly
        ("curl/7.88.1", "follow", True),
        ("rclone/v1.60.1", "stream", False),  # a client may always ask for the bytes themselves
        ("Microsoft-WebDAV-MiniRedir/10.0.19045", None, False),
        ("WebDAVFS/3.0.0 (03008000) Darwin/22.1.0 (arm64)", None, False),  # Finder
        ("davfs2/1.7.0 neon/0.32.5", None, False),
        ("litmus/0.13 neon/0.32.5", None, False),
        ("", None, False),
        ("rclone/v1.60.1", "maybe", True),  # an unknown choice falls back to the User-Agent
    ],
)
def test_who_gets_a_redirect(agent: str, opt_in: str | None, expected: bool) -> None:
    assert follows_redirects(agent, opt_in, DEFAULT_USER_AGENTS) is expected


def test_no_prefixes_means_always_stream_unless_asked() -> None:
    assert not follows_redirects("rclone/v1.60.1", None, [])
    assert not follows_redirects("rclone/v1.60.1", None, [""])
    assert follows_redirects("anything", "follow", [])


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"REQUEST_METHOD": "GET", "HTTP_USER_AGENT": "rclone/v1.60.1"}, True),
        ({"REQUEST_METHOD": "GET", "HTTP_USER_AGENT": "rclone/v1.60.1", "HTTP_RANGE": "bytes=0-9"}, True),
        ({"REQUEST_METHOD": "HEAD", "HTTP_USER_AGENT": "rclone/v1.60.1"}, False),
        ({"REQUEST_METHOD": "GET", "HTTP_USER_AGENT": "rclone/v1.60.1", "HTTP_IF_NONE_MATCH": '"x"'}, False),
        ({"REQUEST_METHOD": "GET", "HTTP_USER_AGENT": "rclone/v1.60.1", "HTTP_IF_RANGE": '"x"'}, False),
        ({"REQUEST_METHOD": "GET", "HTTP_X_DOCSTORE_REDIRECT": "follow"}, True),
        ({"REQUEST_METHOD": "PUT", "HTTP_X_DOCSTORE_REDIRECT": "follow"}, False),
    ],
)
def test_only_plain_gets_are_redirected(environ: dict[str, str], expected: bool) -> None:
    assert redirect_get(environ, DEFAULT_USER_AGENTS) is expected


def _feed(blocks: list[bytes]) -> _Feed:
    q: queue.Queue[bytes | None] = queue.Queue()
    for block in [*blocks, None]:
        q.put(block)
    return _Feed(q)


def test_parts_are_cut_at_their_lengths_across_blocks() -> None:
    feed = _feed([b"abcde", b"fgh", b"ijklmnop"])
    parts = [b"".join(feed.take(n)) for n in (4, 4, 4, 4)]
    assert parts == [b"abcd", b"efgh", b"ijkl", b"mnop"]
    assert b"".join(feed.take(4)) == b""  # the body ended


def test_a_short_body_ends_the_part_short() -> None:
    feed = _feed([b"abc"])
    assert b"".join(feed.take(5)) == b"abc"
    assert list(feed.all()) == []


def test_a_form_takes_every_block() -> None:
    assert b"".join(_feed([b"ab", b"", b"cd"]).all()) == b"abcd"
