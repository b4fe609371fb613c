"""Preview rules (pure): which renderer for which type, sizes, the pixel limit, keys, and the
one-entry-per-version rule that makes redelivery harmless."""

from __future__ import annotations

import pytest

from docstore_indexer.domain.previews import (
    DUE,
    HEIF,
    IMAGE,
    OFFICE,
    PDF,
    READY,
    TEXT,
    VIDEO,
    PreviewEntry,
    PreviewFailed,
    check_pixels,
    document_prefix,
    fit,
    known_without_rendering,
    on_version,
    preview_key,
    reads_as_text,
    renderer_for,
)


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("image/jpeg", IMAGE),
        ("IMAGE/PNG", IMAGE),
        ("image/gif", IMAGE),
        ("image/webp", IMAGE),
        ("image/tiff", IMAGE),
        ("image/heic", HEIF),
        ("image/heif", HEIF),
        ("application/pdf", PDF),
        ("video/mp4", VIDEO),
        ("video/quicktime", VIDEO),
        ("text/plain; charset=utf-8", TEXT),
        ("text/markdown", TEXT),
        ("application/json", TEXT),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", OFFICE),
        ("application/vnd.oasis.opendocument.presentation", OFFICE),
        ("text/html", None),
        ("application/zip", None),
        ("application/msword", None),
        ("application/octet-stream", None),
        ("", None),
    ],
)
def test_renderer_for(content_type: str, kind: str | None) -> None:
    assert renderer_for(content_type) == kind


def test_fit_scales_down_never_up() -> None:
    assert fit(4000, 3000, 1024) == (1024, 768)
    assert fit(3000, 4000, 256) == (192, 256)
    assert fit(300, 200, 1024) == (300, 200)
    assert fit(100_000, 10, 256) == (256, 1)
    with pytest.raises(PreviewFailed):
        fit(0, 10, 256)


def test_pixel_limit_refuses_bombs_before_decoding() -> None:
    check_pixels(6000, 6000, 40_000_000)
    with pytest.raises(PreviewFailed, match="image too large"):
        check_pixels(50_000, 50_000, 40_000_000)
    with pytest.raises(PreviewFailed):
        check_pixels(0, 0, 40_000_000)


def test_keys_follow_the_contract() -> None:
    assert preview_key("eu-west-1", "acc", "doc", 3, "small", "webp") == "previews/eu-west-1/acc/doc/v3/small.webp"
    assert preview_key("eu-west-1", "acc", "doc", 3, "large", "jpg").startswith(
        document_prefix("eu-west-1", "acc", "doc")
    )
    # A document's prefix never holds another document whose id starts the same way.
    assert document_prefix("r", "acc", "doc") == "previews/r/acc/doc/"


def test_a_version_gets_one_entry() -> None:
    new = PreviewEntry("acc", "doc", 1, DUE)
    assert on_version(None, new) == new
    assert on_version(PreviewEntry("acc", "doc", 1, READY), new) is None
    assert on_version(PreviewEntry("acc", "doc", 1, DUE), new) is None


def test_what_type_and_size_say_before_anything_is_read() -> None:
    assert known_without_rendering("application/zip", 10, 1000) == "unsupported type"
    assert known_without_rendering("application/octet-stream", 10, 1000) == "unsupported type"
    assert known_without_rendering("image/png", 1001, 1000) == "file too large for a preview (over 1,000 bytes)"
    assert known_without_rendering("image/png", 1000, 1000) is None  # only a render can tell
    assert known_without_rendering("text/plain; charset=utf-8", 10, 1000) is None


@pytest.mark.parametrize(
    ("text", "readable"),
    [
        ("plain words\twith\ttabs\r\nand lines\x0c", True),
        ("é" * 9 + "\ufffd", True),  # one in ten
        ("é" * 8 + "\ufffd\ufffd", False),
        ("abcdefghi\x01", True),
        ("abcdefgh\x01\x1b", False),
        ("", True),
    ],
)
def test_what_reads_as_text(text: str, readable: bool) -> None:
    assert reads_as_text(text) is readable
