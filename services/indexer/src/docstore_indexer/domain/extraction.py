"""Text extraction from an object's bytes, by content type. Synchronous.

`extract_text` turns bytes into text or raises `ExtractionFailed` saying why. OCR calls
the `tesseract` binary (and `pdftoppm` for PDF pages without a text layer), each bounded
by the time left of the document's deadline. The indexer never calls this in its own
process: `adapters/extractor.py` runs it in a worker process it can kill (time limit,
memory limit), so a hung or crashing parser never takes the service down.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import os
import re
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

TEXT_TYPES = frozenset({
    "text/plain", "text/markdown", "text/x-markdown", "text/csv", "text/tab-separated-values",
    "text/x-log", "text/calendar", "text/vcard",
})
JSON_TYPES = frozenset({"application/json", "application/ld+json"})
XML_TYPES = frozenset({"application/xml", "text/xml", "image/svg+xml"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
RTF_TYPES = frozenset({"application/rtf", "text/rtf"})
PDF_TYPES = frozenset({"application/pdf"})
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
OOXML_TYPES = frozenset({DOCX, XLSX, PPTX})
ODF_TYPES = frozenset({
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
})
EMAIL_TYPES = frozenset({"message/rfc822"})
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/tiff", "image/webp", "image/gif", "image/bmp"})
EXTRACTABLE = (TEXT_TYPES | JSON_TYPES | XML_TYPES | HTML_TYPES | RTF_TYPES | PDF_TYPES | OOXML_TYPES | ODF_TYPES
               | EMAIL_TYPES | IMAGE_TYPES)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class ExtractionFailed(Exception):
    """The bytes claim a supported type but no text can be read from them (corrupt, encrypted, a bomb)."""


@dataclass(frozen=True)
class Options:
    """Bounds and OCR settings of one extraction."""

    ocr_languages: str = "eng"
    ocr_max_pages: int = 10
    ocr_dpi: int = 200
    max_unpacked_bytes: int = 200_000_000
    """Office/ODF containers that unpack to more than this are refused (zip bombs)."""
    max_image_pixels: int = 40_000_000
    max_text_chars: int = 1_000_000
    deadline: float | None = None
    """`time.monotonic()` by which OCR must be done; None: no limit of its own."""

    def seconds_left(self) -> float:
        if self.deadline is None:
            return 300.0
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ExtractionFailed("extraction ran out of time")
        return left


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
    """True when this indexer can read text from objects of `content_type` (else: metadata only)."""
    kind = media_type(content_type)[0]
    return kind in EXTRACTABLE or (kind.startswith("text/") and kind not in HTML_TYPES)


def needs_ocr(content_type: str) -> bool:
    return media_type(content_type)[0] in IMAGE_TYPES


def extract_text(data: bytes, content_type: str, options: Options | None = None) -> str:
    """The text of `data`; "" for types we do not read (they are indexed by metadata only)."""
    options = options or Options()
    kind, charset = media_type(content_type)
    if kind in HTML_TYPES:
        return strip_html(decode_text(data, charset))
    if kind in XML_TYPES:
        return xml_text(data)
    if kind in JSON_TYPES:
        return json_text(data)
    if kind in RTF_TYPES:
        return rtf_text(decode_text(data, charset or "latin-1"))
    if kind in TEXT_TYPES or kind.startswith("text/"):
        return decode_text(data, charset)
    if kind in PDF_TYPES:
        return pdf_text(data, options)
    if kind == DOCX:
        return docx_text(data, options)
    if kind == XLSX:
        return xlsx_text(data, options)
    if kind == PPTX:
        return pptx_text(data, options)
    if kind in ODF_TYPES:
        return odf_text(data, options)
    if kind in EMAIL_TYPES:
        return eml_text(data)
    if kind in IMAGE_TYPES:
        return image_text(data, options)
    return ""


# Plain text, HTML, XML, JSON, RTF -------------------------------------------------------


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


def xml_text(data: bytes) -> str:
    """The character data of an XML document (no markup, no entity expansion beyond the built-ins)."""
    if b"<!ENTITY" in data[:65536]:
        raise ExtractionFailed("XML with entity declarations is not read")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise ExtractionFailed(f"unreadable XML: {error}") from error
    return _tidy("\n".join(root.itertext()))


def json_text(data: bytes) -> str:
    """The string values (and keys) of a JSON document, one per line."""
    try:
        value = json.loads(data)
    except ValueError as error:
        raise ExtractionFailed(f"unreadable JSON: {error}"[:300]) from error
    out: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                out.append(str(key))
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif node is not None:
            out.append(str(node))

    walk(value)
    return _tidy("\n".join(out))


_RTF_DESTINATIONS = re.compile(r"\\\*|\\(?:fonttbl|colortbl|stylesheet|info|pict|header|footer|object)\b")
_RTF_TOKEN = re.compile(r"\\([a-z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\([^a-z])|([{}])|([^\\{}]+)", re.S)


def rtf_text(rtf: str) -> str:
    """The text of an RTF document: groups for fonts, colours, pictures and the like are skipped."""
    if not rtf.lstrip().startswith("{\\rtf"):
        raise ExtractionFailed("not an RTF document")
    out: list[str] = []
    stack: list[bool] = []
    skipping = False
    for match in _RTF_TOKEN.finditer(rtf):
        word, _arg, hexchar, symbol, brace, text = match.groups()
        if brace == "{":
            stack.append(skipping)
            rest = rtf[match.end():match.end() + 12]
            if _RTF_DESTINATIONS.match(rest):
                skipping = True
        elif brace == "}":
            skipping = stack.pop() if stack else False
        elif skipping:
            continue
        elif word in ("par", "line", "row", "sect", "page"):
            out.append("\n")
        elif word == "tab" or word == "cell":
            out.append("\t")
        elif hexchar:
            out.append(bytes.fromhex(hexchar).decode("cp1252", errors="replace"))
        elif symbol and symbol in "\\{}":
            out.append(symbol)
        elif text:
            out.append(text.replace("\r", "").replace("\n", ""))
    return _tidy("".join(out))


# PDF ------------------------------------------------------------------------------------

OCR_MIN_CHARS = 3
"""A PDF page with fewer visible characters than this has no text layer: it is OCR'd."""


