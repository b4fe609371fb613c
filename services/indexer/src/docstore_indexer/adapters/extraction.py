"""Text extraction from an object's bytes: the parsers, and OCR through `tesseract`/`pdftoppm`.

`extract_text` turns bytes into text or raises `ExtractionFailed` saying why; the rules it
applies (which reader for which type, size and page limits, zip bombs) are in
`domain/extraction.py`. OCR runs the `tesseract` binary (and `pdftoppm` for PDF pages without
a text layer), each bounded by the time left of the document's deadline. Synchronous: the
indexer never calls this in its own process. `adapters/extractor.py` runs it in a worker
process (`adapters/extract_worker.py`) it can kill (time limit, memory limit), so a hung or
crashing parser never takes the service down.
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
import zipfile
from collections.abc import Iterable
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree

from docstore_indexer.domain.extraction import (
    OLE_MAGIC,
    ExtractionFailed,
    Options,
    Reader,
    check_image_size,
    check_members,
    has_text_layer,
    media_type,
    page_dpi,
    reader_for,
    tidy,
)

if TYPE_CHECKING:
    from docx.blkcntnr import BlockItemContainer
    from docx.document import Document as DocxDocument
    from pptx.shapes.base import BaseShape


def extract_text(data: bytes, content_type: str, options: Options | None = None) -> str:
    """The text of `data`; "" for types we do not read (they are indexed by metadata only)."""
    options = options or Options()
    kind, charset = media_type(content_type)
    reader = reader_for(kind)
    if reader is Reader.HTML:
        return strip_html(decode_text(data, charset))
    if reader is Reader.XML:
        return xml_text(data)
    if reader is Reader.JSON:
        return json_text(data)
    if reader is Reader.RTF:
        return rtf_text(decode_text(data, charset or "latin-1"))
    if reader is Reader.TEXT:
        return decode_text(data, charset)
    if reader is Reader.PDF:
        return pdf_text(data, options)
    if reader is Reader.DOCX:
        return docx_text(data, options)
    if reader is Reader.XLSX:
        return xlsx_text(data, options)
    if reader is Reader.PPTX:
        return pptx_text(data, options)
    if reader is Reader.ODF:
        return odf_text(data, options)
    if reader is Reader.EMAIL:
        return eml_text(data)
    if reader is Reader.IMAGE:
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
    BLOCKS = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "title",
            "section",
            "article",
            "pre",
            "blockquote",
            "td",
            "th",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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
    return tidy(text)


def xml_text(data: bytes) -> str:
    """The character data of an XML document (no markup, no entity expansion beyond the built-ins)."""
    if b"<!ENTITY" in data[:65536]:
        raise ExtractionFailed("XML with entity declarations is not read")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise ExtractionFailed(f"unreadable XML: {error}") from error
    return tidy("\n".join(root.itertext()))


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
    return tidy("\n".join(out))


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
            rest = rtf[match.end() : match.end() + 12]
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
    return tidy("".join(out))


# PDF ------------------------------------------------------------------------------------


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
    except (
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        RecursionError,
        AssertionError,
        ZeroDivisionError,
    ) as error:
        raise ExtractionFailed(f"unreadable PDF: {type(error).__name__}: {error}"[:300]) from error
    blank = [i for i, text in enumerate(pages) if not has_text_layer(text)]
    if blank:
        with tempfile.TemporaryDirectory(prefix="docstore-ocr-") as folder:
            source = Path(folder) / "in.pdf"
            source.write_bytes(data)
            for number in blank[: options.ocr_max_pages]:
                pages[number] = _ocr_pdf_page(source, number + 1, sizes[number], options)
    return tidy("\n".join(pages))


def _ocr_pdf_page(source: Path, number: int, size_points: tuple[float, float], options: Options) -> str:
    dpi = page_dpi(number, size_points, options)
    prefix = source.parent / f"page-{number}"
    _run(
        [
            "pdftoppm",
            "-r",
            str(dpi),
            "-f",
            str(number),
            "-l",
            str(number),
            "-gray",
            "-png",
            "-singlefile",
            str(source),
            str(prefix),
        ],
        options,
        what="pdftoppm",
    )
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
    check_members(members, options)
    return archive


def _office_errors() -> tuple[type[BaseException], ...]:
    return (
        KeyError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        zipfile.BadZipFile,
        EOFError,
        ElementTree.ParseError,
        SyntaxError,
        AssertionError,
    )


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
    return tidy("\n".join(parts))


def _docx_blocks(container: BlockItemContainer | DocxDocument) -> Iterable[str]:
    """The text of a document body, header, footer or table cell (cells hold blocks again)."""
    for paragraph in container.paragraphs:
        yield paragraph.text
    for table in container.tables:
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
    return tidy("\n".join(parts))


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
    return tidy("\n".join(parts))


def _pptx_shapes(shapes: Iterable[BaseShape]) -> Iterable[str]:
    """The text of text boxes and placeholders, of table cells, and of the shapes inside groups."""
    from pptx.shapes.autoshape import Shape
    from pptx.shapes.graphfrm import GraphicFrame
    from pptx.shapes.group import GroupShape

    for shape in shapes:
        if isinstance(shape, Shape) and shape.has_text_frame:  # autoshapes, text boxes, placeholders
            yield shape.text_frame.text
        if isinstance(shape, GraphicFrame) and shape.has_table:
            for row in shape.table.rows:
                for cell in row.cells:
                    yield cell.text
        if isinstance(shape, GroupShape):
            yield from _pptx_shapes(shape.shapes)


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
    except _office_errors() + (RuntimeError,) as error:
        raise ExtractionFailed(f"unreadable OpenDocument file: {type(error).__name__}: {error}"[:300]) from error
    parts = []
    for element in root.iter():
        if element.tag in _ODF_BLOCKS:
            parts.append("".join(element.itertext()))
    return tidy("\n".join(parts))


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
                if filename := part.get_filename():
                    attachments.append(filename)
                continue
            kind = part.get_content_type()
            if kind == "text/plain":
                plain.append(_part_text(part))
            elif kind == "text/html":
                html.append(strip_html(_part_text(part)))
    except (ValueError, TypeError, LookupError, AttributeError, IndexError) as error:
        raise ExtractionFailed(f"unreadable e-mail: {type(error).__name__}: {error}"[:300]) from error
    body = plain or html
    return tidy("\n".join([*head, *body, *attachments]))


def _part_text(part: EmailMessage) -> str:
    try:
        return str(part.get_content())
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
            check_image_size(image.width, image.height, options)
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
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
        raise ExtractionFailed(f"unreadable image: {type(error).__name__}: {error}"[:300]) from error
    return tidy("\n".join(texts))


def _tesseract(path: Path, options: Options) -> str:
    result = _run(
        ["tesseract", str(path), "stdout", "-l", options.ocr_languages, "--psm", "3"], options, what="tesseract"
    )
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
        raise ExtractionFailed(
            f"{what} failed ({done.returncode}): {done.stderr.decode(errors='replace').strip()[-200:]}"
        )
    return done.stdout
