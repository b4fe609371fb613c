"""Full-text search through the gateway, with real files generated here: a PDF with a text
layer, a scanned PDF (only a picture inside), a PNG photo of text, DOCX, XLSX and PPTX.
Each is found by a word that appears only in it, and never by another account."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from .conftest import eventually, sign_up, upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def text_pdf(line: str) -> bytes:
    """A one-page PDF whose text layer holds `line` (Helvetica), with a correct xref table."""
    content = f"BT /F1 18 Tf 72 720 Td ({line}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def photo_of_text(lines: list[str], fmt: str = "PNG") -> bytes:
    """A picture of text in a large clear font, as a phone camera would see a printed page."""
    from PIL import Image, ImageDraw, ImageFont

    assert Path(FONT).exists(), f"{FONT} missing: install fonts-dejavu-core"
    font = ImageFont.truetype(FONT, 60)
    image = Image.new("RGB", (1500, 140 + 100 * len(lines)), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((70, 70 + 100 * i), line, fill=(20, 20, 20), font=font)
    out = io.BytesIO()
    image.save(out, fmt, **({"resolution": 150} if fmt == "PDF" else {}))
    return out.getvalue()


def docx_file(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Meeting minutes", level=1)
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_file(rows: list[list[object]]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def pptx_file(title: str, body: str) -> bytes:
    import pptx

    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = title
    slide.placeholders[1].text = body
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


# One word per file, found in that file only.
FILES = {
    "zeppelin": ("contract.pdf", PDF, lambda: text_pdf("Charter agreement for the zeppelin hangar")),
    "lighthouse": ("scan.pdf", PDF, lambda: photo_of_text(["Letter from the", "lighthouse keeper"], "PDF")),
    "cranberry": ("photo.png", "image/png", lambda: photo_of_text(["Recipe for", "cranberry sauce"])),
    "walrus": ("minutes.docx", DOCX, lambda: docx_file("The walrus committee approved the budget.")),
    "tangerine": ("budget.xlsx", XLSX, lambda: xlsx_file([["item", "cost"], ["tangerine crates", 120]])),
    "accordion": ("talk.pptx", PPTX, lambda: pptx_file("Accordion lessons", "Tuesdays at noon")),
}


async def search(api, user, q: str, **params):
    return await api.get("/v1/search", params={"q": q, **params}, headers=user.auth)


async def test_each_format_is_found_by_its_own_word_and_never_by_another_account(api) -> None:
    alice = await sign_up(api, plan="premium")
    bob = await sign_up(api, plan="premium")
    ids = {}
    for word, (name, content_type, make) in FILES.items():
        ids[word] = (await upload(api, alice, name, make(), content_type))["document_id"]
    # Bob holds every one of the same words, in one text file.
    bobs = (await upload(api, bob, "same-words.txt", " ".join(FILES).encode()))["document_id"]

    async def all_indexed():
        status = await api.get("/v1/search/status", headers=alice.auth)
        assert status.status_code == 200, status.text
        return status.json()["indexed"] >= len(FILES)

    await eventually(all_indexed, timeout=90)
    for word, document_id in ids.items():
        async def found(word=word):
            response = await search(api, alice, word)
            assert response.status_code == 200, response.text
            return response.json()["hits"]

        hits = await eventually(found, timeout=30)
        assert [hit["document_id"] for hit in hits] == [document_id], (word, hits)
        assert "<mark>" in hits[0]["snippet"].lower() or word in hits[0]["name"]

    async def bob_found():
        response = await search(api, bob, "walrus")
        return response.json()["hits"] if response.status_code == 200 else None

    assert [hit["document_id"] for hit in await eventually(bob_found)] == [bobs]
    for word in FILES:
        bob_hits = (await search(api, bob, word)).json()["hits"]
        alice_hits = (await search(api, alice, word)).json()["hits"]
        assert [hit["document_id"] for hit in bob_hits] == [bobs]
        assert bobs not in [hit["document_id"] for hit in alice_hits]

    # Filters, typos and phrases, through the gateway.
    [hit] = (await search(api, alice, "walrus comitee")).json()["hits"]
    assert hit["document_id"] == ids["walrus"]
    assert (await search(api, alice, '"walrus committee"')).json()["found"] == 1
    assert (await search(api, alice, '"committee walrus"')).json()["found"] == 0
    pdfs = (await search(api, alice, "*", content_type=PDF)).json()["hits"]
    assert sorted(hit["document_id"] for hit in pdfs) == sorted([ids["zeppelin"], ids["lighthouse"]])


async def test_free_account_gets_403_then_upgrade_backfills_and_downgrade_removes(api) -> None:
    user = await sign_up(api, plan="free")
    refused = await search(api, user, "anything")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "full-text search needs the Premium plan (this account is on Free)"

    done = await upload(api, user, "old-minutes.docx", docx_file("The platypus fund was closed."), DOCX)
    await upload(api, user, "notes.txt", b"platypus sightings, again")

    async def catalogued():
        listing = (await api.get("/v1/documents", headers=user.auth)).json()
        return len(listing["items"]) == 2

    await eventually(catalogued)
    changed = await api.put("/v1/account/plan", json={"plan": "premium"}, headers=user.auth)
    assert changed.status_code == 200, changed.text

    async def backfilled():
        status = await api.get("/v1/search/status", headers=user.auth)
        return status.json() if status.status_code == 200 and status.json()["state"] == "complete" else None

    status = await eventually(backfilled, timeout=60)
    assert status["indexed"] == status["total"] and status["failed"] == 0

    async def both_found():
        response = await search(api, user, "platypus")
        return response.json()["hits"] if response.json()["found"] == 2 else None

    await eventually(both_found)
    hits = (await search(api, user, '"platypus fund"')).json()["hits"]
    assert [hit["document_id"] for hit in hits] == [done["document_id"]]

    assert (await api.put("/v1/account/plan", json={"plan": "free"}, headers=user.auth)).status_code == 200

    async def refused_again():
        return (await search(api, user, "platypus")).status_code == 403

    await eventually(refused_again)