def pdf_text(data: bytes, options: Options | None = None) -> str:
    """The text layer of every page; pages without one are rasterised and OCR'd (up to a page limit)."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    options = options or Options()
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except (DependencyError, NotImplementedError) as error:
                raise ExtractionFailed("encrypted PDF") from error
            if not opened:
                raise ExtractionFailed("encrypted PDF (needs a password)")
        pages = [page.extract_text() or "" for page in reader.pages]
        sizes = [(float(page.mediabox.width), float(page.mediabox.height)) for page in reader.pages]
    except ExtractionFailed:
        raise
    except FileNotDecryptedError as error:
        raise ExtractionFailed("encrypted PDF (needs a password)") from error
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError,
            AssertionError, ZeroDivisionError) as error:
        raise ExtractionFailed(f"unreadable PDF: {type(error).__name__}: {error}"[:300]) from error
    blank = [i for i, text in enumerate(pages) if len("".join(text.split())) < OCR_MIN_CHARS]
    if blank:
        with tempfile.TemporaryDirectory(prefix="docstore-ocr-") as folder:
            source = Path(folder) / "in.pdf"
            source.write_bytes(data)
            for number in blank[: options.ocr_max_pages]:
                pages[number] = _ocr_pdf_page(source, number + 1, sizes[number], options)
    return _tidy("\n".join(pages))


def _ocr_pdf_page(source: Path, number: int, size_points: tuple[float, float], options: Options) -> str:
    width_in, height_in = max(size_points[0], 1.0) / 72, max(size_points[1], 1.0) / 72
    # Lower the resolution of huge pages so no page image is bigger than max_image_pixels.
    dpi = int(min(options.ocr_dpi, (options.max_image_pixels / (width_in * height_in)) ** 0.5))
    if dpi < 20:
        raise ExtractionFailed(f"PDF page {number} is too large to OCR")
    prefix = source.parent / f"page-{number}"
    _run(["pdftoppm", "-r", str(dpi), "-f", str(number), "-l", str(number), "-gray", "-png", "-singlefile",
          str(source), str(prefix)], options, what="pdftoppm")
    return _tesseract(prefix.with_suffix(".png"), options)


# Office Open XML, ODF -------------------------------------------------------------------


def check_container(data: bytes, options: Options) -> zipfile.ZipFile:
    """The zip container of an Office/ODF file, refused when it is encrypted, corrupt or a bomb."""
    if data.startswith(OLE_MAGIC):
        raise ExtractionFailed("encrypted (password-protected) or legacy binary Office document")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise ExtractionFailed(f"corrupt document: not a valid zip container ({error})"[:300]) from error
    unpacked = sum(member.file_size for member in members)
    if unpacked > options.max_unpacked_bytes:
        raise ExtractionFailed(
            f"zip bomb suspected: unpacks to {unpacked} bytes (limit {options.max_unpacked_bytes})"
        )
    for member in members:
        if member.file_size > 10_000_000 and member.file_size > 200 * max(member.compress_size, 1):
            raise ExtractionFailed(f"zip bomb suspected: {member.filename} expands {member.file_size} bytes "
                                   f"from {member.compress_size}")
    if any(member.flag_bits & 0x1 for member in members):
        raise ExtractionFailed("encrypted zip container")
    return archive


def _office_errors() -> tuple[type[BaseException], ...]:
    return (KeyError, ValueError, TypeError, AttributeError, IndexError, zipfile.BadZipFile, EOFError,
            ElementTree.ParseError, SyntaxError, AssertionError)


def docx_text(data: bytes, options: Options | None = None) -> str:
    """Paragraphs, tables, headers and footers of a Word document."""
    import docx

    check_container(data, options or Options())
    try:
        document = docx.Document(io.BytesIO(data))
        parts: list[str] = []
        for section in document.sections:
            for part in (section.header, section.footer):
                if part is not None and not part.is_linked_to_previous:
                    parts.extend(_docx_blocks(part))
        parts.extend(_docx_blocks(document))
    except _office_errors() as error:
        raise ExtractionFailed(f"unreadable Word document: {type(error).__name__}: {error}"[:300]) from error
    return _tidy("\n".join(parts))


def _docx_blocks(container: object) -> Iterable[str]:
    for paragraph in container.paragraphs:  # type: ignore[attr-defined]
        yield paragraph.text
    for table in container.tables:  # type: ignore[attr-defined]
        for row in table.rows:
            for cell in row.cells:
                yield from _docx_blocks(cell)


def xlsx_text(data: bytes, options: Options | None = None) -> str:
    """Sheet names and cell values (computed values, not formulas) of an Excel workbook."""
    import openpyxl

    options = options or Options()
    check_container(data, options)
    parts: list[str] = []
    size = 0
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            for sheet in workbook.worksheets:
                parts.append(sheet.title)
                for row in sheet.iter_rows(values_only=True):
                    line = "\t".join(str(value) for value in row if value is not None)
                    if line:
                        parts.append(line)
                        size += len(line)
                    if size > options.max_text_chars:
                        break
        finally:
            workbook.close()
    except _office_errors() as error:
        raise ExtractionFailed(f"unreadable Excel workbook: {type(error).__name__}: {error}"[:300]) from error
    return _tidy("\n".join(parts))


def pptx_text(data: bytes, options: Options | None = None) -> str:
    """Text of every shape, table and group on every slide, and the speaker notes."""
    import pptx

    check_container(data, options or Options())
    parts: list[str] = []
    try:
        presentation = pptx.Presentation(io.BytesIO(data))
        for slide in presentation.slides:
            parts.extend(_pptx_shapes(slide.shapes))
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                parts.append(slide.notes_slide.notes_text_frame.text)
    except _office_errors() as error:
        raise ExtractionFailed(f"unreadable PowerPoint file: {type(error).__name__}: {error}"[:300]) from error
    return _tidy("\n".join(parts))


def _pptx_shapes(shapes: Iterable[object]) -> Iterable[str]:
    for shape in shapes:
        if getattr(shape, "has_text_frame", False) and shape.has_text_frame:  # type: ignore[attr-defined]
            yield shape.text_frame.text  # type: ignore[attr-defined]
        if getattr(shape, "has_table", False) and shape.has_table:  # type: ignore[attr-defined]
            for row in shape.table.rows:  # type: ignore[attr-defined]
                for cell in row.cells:
                    yield cell.text
        if hasattr(shape, "shapes"):  # a group
            yield from _pptx_shapes(shape.shapes)  # type: ignore[attr-defined]


_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ODF_BLOCKS = {f"{{{_ODF_TEXT}}}p", f"{{{_ODF_TEXT}}}h"}


def odf_text(data: bytes, options: Options | None = None) -> str:
    """Paragraphs and headings of an OpenDocument text, spreadsheet or presentation."""
    archive = check_container(data, options or Options())
    try:
        content = archive.read("content.xml")
        if b"<!ENTITY" in content[:65536]:
            raise ExtractionFailed("OpenDocument with entity declarations is not read")
        root = ElementTree.fromstring(content)
    except ExtractionFailed:
        raise
    except (*_office_errors(), RuntimeError) as error:
        raise ExtractionFailed(f"unreadable OpenDocument file: {type(error).__name__}: {error}"[:300]) from error
    parts = []
    for element in root.iter():
        if element.tag in _ODF_BLOCKS:
            parts.append("".join(element.itertext()))
    return _tidy("\n".join(parts))


# E-mail ---------------------------------------------------------------------------------


def eml_text(data: bytes) -> str:
    """Subject, sender, recipients and the text parts of an e-mail (HTML parts when it has no plain text)."""
    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
        head = [f"{name}: {message[name]}" for name in ("Subject", "From", "To", "Cc") if message[name]]
        plain: list[str] = []
        html: list[str] = []
        attachments: list[str] = []
        for part in message.walk():
            if part.is_multipart():
                continue
            if part.get_content_disposition() == "attachment":
                if part.get_filename():
                    attachments.append(part.get_filename())
                continue
            kind = part.get_content_type()
            if kind == "text/plain":
                plain.append(_part_text(part))
            elif kind == "text/html":
                html.append(strip_html(_part_text(part)))
    except (ValueError, TypeError, LookupError, AttributeError, IndexError) as error:
        raise ExtractionFailed(f"unreadable e-mail: {type(error).__name__}: {error}"[:300]) from error
    body = plain or html
    return _tidy("\n".join([*head, *body, *attachments]))


def _part_text(part: email.message.Message) -> str:
    try:
        return str(part.get_content())  # type: ignore[attr-defined]
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        return decode_text(payload if isinstance(payload, bytes) else b"")


# Images (OCR) ---------------------------------------------------------------------------


def image_text(data: bytes, options: Options | None = None) -> str:
    """OCR of an image (every frame of a multi-page TIFF, up to the page limit)."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    options = options or Options()
    Image.MAX_IMAGE_PIXELS = options.max_image_pixels
    texts = []
    try:
        with Image.open(io.BytesIO(data)) as image, tempfile.TemporaryDirectory(prefix="docstore-ocr-") as folder:
            if image.width * image.height > options.max_image_pixels:
                raise ExtractionFailed(f"image too large to OCR: {image.width}x{image.height} pixels "
                                       f"(limit {options.max_image_pixels})")
            for number, frame in enumerate(ImageSequence.Iterator(image)):
                if number >= options.ocr_max_pages:
                    break
                path = Path(folder) / f"frame-{number}.png"
                frame.convert("L").save(path)
                texts.append(_tesseract(path, options))
    except ExtractionFailed:
        raise
    except Image.DecompressionBombError as error:
        raise ExtractionFailed(f"image too large to OCR: {error}"[:300]) from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            EOFError) as error:
        raise ExtractionFailed(f"unreadable image: {type(error).__name__}: {error}"[:300]) from error
    return _tidy("\n".join(texts))


def _tesseract(path: Path, options: Options) -> str:
    result = _run(["tesseract", str(path), "stdout", "-l", options.ocr_languages, "--psm", "3"], options,
                  what="tesseract")
    return result.decode("utf-8", errors="replace")


def _run(argv: list[str], options: Options, *, what: str) -> bytes:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(argv, capture_output=True, timeout=options.seconds_left(), env=env, check=False)
    except subprocess.TimeoutExpired as error:
        raise ExtractionFailed(f"{what} timed out") from error
    except FileNotFoundError as error:
        raise ExtractionFailed(f"{what} is not installed") from error
    if done.returncode != 0:
        raise ExtractionFailed(f"{what} failed ({done.returncode}): "
                               f"{done.stderr.decode(errors='replace').strip()[-200:]}")
    return done.stdout


def _tidy(text: str) -> str:
    """Collapse runs of blank space within lines and drop empty lines."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)
