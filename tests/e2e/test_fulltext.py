"""Full-text search through the gateway, with real files generated here: a PDF with a text
layer, a scanned PDF (only a picture inside), a PNG photo of text, DOCX, XLSX and PPTX.
Each is found by a word that appears only in it, and never by another account."""

from __future__ import annotations

from pathlib import Path

import pytest

from docstore_devplatform import documents

from .conftest import eventually, sign_up, upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def photo_of_text(lines: list[str], fmt: str = "PNG") -> bytes:
    """A picture of text in a large clear font, as a phone camera would see a printed page."""
    assert Path(documents.FONT).exists(), f"{documents.FONT} missing: install fonts-dejavu-core"
    return documents.text_image(lines, fmt=fmt, size=60, width=1500, background=(250, 248, 240), ink=(20, 20, 20))


# One word per file, found in that file only.
FILES = {
    "zeppelin": ("contract.pdf", PDF, lambda: documents.make_pdf(["Charter agreement for the zeppelin hangar"])),
    "lighthouse": ("scan.pdf", PDF, lambda: photo_of_text(["Letter from the", "lighthouse keeper"], "PDF")),
    "cranberry": ("photo.png", "image/png", lambda: photo_of_text(["Recipe for", "cranberry sauce"])),
    "walrus": (
        "minutes.docx",
        DOCX,
        lambda: documents.docx_bytes(["The walrus committee approved the budget."], heading="Meeting minutes"),
    ),
    "tangerine": ("budget.xlsx", XLSX, lambda: documents.xlsx_bytes([["item", "cost"], ["tangerine crates", 120]])),
    "accordion": ("talk.pptx", PPTX, lambda: documents.pptx_bytes("Accordion lessons", "Tuesdays at noon")),
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
            return response.json()["items"]

        hits = await eventually(found, timeout=30)
        assert [hit["document_id"] for hit in hits] == [document_id], (word, hits)
        assert "<mark>" in hits[0]["snippet"].lower() or word in hits[0]["name"]

    async def bob_found():
        response = await search(api, bob, "walrus")
        return response.json()["items"] if response.status_code == 200 else None

    assert [hit["document_id"] for hit in await eventually(bob_found)] == [bobs]
    for word in FILES:
        bob_hits = (await search(api, bob, word)).json()["items"]
        alice_hits = (await search(api, alice, word)).json()["items"]
        assert [hit["document_id"] for hit in bob_hits] == [bobs]
        assert bobs not in [hit["document_id"] for hit in alice_hits]

    # Filters, typos and phrases, through the gateway.
    [hit] = (await search(api, alice, "walrus comitee")).json()["items"]
    assert hit["document_id"] == ids["walrus"]
    assert (await search(api, alice, '"walrus committee"')).json()["found"] == 1
    assert (await search(api, alice, '"committee walrus"')).json()["found"] == 0
    pdfs = (await search(api, alice, "*", content_type=PDF)).json()["items"]
    assert sorted(hit["document_id"] for hit in pdfs) == sorted([ids["zeppelin"], ids["lighthouse"]])


async def test_free_account_gets_403_then_upgrade_backfills_and_downgrade_removes(api) -> None:
    user = await sign_up(api, plan="free")
    refused = await search(api, user, "anything")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "full-text search needs the Premium plan (this account is on Free)"

    done = await upload(
        api,
        user,
        "old-minutes.docx",
        documents.docx_bytes(["The platypus fund was closed."], heading="Meeting minutes"),
        DOCX,
    )
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
        return response.json()["items"] if response.json()["found"] == 2 else None

    await eventually(both_found)
    hits = (await search(api, user, '"platypus fund"')).json()["items"]
    assert [hit["document_id"] for hit in hits] == [done["document_id"]]

    assert (await api.put("/v1/account/plan", json={"plan": "free"}, headers=user.auth)).status_code == 200

    async def refused_again():
        return (await search(api, user, "platypus")).status_code == 403

    await eventually(refused_again)
