"""Full-text state through the gateway: each document's answer says whether its text is indexed,
pending, failed (why, and what to do) or not indexed on Free; `/v1/search/status` counts the same;
an upgrade is honoured at once; the type filter takes short forms."""

from __future__ import annotations

import io

import pytest

from docstore_devplatform import documents

from .conftest import eventually, sign_up, upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PDF = "application/pdf"


def encrypted_pdf(text: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(documents.make_pdf([text]))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="hunter2", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_failed_documents_say_why_in_their_answers_and_the_status_counts_them(api) -> None:
    user = await sign_up(api, plan="premium")
    good = await upload(api, user, "note.txt", b"the heron count for March")
    locked = await upload(api, user, "locked.pdf", encrypted_pdf("heron secrets"), PDF)
    whole = documents.make_pdf(["heron report, page one", "page two"])
    truncated = await upload(api, user, "truncated.pdf", whole[: len(whole) // 3], PDF)

    async def settled():
        status = await api.get("/v1/search/status", headers=user.auth)
        assert status.status_code == 200, status.text
        body = status.json()
        return body if (body["indexed"], body["failed"], body["pending"]) == (1, 2, 0) else None

    status = await eventually(settled, timeout=90)
    assert status["total"] == 3

    async def state_of(document_id: str):
        response = await api.get(f"/v1/documents/{document_id}", headers=user.auth)
        assert response.status_code == 200, response.text
        full_text = response.json()["full_text"]
        return full_text if full_text["state"] != "pending" else None

    locked_state = await eventually(lambda: state_of(locked["document_id"]))
    assert locked_state["state"] == "failed"
    assert locked_state["reason"] == "encrypted PDF (needs a password)"
    assert locked_state["advice"].startswith("Remove the password")
    truncated_state = await eventually(lambda: state_of(truncated["document_id"]))
    assert truncated_state["state"] == "failed" and truncated_state["reason"].startswith("unreadable PDF")
    assert "upload it again" in truncated_state["advice"]
    assert (await eventually(lambda: state_of(good["document_id"])))["state"] == "indexed"

    listing = (await api.get("/v1/documents", headers=user.auth)).json()["items"]
    states = {item["document_id"]: item["full_text"]["state"] for item in listing}
    assert states == {
        good["document_id"]: "indexed",
        locked["document_id"]: "failed",
        truncated["document_id"]: "failed",
    }

    # The type filter: a short form works, anything else is a 422 that says what is expected.
    short = await api.get("/v1/search", params={"q": "heron", "content_type": "txt"}, headers=user.auth)
    assert [hit["document_id"] for hit in short.json()["items"]] == [good["document_id"]]
    wrong = await api.get("/v1/search", params={"q": "heron", "content_type": "words"}, headers=user.auth)
    assert wrong.status_code == 422 and "MIME type" in wrong.json()["detail"]


async def test_free_documents_say_not_indexed_and_an_upgrade_is_honoured_at_once(api) -> None:
    user = await sign_up(api, plan="free")
    doc = await upload(api, user, "free.txt", b"an otter in the free plan")

    async def recorded():
        response = await api.get(f"/v1/documents/{doc['document_id']}", headers=user.auth)
        return response.json() if response.status_code == 200 else None

    answer = await eventually(recorded)
    assert answer["full_text"]["state"] == "not_indexed"
    assert (await api.get("/v1/search/status", headers=user.auth)).status_code == 403

    changed = await api.put("/v1/account/plan", json={"plan": "premium"}, headers=user.auth)
    assert changed.status_code == 200, changed.text
    status = await api.get("/v1/search/status", headers=user.auth)  # at once: no 403 while the event travels
    assert status.status_code == 200, status.text
    assert status.json()["state"] in {"enabling", "backfilling", "complete"}

    async def indexed():
        response = await api.get(f"/v1/documents/{doc['document_id']}", headers=user.auth)
        return response.json()["full_text"]["state"] == "indexed"

    await eventually(indexed, timeout=60)
