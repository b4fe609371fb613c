"""A text file's preview is its first lines, whatever line boundaries it uses: a lone "\r"
(classic Mac files), "\x1c"-"\x1e", "\x85" or U+2029 inside a line made Pillow's text layout fail,
and the file got no preview (and a parser-bug log line) instead of one. A file labelled text
whose start is binary gets no page of replacement characters."""

from __future__ import annotations

import io
import os
import time

import pytest
from PIL import Image

from docstore_indexer.adapters.rendering import render
from docstore_indexer.domain.previews import NOT_TEXT, PreviewFailed, RenderOptions


@pytest.mark.parametrize(
    "boundary", ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
)
def test_every_line_boundary_gives_a_page(boundary: str) -> None:
    text = boundary.join(f"line {n} of the minutes" for n in range(60))
    small, large = render(text.encode(), "text/plain", RenderOptions(deadline=time.monotonic() + 30))
    assert Image.open(io.BytesIO(large.data)).size == (768, 1024)
    assert small.width < large.width


def test_bytes_that_are_not_text_get_no_page_of_replacement_characters() -> None:
    with pytest.raises(PreviewFailed, match=NOT_TEXT):
        render(os.urandom(10_240), "text/plain", RenderOptions(deadline=time.monotonic() + 30))


def test_latin1_text_labelled_utf8_still_gives_a_page() -> None:
    text = "\n".join("Réunion du comité: le budget de la confiture est approuvé." for _ in range(40))
    assert len(render(text.encode("latin-1"), "text/plain", RenderOptions(deadline=time.monotonic() + 30))) == 2
