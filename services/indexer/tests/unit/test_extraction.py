from __future__ import annotations

import io

import pytest

from docstore_devplatform import documents
from docstore_devplatform.documents import make_pdf
from docstore_indexer.adapters.extraction import extract_text, strip_html
from docstore_indexer.domain.extraction import DOCX, PPTX, XLSX, ExtractionFailed, Options, is_extractable, media_type

ODT = "application/vnd.oasis.opendocument.text"


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


def test_encrypted_pdf_fails_with_a_reason() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(make_pdf(["top secret plans"]))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="hunter2", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(ExtractionFailed, match="encrypted PDF"):
        extract_text(out.getvalue(), "application/pdf")


def test_word_paragraphs_and_tables() -> None:
    data = documents.docx_bytes(["Minutes of the walrus committee"], [["item", "kiwi budget"]])
    text = extract_text(data, DOCX)
    assert "Minutes of the walrus committee" in text and "kiwi budget" in text


def test_excel_cells_and_sheet_names() -> None:
    text = extract_text(documents.xlsx_bytes([["item", "cost"], ["tangerine", 12]], title="Fruit"), XLSX)
    assert text.splitlines() == ["Fruit", "item cost", "tangerine 12"]


def test_powerpoint_shapes_and_notes() -> None:
    text = extract_text(documents.pptx_bytes("Accordion lessons", "Tuesdays at noon", notes="bring snacks"), PPTX)
    assert text.splitlines() == ["Accordion lessons", "Tuesdays at noon", "bring snacks"]


def test_opendocument_paragraphs() -> None:
    assert extract_text(documents.odt_bytes(["Zebra crossing", "second line"]), ODT) == "Zebra crossing\nsecond line"


def test_email_subject_headers_and_text_part() -> None:
    text = extract_text(
        documents.eml_bytes("Pumpkin delivery", "Arrives on Monday.", "<p>HTML copy</p>"), "message/rfc822"
    )
    assert text.splitlines()[:3] == ["Subject: Pumpkin delivery", "From: ann@example.com", "To: bob@example.com"]
    assert "Arrives on Monday." in text and "HTML copy" not in text and "data.bin" in text


def test_rtf_json_and_xml_text() -> None:
    rtf = rb"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard Some {\b bold} caf\'e9.\par}"
    assert extract_text(rtf, "application/rtf") == "Some bold café."
    assert extract_text(b'{"title": "Mango", "n": [1, "papaya"]}', "application/json") == "title\nMango\nn\n1\npapaya"
    assert extract_text(b"<note><to>Tove</to><body>Quince</body></note>", "application/xml") == "Tove\nQuince"


def test_png_is_read_by_ocr() -> None:
    text = extract_text(documents.text_image(["The cranberry harvest", "begins tomorrow"]), "image/png")
    assert "cranberry" in text.lower() and "harvest" in text.lower()


@pytest.mark.parametrize(
    ("fmt", "content_type"), [("JPEG", "image/jpeg"), ("TIFF", "image/tiff"), ("WEBP", "image/webp")]
)
def test_other_image_formats_are_read_by_ocr(fmt: str, content_type: str) -> None:
    assert "gooseberry" in extract_text(documents.text_image(["gooseberry"], fmt=fmt), content_type).lower()


def test_scanned_pdf_pages_are_ocrd() -> None:
    text = extract_text(documents.scanned_pdf(["A lighthouse keeper", "writes letters"]), "application/pdf")
    assert "lighthouse" in text.lower()


def test_ocr_stops_at_the_page_limit() -> None:
    from pypdf import PdfReader, PdfWriter

    scans = [documents.scanned_pdf([word]) for word in ("alpha", "bravo")]
    writer = PdfWriter()
    for scan in scans:
        writer.add_page(PdfReader(io.BytesIO(scan)).pages[0])
    out = io.BytesIO()
    writer.write(out)
    text = extract_text(out.getvalue(), "application/pdf", Options(ocr_max_pages=1)).lower()
    assert "alpha" in text and "bravo" not in text


def test_huge_image_is_refused_without_decoding() -> None:
    with pytest.raises(ExtractionFailed, match="too large"):
        extract_text(documents.text_image(["x"]), "image/png", Options(max_image_pixels=1000))


def test_zip_bomb_is_refused() -> None:
    with pytest.raises(ExtractionFailed, match="zip bomb"):
        extract_text(documents.zip_bomb_docx(), DOCX, Options(max_unpacked_bytes=50_000_000))


def test_encrypted_office_document_is_refused() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512  # what Office writes for a password-protected file
    with pytest.raises(ExtractionFailed, match="encrypted"):
        extract_text(ole, XLSX)


@pytest.mark.parametrize("content_type", [DOCX, XLSX, PPTX, ODT, "image/png"])
def test_corrupt_files_fail_with_a_reason(content_type: str) -> None:
    with pytest.raises(ExtractionFailed):
        extract_text(b"PK\x03\x04 definitely not a real file", content_type)


def test_video_and_unknown_types_give_no_text() -> None:
    assert extract_text(b"\x00\x00\x00\x18ftypmp42", "video/mp4") == ""
    assert extract_text(b"\x00\x01", "application/octet-stream") == ""
    assert not is_extractable("video/mp4")
    assert not is_extractable("application/zip")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/markdown",
        "text/csv",
        "text/html",
        "application/pdf",
        DOCX,
        XLSX,
        PPTX,
        ODT,
        "message/rfc822",
        "image/png",
        "image/jpeg",
        "image/tiff",
        "image/webp",
        "text/x-python",
    ],
)
def test_supported_types(content_type: str) -> None:
    assert is_extractable(f"{content_type}; charset=utf-8")


def test_media_type_parsing() -> None:
    assert media_type('Text/Plain; format=flowed; charset="utf-8"') == ("text/plain", "utf-8")
    assert media_type("application/pdf") == ("application/pdf", None)
