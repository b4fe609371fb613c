"""Issue 37's web-app defects, each in a real headless Chromium against the whole system:

- D1/D2: after Files was opened three times, one dropped file is one upload, and a file dropped on
  another page uploads nothing (the Files page's listeners on the shared #main left with it);
- D3: the password-reset form takes a corrected password after a mismatch;
- D5: an upload whose completion answer is lost is shown done (the server is asked), and one whose
  completion never arrived offers Retry, which finishes the same upload: one document each;
- D6/D7: an error from the details dialog shows inside it; when the session ends the dialog closes,
  no API text shows, and logging in again returns to the folder the person was in;
- D8: a person a file is shared with (view) is not offered Rename, Move or Delete;
- D10: a folder made by a move shows in the list without a reload, with an SVG icon;
- D9: turning on two-step sign-in says this device is signed out too, and goes to the login page.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.keys import Keys

from docstore_kit.http_transport import sync_client

from .conftest import PASSWORD, WebSystem, api_sign_up
from .test_account_recovery import wait_for_token
from .test_two_factor import totp
from .test_web_app import go, pick_files, wait_uploaded, write_file
from .test_web_behaviour import api_client, open_details, press, sign_up
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

UPLOAD_ROWS = "return [...document.querySelectorAll('#upload-list li.upload .upload-name')].map((e) => e.textContent)"

# Drop one file on `target` and say whether a handler took it (preventDefault: the browser does not open it).
DROP_ON = """
const [target, name] = arguments;
const transfer = new DataTransfer();
transfer.items.add(new File(["dropped"], name, { type: "text/plain" }));
const zone = document.querySelector(target);
zone.dispatchEvent(new DragEvent("dragover", { bubbles: true, cancelable: true, dataTransfer: transfer }));
const drop = new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: transfer });
zone.dispatchEvent(drop);
return drop.defaultPrevented;
"""

# The page's next completion call reaches the server, but its answer is lost (the network
# dropped at the end).
LOSE_COMPLETION_ANSWER = """
const original = window.__realFetch || (window.__realFetch = window.fetch);
let armed = true;
window.fetch = async (url, options) => {
  if (armed && /\\/v1\\/uploads\\/[^/]+\\/complete$/.test(String(url))) {
    armed = false;
    await original(url, options);
    throw new TypeError("Failed to fetch");
  }
  return original(url, options);
};
"""
# The next send to storage fails as a dropped connection does, so the bytes never arrive. (Cutting
# only the completion call is not enough: the server completes an upload itself when storage tells
# it the bytes arrived, and the app, rightly, shows that one done.)
DROP_NEXT_STORAGE_SEND = """
const send = XMLHttpRequest.prototype.__realSend || (XMLHttpRequest.prototype.__realSend = XMLHttpRequest.prototype.send);
let armed = true;
XMLHttpRequest.prototype.send = function (body) {
  if (!armed) return send.call(this, body);
  armed = false;
  setTimeout(() => this.dispatchEvent(new ProgressEvent("error")), 0);
};
"""


SAVE_TAGS = """
[...document.querySelectorAll("dialog[open] button")].find((b) => b.textContent.trim() === "Save tags")?.click();
"""


def log_in(browser: Browser, username: str) -> None:
    browser.find("#login-title")
    browser.find("input[name=username]").fill(username)
    browser.find("input[name=password]").fill(PASSWORD)
    press(browser, "Log in")
    browser.find_text("#who-name", username)


def documents_named(client: httpx.Client, name: str) -> int:
    items = client.get("/v1/documents", params={"sort": "modified", "limit": 200}).json()["items"]
    return sum(1 for doc in items if doc["name"] == name)


def api_upload(client: httpx.Client, name: str, data: bytes, path: str = "/") -> str:
    """A small file stored through the API (grant, the signed form to S3, complete); its document id."""
    grant = client.post(
        "/v1/uploads", json={"filename": name, "size": len(data), "content_type": "text/plain", "path": path}
    )
    assert grant.status_code == 201, grant.text
    form = grant.json()["form"]
    posted = httpx.post(form["url"], data=form["fields"], files={"file": (name, data, "text/plain")}, timeout=30)
    assert posted.status_code < 300, posted.text
    completed = client.post(f"/v1/uploads/{grant.json()['upload_id']}/complete")
    assert completed.status_code in (200, 202), completed.text
    document_id = grant.json()["document_id"]
    deadline = time.monotonic() + 60
    while client.get(f"/v1/documents/{document_id}").status_code != 200:
        assert time.monotonic() < deadline, f"{name} never listed"
        time.sleep(0.3)
    return document_id


def test_a_drop_uploads_once_and_only_on_files(web_system: WebSystem, browser: Browser) -> None:
    base = web_system.gateway
    username = sign_up(browser, base)
    for route in ("#/files", "#/trash", "#/files", "#/trash", "#/files"):
        go(browser, route)
        browser.find_text("#main h1", "Files" if route == "#/files" else "Trash")
    browser.find(".dropzone")
    assert browser.js(DROP_ON, ".dropzone", "once.txt")
    # The panel's rows are added as the drop is handled: one row is one upload.
    assert browser.js(UPLOAD_ROWS) == ["once.txt"]
    wait_uploaded(browser, "once.txt")

    go(browser, "#/trash")
    browser.find_text("#main h1", "Trash")
    # Taken (the browser does not open the file in place of the app), but not uploaded.
    assert browser.js(DROP_ON, "#main", "elsewhere.txt")
    assert browser.js(UPLOAD_ROWS) == ["once.txt"]
    with api_client(base, username) as client:
        assert documents_named(client, "once.txt") == 1
        assert documents_named(client, "elsewhere.txt") == 0


def test_the_reset_form_takes_a_corrected_password(web_system: WebSystem, browser: Browser, endpoints) -> None:
    base = web_system.gateway
    username = f"rst-{uuid.uuid4().hex[:10]}"
    api_sign_up(base, username)
    asked = httpx.post(f"{base}/v1/account/password-reset", json={"username_or_email": username}, timeout=30)
    assert asked.status_code in (200, 202, 204), asked.text
    token = wait_for_token(browser, endpoints, f"{username}@example.com", "reset")
    browser.open(f"{base}/#/reset-password?token={token}")
    browser.find("input[name=new_password]").fill("lantern orchard quietly sixteen")
    browser.find("input[name=new_password_again]").fill("lantern orchard quietly seventeen")
    press(browser, "Set new password")
    assert browser.js("return document.querySelector('input[name=new_password_again]').validationMessage")
    browser.find("input[name=new_password_again]").fill("lantern orchard quietly sixteen")
    press(browser, "Set new password")
    browser.find_text("#reset-title", "Your password is changed", timeout=30)


def test_an_upload_is_failed_only_when_the_server_lacks_it_and_retry_finishes_it(
    web_system: WebSystem, browser: Browser, tmp_path: Path
) -> None:
    base = web_system.gateway
    username = sign_up(browser, base)
    browser.find(".dropzone")
    # The completion arrived but its answer was lost: the server has the file, so it is done.
    browser.js(LOSE_COMPLETION_ANSWER)
    pick_files(browser, "#file-picker", write_file(tmp_path, "lost-answer.txt", b"stored all the same"))
    wait_uploaded(browser, "lost-answer.txt")
    # The bytes never reached storage: Failed, with Retry, which sends them for this same upload.
    browser.js(DROP_NEXT_STORAGE_SEND)
    pick_files(browser, "#file-picker", write_file(tmp_path, "retried.txt", b"sent once"))
    browser.find_text("#upload-list li.failed", "retried.txt", timeout=60)
    press(browser, "Retry retried.txt")
    wait_uploaded(browser, "retried.txt")
    with api_client(base, username) as client:
        assert documents_named(client, "lost-answer.txt") == 1
        assert documents_named(client, "retried.txt") == 1


def test_dialog_errors_show_in_it_and_an_ended_session_returns_to_the_folder(
    web_system: WebSystem, browser: Browser
) -> None:
    base = web_system.gateway
    username = sign_up(browser, base)
    with api_client(base, username) as client:
        gone = api_upload(client, "gone.txt", b"deleted elsewhere", "/reports")
        api_upload(client, "kept.txt", b"still here", "/reports")
        go(browser, "#/files?path=%2Freports")
        open_details(browser, "gone.txt")
        assert client.delete(f"/v1/documents/{gone}").status_code == 204
        press(browser, "Save tags", within="dialog[open]")
        # D6: the error is in the dialog, where the person is looking.
        browser.find("dialog[open] .dialog-alert[role=alert]")
        browser.keys(Keys.ESCAPE)
        browser.wait(lambda: not browser.find_all("dialog[open]"), "the dialog to close")

        open_details(browser, "kept.txt")
        # Every session of the account ends (as "log out of all devices" elsewhere does).
        assert client.delete("/v1/sessions").status_code in (200, 204)

    def on_login_page() -> bool:
        # Each press asks the server; the first one after the sessions ended is refused.
        if not browser.find_all("#login-title"):
            browser.js(SAVE_TAGS)
        return bool(browser.find_all("#login-title"))

    browser.wait(on_login_page, "the login page", timeout=60, interval=1.0)
    # D7: no dialog over the login page, and no API words.
    assert not browser.find_all("dialog[open]")
    assert "/v1/" not in browser.js("return document.body.innerText")
    log_in(browser, username)
    browser.wait(lambda: "reports" in browser.url, "the folder the person was in", timeout=30)
    browser.find_text("table.documents tbody tr", "kept.txt", timeout=30)


def test_a_folder_made_by_a_move_shows_without_a_reload(web_system: WebSystem, browser: Browser) -> None:
    base = web_system.gateway
    username = sign_up(browser, base)
    with api_client(base, username) as client:
        api_upload(client, "mover.txt", b"going places")
    open_details(browser, "mover.txt")
    folder = browser.js(
        "const label = [...document.querySelectorAll('dialog[open] label')]"
        ".find((l) => l.textContent.trim() === 'Folder'); return document.getElementById(label.htmlFor);"
    )
    folder.fill("/moved-here")
    press(browser, "Move", within="dialog[open]")
    browser.find_text("dialog[open] .facts", "/moved-here", timeout=30)
    browser.keys(Keys.ESCAPE)
    browser.find_text("ul.folders a.folder", "moved-here", timeout=30)
    assert browser.find("ul.folders a.folder svg.folder-icon")  # drawn, not an emoji


def test_a_viewer_is_not_offered_the_owners_actions(web_system: WebSystem, browser: Browser) -> None:
    base = web_system.gateway
    owner, friend = f"own-{uuid.uuid4().hex[:8]}", f"frd-{uuid.uuid4().hex[:8]}"
    with sync_client(base_url=base, timeout=30) as client:
        client.headers["Authorization"] = f"Bearer {api_sign_up(base, owner)}"
        api_sign_up(base, friend)
        document_id = api_upload(client, "shared.txt", b"for your eyes")
        shared = client.post(f"/v1/documents/{document_id}/shares", json={"username": friend, "permission": "view"})
        assert shared.status_code in (200, 201), shared.text
    browser.open(f"{base}/#/login")
    log_in(browser, friend)
    go(browser, "#/shared")
    press(browser, "shared.txt")
    dialog = browser.find("dialog[open]")
    browser.find_text("dialog[open] .sharing", "Shared with you")
    labels = browser.js(
        "return [...arguments[0].querySelectorAll('button, label.button')]"
        ".filter((b) => b.offsetWidth || b.offsetHeight).map((b) => b.textContent.trim())",
        dialog,
    )
    assert "Download" in labels, labels
    assert not {"Rename", "Move", "Delete", "Save tags", "Upload new version…"} & set(labels), labels


def test_turning_on_two_step_sign_in_says_this_device_is_signed_out(web_system: WebSystem, browser: Browser) -> None:
    base = web_system.gateway
    username = f"mfa-{uuid.uuid4().hex[:8]}"
    api_sign_up(base, username)
    browser.open(f"{base}/#/login")
    log_in(browser, username)
    go(browser, "#/security")
    press(browser, "Set up two-step sign-in")
    secret = browser.find("#mfa-secret").text.replace(" ", "")
    browser.find("#mfa-enrol input[name=code]").fill(totp(secret))
    press(browser, "Turn on")
    said = browser.find("#mfa-codes p[role=status]").text
    assert "this one too" in said, said
    press(browser, "I have saved them")
    notice = browser.find("#login-notice", timeout=30).text
    assert "this one too" in notice, notice
