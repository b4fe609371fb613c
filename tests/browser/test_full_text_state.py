"""The full-text state in the web app: a badge in the files list for a document whose text could
not be read, and the details (opened as the "file changed" mail's link opens them) saying why and
what to do."""

from __future__ import annotations

import io
from pathlib import Path

from docstore_devplatform import documents

from .conftest import WebSystem
from .test_web_app import document_row, pick_files, sign_up, wait_uploaded, write_file
from .webdriver import Browser


def encrypted_pdf(text: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(documents.make_pdf([text]))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="hunter2", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_password_protected_pdf_shows_a_badge_and_what_to_do(
    web_system: WebSystem, browser: Browser, tmp_path: Path
) -> None:
    base = web_system.gateway
    sign_up(browser, base, plan="premium")
    # The indexer is stopped while the file goes up, so the list surely first shows it as being
    # indexed; the outcome, once the indexer is back, must replace the badge without a reload
    # (it is not a change of the document: no change-feed entry carries it).
    indexer = web_system.processes.process("indexer")
    indexer.stop(10)
    try:
        pick_files(browser, "#file-picker", write_file(tmp_path, "locked.pdf", encrypted_pdf("secret plans")))
        wait_uploaded(browser, "locked.pdf")
        row = document_row(browser, "locked.pdf")
        document_id = row.attribute("data-document-id")
        assert document_id
        browser.find_text("table.documents tbody tr .badge.fulltext-pending", "Indexing", timeout=30)
        browser.js("window.__notReloaded = true")
    finally:
        web_system.processes.resume()

    def badge_shown() -> bool:
        found = browser.find_text("table.documents tbody tr", "locked.pdf")
        return "Text not searchable" in found.text

    browser.wait(badge_shown, "the failed badge on locked.pdf, in place", timeout=120, interval=1.0)
    assert browser.js("return window.__notReloaded === true"), "the page was reloaded"
    badge = browser.find("table.documents tbody tr .badge.fulltext-failed")
    assert "password" in badge.attribute("title"), badge.attribute("title")
    browser.screenshot("full-text-failed-badge")
    # The Grid view's card carries the same badge.
    browser.button("Grid").click()
    browser.find_text("li.doc-card .badge.fulltext-failed", "Text not searchable")
    browser.button("List").click()
    browser.find("table.documents tbody tr .badge.fulltext-failed")

    # The search page says (from /v1/search/status, counted now) that one document's text could
    # not be read, and where to see which.
    browser.js("location.hash = '#/search?q=plans'")
    note = browser.find_text("section.results .index-note", "could not be read", timeout=60)
    assert "The text of 1 document could not be read" in note.text, note.text
    assert note.find("a").attribute("href").endswith("#/files?all=1")

    browser.open(f"{base}/#/files?open={document_id}")

    def details_say_what_to_do() -> bool:
        # Read in one go: the details may render again once loaded, leaving a found line stale.
        line = browser.find_text("dialog dd.fulltext", "protected with a password", timeout=30)
        text = line.text
        # People's words first, what to do, and the indexer's precise reason in small print.
        assert text.startswith("It is protected with a password"), text
        assert "Remove the password" in text, text
        assert "Technical detail: encrypted PDF (needs a password)" in text, text
        return True

    browser.wait(details_say_what_to_do, "the reason and what to do in the details", timeout=60)
    browser.screenshot("full-text-failed-details")
