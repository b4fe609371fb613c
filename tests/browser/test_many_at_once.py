"""The file manager's actions on many documents, rename in place and the upload clash dialog
(issue 37), in a real headless Chromium against the whole system, at a desktop and a phone size:
two documents ticked and moved with the folder picker, one renamed in place from its row menu, a
file uploaded under a name that is taken (Keep both: a numbered name; Replace: a new version of
the one there; Skip: nothing), then every document of the page ticked and deleted; the server is
checked after each step, and axe finds nothing serious with the bar, the menu and the dialog shown.
Each step fails on the web app before these were built (no ticks, no row menu, and an upload that
clashed only said "Failed")."""

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
        made = client.post("/v1/folders", json={"parent": "/", "name": "Box"})
        assert made.status_code == 201, made.text
        browser.reload()
        browser.find_text("table.documents tbody tr", "c.txt", timeout=30)
        # Each row has its type drawn as SVG (no emoji that renders as an empty box).
        assert browser.find("table.documents tbody tr .row-icon svg.type-icon")

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
        until(lambda: paths(client) == {"a.txt": "/Box", "b.txt": "/Box", "c.txt": "/"}, "a and b moved to /Box")
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
        browser.find("dialog[open] .clash-choices")
        no_axe_violations(browser, f"the upload clash dialog at {size}")
        browser.screenshot(f"upload-clash-{shot}")
        press(browser, "Keep both", within="dialog[open]")
        browser.wait(lambda: upload_row_says(browser, "notes 2.txt", "Uploaded"), "notes 2.txt uploaded", timeout=60)
        assert set(documents(client)) == {"a.txt", "b.txt", "notes.txt", "notes 2.txt"}

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
        assert set(after) == {"a.txt", "b.txt", "notes.txt", "notes 2.txt"}
        assert after["notes.txt"]["version"] == replaced["version"]

        # Every document of the page ticked at once, and deleted together (Undo offered).
        browser.find_text("table.documents tbody tr", "notes 2.txt", timeout=30)
        browser.find("table.documents input.pick-all").click()
        browser.find_text(".bulk-bar .bulk-count", "2 documents selected")
        press(browser, "Delete selected")
        until(lambda: paths(client) == {"a.txt": "/Box", "b.txt": "/Box"}, "both deleted")
        browser.find_text("#status .toast", "2 documents moved to the trash")
        browser.button("Undo", within="#status")
        browser.screenshot(f"many-deleted-{shot}")
