"""Folders in the web app (issue 37), in a real headless Chromium against the whole system, at a
desktop and a phone size: a folder is made, gets a file dropped on it and a document dragged onto
it, is renamed, moved into another folder with the picker, deleted with everything inside and
restored from the trash as a whole; the server is checked after each step, and axe finds nothing
serious on the files and trash pages."""

from __future__ import annotations

import time

import httpx
import pytest

from .conftest import WebSystem
from .test_file_manager import api_upload
from .test_quality import AXE, SIZES, axe_violations
from .test_web_behaviour import DROP_FILES, api_client, press, sign_up
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# A document row dragged onto a folder row, as a mouse drag does (the row's own dragstart fills the transfer).
DRAG_ROW_ONTO = """
const [source, target] = arguments;
const transfer = new DataTransfer();
const row = document.querySelector(source);
row.dispatchEvent(new DragEvent("dragstart", { bubbles: true, cancelable: true, dataTransfer: transfer }));
const zone = document.querySelector(target);
for (const type of ["dragenter", "dragover", "drop"]) {
  zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
}
"""


def until(check, what: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def paths_of(client: httpx.Client) -> dict[str, str]:
    """name -> folder of every live document of the account."""
    items = client.get("/v1/documents", params={"limit": 200}).json()["items"]
    return {doc["name"]: doc["path"] for doc in items}


def folder_row(name: str) -> str:
    return f"ul.folders li.folder-row[data-path='{name}']"


def no_axe_violations(browser: Browser, page: str) -> None:
    if AXE.is_file():
        assert axe_violations(browser) == [], f"axe: {page}"


@pytest.mark.parametrize("size", SIZES, ids=["desktop", "phone"])
def test_folders_are_made_filled_renamed_moved_deleted_and_restored(
    web_system: WebSystem, browser: Browser, size: tuple[int, int]
) -> None:
    base = web_system.gateway
    browser.resize(*size)
    username = sign_up(browser, base)
    with api_client(base, username) as client:
        api_upload(client, "loose.txt", b"loose")
        browser.find_text("table.documents tbody tr", "loose.txt", timeout=30)

        # Made: an empty folder shows as a row at once.
        press(browser, "New folder")
        browser.find("dialog[open] input").fill("Projects")
        press(browser, "Create", within="dialog[open]")
        browser.find_text(f"{folder_row('/Projects')} a.folder", "Projects")

        # A file dropped on the folder row is uploaded into it (not into the folder shown).
        browser.js(DROP_FILES, folder_row("/Projects"), [["dropped.txt", 12, "d"]])
        until(lambda: paths_of(client).get("dropped.txt") == "/Projects", "dropped.txt in /Projects")
        # A document dragged onto the folder row moves into it.
        browser.js(DRAG_ROW_ONTO, "table.documents tbody tr[draggable=true]", folder_row("/Projects"))
        until(lambda: paths_of(client).get("loose.txt") == "/Projects", "loose.txt moved to /Projects")

        # Renamed: the folder and what it holds.
        press(browser, "Rename folder Projects")
        renamed = browser.find("dialog[open] input")
        renamed.clear()
        renamed.fill("Work")
        press(browser, "Rename", within="dialog[open]")
        browser.find(f"{folder_row('/Work')} a.folder")
        until(lambda: set(paths_of(client).values()) == {"/Work"}, "the documents in /Work")

        # Moved into another folder with the picker.
        press(browser, "New folder")
        browser.find("dialog[open] input").fill("Archive")
        press(browser, "Create", within="dialog[open]")
        browser.find(folder_row("/Archive"))
        press(browser, "Move folder Work")
        press(browser, "Archive", within="dialog[open] .picker-list")
        browser.find_text("dialog[open] .picker-where", "/Archive")
        press(browser, "Move here", within="dialog[open]")
        until(lambda: set(paths_of(client).values()) == {"/Archive/Work"}, "the documents in /Archive/Work")
        browser.wait(lambda: not browser.find_all(folder_row("/Work")), "the moved folder's row to go")
        no_axe_violations(browser, f"files with folders at {size}")
        browser.screenshot(f"folders-files-{size[0]}x{size[1]}")

        # Deleted with everything inside, then restored as a whole from the trash.
        press(browser, "Delete folder Archive")
        until(lambda: paths_of(client) == {}, "every document in the trash")
        browser.open(f"{base}/#/trash")
        browser.find_text("ul.trashed-folders li", "/Archive")
        no_axe_violations(browser, f"trash with a folder at {size}")
        browser.screenshot(f"folders-trash-{size[0]}x{size[1]}")
        press(browser, "Restore folder Archive")
        until(
            lambda: paths_of(client) == {"loose.txt": "/Archive/Work", "dropped.txt": "/Archive/Work"},
            "the folder back with its documents",
        )
        browser.wait(lambda: not browser.find_all("ul.trashed-folders li"), "the trash to show no folder")
