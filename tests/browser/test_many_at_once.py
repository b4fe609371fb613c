"""The file manager's viewer, actions on many documents, rename in place and the upload clash
dialog (issue 37), in a real headless Chromium against the whole system, at a desktop and a phone
size: a two-page PDF viewed (both pages drawn, zoom, the side panel's tabs, ←/→ to the next file
of the folder and back), two documents ticked and moved with the folder picker, one renamed in place from its row menu, a
file uploaded under a name that is taken (Keep both: a numbered name; Replace: a new version of
the one there; Skip: nothing), then every document of the page ticked and deleted; the server is
checked after each step, and axe finds nothing serious with the bar, the menu and the dialog shown.
Each step fails on the web app before these were built (no viewer, no ticks, no row menu, and an
upload that clashed only said "Failed")."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.keys import Keys

from .conftest import WebSystem
from .test_file_manager import api_upload
from .test_folders import no_axe_violations, until
from .test_quality import SIZES
from .test_web_app import pick_files, write_file
from .test_web_behaviour import api_client, press, sign_up
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def pdf_of_pages(*texts: str) -> bytes:
    """A small, valid PDF with one page per text (Helvetica), offsets and xref exact."""
    count = len(texts)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    font = 3 + 2 * count
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode()]
    for i, text in enumerate(texts):
        content = f"BT /F1 28 Tf 40 120 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 320 240] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def documents(client: httpx.Client) -> dict[str, dict]:
    """name -> document, for every live document of the account."""
    items = client.get("/v1/documents", params={"limit": 200}).json()["items"]
    return {doc["name"]: doc for doc in items}


def paths(client: httpx.Client) -> dict[str, str]:
    return {name: doc["path"] for name, doc in documents(client).items()}


def upload_row_says(browser: Browser, name: str, state: str) -> bool:
    return any(
        row.find(".upload-name").text == name and state in row.text
        for row in browser.find_all("#upload-list li.upload")
    )


def upload_pdf(client: httpx.Client, name: str, data: bytes) -> None:
    grant = client.post("/v1/uploads", json={"filename": name, "size": len(data), "content_type": "application/pdf"})
    assert grant.status_code == 201, grant.text
    form = grant.json()["form"]
    posted = httpx.post(form["url"], data=form["fields"], files={"file": (name, data, "application/pdf")}, timeout=30)
    assert posted.status_code < 300, posted.text
    assert client.post(f"/v1/uploads/{grant.json()['upload_id']}/complete").status_code in (200, 202)
    until(lambda: name in documents(client), f"{name} listed", timeout=60)


def tick(browser: Browser, name: str) -> None:
    browser.find(f"table.documents input.pick-box[aria-label='Select {name}']").click()


@pytest.mark.parametrize("size", SIZES, ids=["desktop", "phone"])
def test_many_at_once_rename_in_place_and_upload_clashes(
    web_system: WebSystem, browser: Browser, size: tuple[int, int], tmp_path: Path
) -> None:
    base = web_system.gateway
    browser.resize(*size)
    shot = f"{size[0]}x{size[1]}"
    username = sign_up(browser, base)
    with api_client(base, username) as client:
        for name in ("a.txt", "b.txt", "c.txt"):
            api_upload(client, name, f"text of {name}".encode())
        upload_pdf(client, "pages.pdf", pdf_of_pages("Page one", "Page two"))
        made = client.post("/v1/folders", json={"parent": "/", "name": "Box"})
        assert made.status_code == 201, made.text
        browser.reload()
        browser.find_text("table.documents tbody tr", "c.txt", timeout=30)
        # Each row has its type drawn as SVG (no emoji that renders as an empty box).
        assert browser.find("table.documents tbody tr .row-icon svg.type-icon")

        # The viewer: every page of the PDF, zoom, the side panel's tabs, and ←/→ through the folder.
        browser.find_text("table.documents tbody tr", "pages.pdf")
        press(browser, "More actions for pages.pdf")
        press(browser, "View", within=".row-menu")
        browser.find_text("dialog.viewer[open] h2", "pages.pdf")
        browser.find_text("dialog.viewer .viewer-position", "1 of 4")
        browser.find_text("dialog.viewer .viewer-page", "Page 1 of 2", timeout=30)
        browser.find("dialog.viewer canvas.pdf-page[data-page='1']")
        press(browser, "Next page", within="dialog.viewer")
        browser.find_text("dialog.viewer .viewer-page", "Page 2 of 2")
        browser.find("dialog.viewer canvas.pdf-page[data-page='2']")
        assert browser.js("return document.querySelector('dialog.viewer canvas.pdf-page').width") > 100
        press(browser, "Zoom in", within="dialog.viewer")
        browser.find_text("dialog.viewer .viewer-zoom", "125%")
        press(browser, "Versions", within="dialog.viewer [role=tablist]")
        browser.find_text("dialog.viewer [role=tabpanel] .viewer-versions li", "v1")
        press(browser, "Activity", within="dialog.viewer [role=tablist]")
        browser.wait(
            lambda: (
                browser.find_all("dialog.viewer .viewer-activity li")
                or "Nothing recorded" in browser.find("dialog.viewer [role=tabpanel]").text
            ),
            "the file's activity",
        )
        assert not browser.find_all("dialog.viewer .panel-error")
        press(browser, "Details", within="dialog.viewer [role=tablist]")
        browser.find_text("dialog.viewer [role=tabpanel] .facts", "application/pdf")
        no_axe_violations(browser, f"the viewer at {size}")
        browser.screenshot(f"viewer-pdf-{shot}")
        browser.find("dialog.viewer .viewer-stage").click()
        browser.keys(Keys.ARROW_RIGHT)
        browser.find_text("dialog.viewer[open] h2", "c.txt")
        browser.find_text("dialog.viewer .viewer-position", "2 of 4")
        assert browser.js("return document.querySelector('dialog.viewer .viewer-pages').hidden")
        browser.find_text("dialog.viewer pre.viewer-text", "text of c.txt")  # a text file shows its words
        browser.screenshot(f"viewer-text-{shot}")
        browser.keys(Keys.ARROW_LEFT)
        browser.find_text("dialog.viewer[open] h2", "pages.pdf")
        browser.keys(Keys.ESCAPE)
        browser.wait(lambda: not browser.find_all("dialog[open]"), "the viewer to close")

        # Two ticked: the bar says so and moves both with the folder picker.
        tick(browser, "a.txt")
        tick(browser, "b.txt")
        browser.find_text(".bulk-bar .bulk-count", "2 documents selected")
        no_axe_violations(browser, f"files with two selected at {size}")
        browser.screenshot(f"many-selected-{shot}")
        press(browser, "Move selected")
        press(browser, "Box", within="dialog[open] .picker-list")
        browser.find_text("dialog[open] .picker-where", "/Box")
        press(browser, "Move here", within="dialog[open]")
        until(
            lambda: paths(client) == {"a.txt": "/Box", "b.txt": "/Box", "c.txt": "/", "pages.pdf": "/"},
            "a and b moved to /Box",
        )
        browser.wait(
            lambda: (
                not browser.find_all("input.pick-box[aria-label='Select a.txt']")
                and browser.js("return document.querySelector('.bulk-bar').hidden")
            ),
            "the moved rows and the bar to go",
        )

        # Renamed in place from the row's menu (no dialog): type, Enter.
        press(browser, "More actions for c.txt")
        browser.find(".row-menu[role=menu]")
        no_axe_violations(browser, f"a row's menu at {size}")
        browser.screenshot(f"row-menu-{shot}")
        press(browser, "Rename", within=".row-menu")
        box = browser.find("table.documents input.rename-inline")
        box.fill("notes.txt")
        box.type(Keys.ENTER)
        until(lambda: "notes.txt" in documents(client), "c.txt renamed to notes.txt")
        browser.find_text("table.documents tbody tr button.doc-open", "notes.txt")

        # An upload whose name is taken asks: Keep both stores it under the numbered name.
        pick_files(browser, "#file-picker", write_file(tmp_path, "notes.txt", b"second notes"))
        clash = browser.find_text("dialog[open]", "notes 2.txt").text
        assert "null" not in clash and "undefined" not in clash, clash
        no_axe_violations(browser, f"the upload clash dialog at {size}")
        browser.screenshot(f"upload-clash-{shot}")
        press(browser, "Keep both", within="dialog[open]")
        browser.wait(lambda: upload_row_says(browser, "notes 2.txt", "Uploaded"), "notes 2.txt uploaded", timeout=60)
        assert set(documents(client)) == {"a.txt", "b.txt", "notes.txt", "notes 2.txt", "pages.pdf"}

        # Replace makes it a new version of the one there.
        first = documents(client)["notes.txt"]
        pick_files(browser, "#file-picker", write_file(tmp_path, "notes.txt", b"third notes, longer"))
        press(browser, "Replace", within="dialog[open]")
        until(lambda: documents(client)["notes.txt"]["version"] == first["version"] + 1, "a new version of notes.txt")
        replaced = documents(client)["notes.txt"]
        assert replaced["document_id"] == first["document_id"]
        assert replaced["size"] == len(b"third notes, longer")

        # Skip leaves everything as it was.
        pick_files(browser, "#file-picker", write_file(tmp_path, "notes.txt", b"fourth"))
        press(browser, "Skip", within="dialog[open]")
        browser.wait(lambda: upload_row_says(browser, "notes.txt", "Skipped"), "the skipped upload's row")
        after = documents(client)
        assert set(after) == {"a.txt", "b.txt", "notes.txt", "notes 2.txt", "pages.pdf"}
        assert after["notes.txt"]["version"] == replaced["version"]

        # Every document of the page ticked at once, and deleted together (Undo offered).
        browser.find_text("table.documents tbody tr", "notes 2.txt", timeout=30)
        browser.find(".table-wrap input.pick-all").click()
        browser.find_text(".bulk-bar .bulk-count", "3 documents selected")
        press(browser, "Delete selected")
        until(lambda: paths(client) == {"a.txt": "/Box", "b.txt": "/Box"}, "the three deleted")
        browser.find_text("#status .toast", "3 documents moved to the trash")
        browser.button("Undo", within="#status")
        browser.screenshot(f"many-deleted-{shot}")
