"""Real documents of every kind the indexer reads, built in memory: tests and benchmarks need
no fixture files.

One set of builders for the indexer's tests, the end-to-end tests and `bench/indexer.py`.
The office and image libraries (python-docx, openpyxl, python-pptx, Pillow) are imported
inside each builder: they are the indexer's dependencies, present wherever its tests run,
and this package must not need them to start the platform.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

# A big, clear font for pictures of text; `text_image` falls back to Pillow's own without it.
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def make_pdf(pages: list[str | list[str]], *, size: int = 18) -> bytes:
    """A valid PDF with a text layer in Helvetica `size` pt, and a correct xref table.

    Each page is one line (a string) or several lines (a list, `size` + 2 pt apart)."""
    objects: list[bytes] = []
    count = len(pages)
    font_id = 3 + 2 * count
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode())
    for i, page in enumerate(pages):
        if isinstance(page, str):
            text = f"{_pdf_string(page)} Tj"
        else:  # set the leading, then `'` moves to the next line and shows each string
            text = f"{size + 2} TL " + " ".join(f"{_pdf_string(line)} '" for line in page)
        content = f"BT /F1 {size} Tf 72 720 Td {text} ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")

    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def text_image(
    lines: list[str],
    *,
    fmt: str = "PNG",
    size: int = 56,
    width: int = 1400,
    background: str | tuple[int, int, int] = "white",
    ink: str | tuple[int, int, int] = "black",
) -> bytes:
    """A clear, photo-like picture of text (dark on light, a big font) in Pillow format `fmt`.

    With fmt="PDF" it is a scanned PDF: only a picture inside, no text layer (see `scanned_pdf`)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(FONT, size) if Path(FONT).exists() else ImageFont.load_default(size)
    pitch = int(size * 1.6)
    image = Image.new("RGB", (width, 120 + len(lines) * pitch), background)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((60, 60 + i * pitch), line, fill=ink, font=font)
    out = io.BytesIO()
    # 150 dpi, as a scanner would write it; Pillow's default 72 dpi makes a huge page.
    image.save(out, fmt, **({"resolution": 150} if fmt == "PDF" else {}))
    return out.getvalue()


def scanned_pdf(lines: list[str], **style) -> bytes:
    """A PDF holding only a picture of text: no text layer, so only OCR finds the words.

    `style` takes `text_image`'s keywords (size, width, background, ink)."""
    return text_image(lines, fmt="PDF", **style)


def docx_bytes(paragraphs: list[str], table: list[list[str]] | None = None, *, heading: str | None = None) -> bytes:
    """A Word document: an optional level-1 heading, the paragraphs, then an optional table."""
    import docx

    document = docx.Document()
    if heading:
        document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes(rows: list[list[object]], title: str = "Budget") -> bytes:
    """An Excel workbook with one sheet named `title` holding `rows`."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def pptx_bytes(title: str, body: str, notes: str = "", *, more: Sequence[tuple[str, str]] = ()) -> bytes:
    """A PowerPoint deck: a title-and-content slide (with speaker `notes` if given), then one
    such slide per (title, body) in `more`."""
    import pptx

    presentation = pptx.Presentation()
    for i, (slide_title, slide_body) in enumerate([(title, body), *more]):
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = slide_title
        slide.placeholders[1].text = slide_body
        if notes and i == 0:
            slide.notes_slide.notes_text_frame.text = notes
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def odt_bytes(paragraphs: list[str]) -> bytes:
    """An OpenDocument text: just a mimetype member and content.xml, one <text:p> per paragraph."""
    body = "".join(f"<text:p>{p}</text:p>" for p in paragraphs)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:text>{body}</office:text></office:body></office:document-content>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
    return out.getvalue()


def eml_bytes(subject: str, text: str, html: str | None = None, *, attachment: bool = True) -> bytes:
    """An e-mail from ann@ to bob@example.com: a text body, an optional HTML alternative, and
    (unless `attachment=False`) a small binary attachment the indexer must skip."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "ann@example.com"
    message["To"] = "bob@example.com"
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    if attachment:
        message.add_attachment(b"\x00\x01", maintype="application", subtype="octet-stream", filename="data.bin")
    return message.as_bytes()


@functools.cache
def zip_bomb_docx(unpacked: int = 300_000_000) -> bytes:
    """A .docx-looking zip whose one member inflates to `unpacked` bytes of zeros (built once
    per process: about a second of CPU each time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            chunk = b"\0" * 1_000_000
            for _ in range(unpacked // len(chunk)):
                member.write(chunk)
    return out.getvalue()


@functools.cache
def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A real black-and-white PNG of `width` x `height` black pixels, every row there (50,000 x
    50,000: 2.5 gigapixels, about 300 KB compressed).

    The bytes Pillow's `Image.new("1", size).save(out, "PNG")` writes (1-bit greyscale, filter 0
    on every row), compressed here in one streaming pass: Pillow took 3-6 s of CPU per bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\0" * (1 + (width + 7) // 8)  # the filter-type byte, then the row's bits
    compressor = zlib.compressobj(9)
    rows_at_once = 1000
    data = [compressor.compress(row * min(rows_at_once, height - n)) for n in range(0, height, rows_at_once)]
    data.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(data)) + chunk(b"IEND", b"")
