from __future__ import annotations

import pytest

from docstore_indexer.domain.extraction import (
    ExtractionFailed,
    extract_text,
    is_extractable,
    media_type,
    strip_html,
)

from .pdfs import make_pdf


def test_plain_text_is_read_as_utf8() -> None:
    assert extract_text("Grüße aus Köln\n".encode(), "text/plain") == "Grüße aus Köln\n"


def test_declared_charset_is_used() -> None:
    assert extract_text("café".encode("latin-1"), "text/plain; charset=ISO-8859-1") == "café"


def test_unknown_charset_falls_back_to_utf8() -> None:
    assert extract_text("naïve".encode(), "text/plain; charset=no-such-charset") == "naïve"


def test_byte_order_mark_is_dropped_and_bad_bytes_do_not_fail() -> None:
    assert extract_text(b"\xef\xbb\xbfhello \xff world", "text/plain") == "hello \ufffd world"


@pytest.mark.parametrize("content_type", ["text/markdown", "text/csv", "TEXT/CSV; charset=utf-8"])
def test_markdown_and_csv_are_text(content_type: str) -> None:
    assert extract_text(b"# Title\nname,size\nreport,12\n", content_type) == "# Title\nname,size\nreport,12\n"


def test_html_keeps_visible_text_and_title_only() -> None:
    html = """<!doctype html><html><head><title>Quarterly report</title>
    <style>body { color: red }</style><script>var secret = "hidden";</script></head>
    <body><h1>Revenue</h1><p>Grew by <b>12%</b> &amp; costs fell.</p><!-- a comment -->
    <ul><li>one</li><li>two</li></ul></body></html>"""
    text = strip_html(html)
    assert text.splitlines() == ["Quarterly report", "Revenue", "Grew by 12% & costs fell.", "one", "two"]
    assert "secret" not in text and "color" not in text and "comment" not in text and "<" not in text


def test_html_content_type_is_stripped() -> None:
    assert extract_text(b"<p>caf&eacute; <i>menu</i></p>", "text/html; charset=utf-8") == "café menu"


def test_pdf_text_of_every_page() -> None:
    text = extract_text(make_pdf(["Invoice number 4711", "Total (EUR) 99"]), "application/pdf")
    assert "Invoice number 4711" in text
    assert "Total (EUR) 99" in text


def test_corrupt_pdf_fails_with_a_reason() -> None:
    with pytest.raises(ExtractionFailed, match="PDF"):
        extract_text(b"%PDF-1.4\nthis is not really a pdf", "application/pdf")


def test_other_types_give_no_text() -> None:
    assert extract_text(b"\x89PNG\r\n\x1a\n", "image/png") == ""
    assert not is_extractable("image/png")
    assert not is_extractable("application/vnd.openxmlformats-officedocument.wordprocessingml.document")


@pytest.mark.parametrize("content_type", ["text/plain", "text/markdown", "text/csv", "text/html", "application/pdf"])
def test_supported_types(content_type: str) -> None:
    assert is_extractable(f"{content_type}; charset=utf-8")


def test_media_type_parsing() -> None:
    assert media_type('Text/Plain; format=flowed; charset="utf-8"') == ("text/plain", "utf-8")
    assert media_type("application/pdf") == ("application/pdf", None)
