"""Text extraction from an object's bytes, by content type. Pure and synchronous.

Callers run it in a worker thread under a time limit and read at most a bounded number
of bytes; this module only turns bytes into text or says why it can't.
"""

from __future__ import annotations

import io
from html.parser import HTMLParser

TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/csv", "text/x-markdown"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PDF_TYPES = frozenset({"application/pdf"})
EXTRACTABLE = TEXT_TYPES | HTML_TYPES | PDF_TYPES


class ExtractionFailed(Exception):
    """The bytes claim a supported type but no text can be read from them (corrupt, encrypted)."""


def media_type(content_type: str) -> tuple[str, str | None]:
    """`text/plain; charset=latin-1` → ("text/plain", "latin-1")."""
    main, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return main.strip().lower(), charset


def is_extractable(content_type: str) -> bool:
    """True when this indexer can read text from objects of `content_type`."""
    return media_type(content_type)[0] in EXTRACTABLE


def extract_text(data: bytes, content_type: str) -> str:
    """The text of `data`; "" for types we do not read (they are indexed by metadata only)."""
    kind, charset = media_type(content_type)
    if kind in TEXT_TYPES:
        return decode_text(data, charset)
    if kind in HTML_TYPES:
        return strip_html(decode_text(data, charset))
    if kind in PDF_TYPES:
        return pdf_text(data)
    return ""


def decode_text(data: bytes, charset: str | None = None) -> str:
    """Bytes to str: the declared charset, else UTF-8 (with or without BOM); bad bytes become U+FFFD."""
    if charset:
        try:
            return data.decode(charset, errors="replace")
        except LookupError:  # an unknown charset name: fall back to UTF-8
            pass
    return data.decode("utf-8-sig", errors="replace")


class _TextOfHtml(HTMLParser):
    SKIPPED = frozenset({"script", "style", "noscript", "template", "head"})
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "title", "section",
                        "article", "pre", "blockquote", "td", "th"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIPPED:
            self._skipping += 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIPPED and self._skipping:
            self._skipping -= 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skipping:
            self.parts.append(data)


def strip_html(html: str) -> str:
    """The visible text of an HTML page (and its title): no tags, scripts, styles or comments."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    text = "".join([*parser.title, "\n", *parser.parts])
    return _tidy(text)


def pdf_text(data: bytes) -> str:
    """The text layer of a PDF, page by page. A scanned PDF without a text layer gives ""."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractionFailed("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ExtractionFailed:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ExtractionFailed(f"unreadable PDF: {type(error).__name__}: {error}"[:300]) from error
    return _tidy("\n".join(pages))


def _tidy(text: str) -> str:
    """Collapse runs of blank space within lines and drop empty lines."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)
