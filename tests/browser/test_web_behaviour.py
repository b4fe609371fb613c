"""How the web app behaves around the file list (issue 17), in a real headless Chromium:

drag-and-drop upload, the uploads panel never covering a row, Delete with Undo, a new-version
upload, the list following changes made elsewhere (change feed, long-poll), errors in human
words, Log out hidden before logging in, and no failed requests a person never sees.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from docstore_kit.http_transport import sync_client

from .conftest import BEHAVIOUR_ADMIN_USERNAME, FREE_CAP_BYTES, PASSWORD, WebSystem
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WIDE = (1366, 900)
PHONE = (390, 844)

DROP_FILES = """
const [target, files] = arguments;
const transfer = new DataTransfer();
for (const [name, size, fill] of files) transfer.items.add(new File([fill.repeat(size)], name, { type: "text/plain" }));
const zone = document.querySelector(target);
for (const type of ["dragenter", "dragover", "drop"]) {
  zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
}
"""

COVERED = """
// The elements whose centre is covered by something else (what a click there would hit instead).
const covered = [];
for (const el of document.querySelectorAll(arguments[0])) {
  el.scrollIntoView({ block: "nearest" });
  const r = el.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  if (!hit || (hit !== el && !el.contains(hit))) covered.push(`${el.getAttribute("aria-label")} under ${hit && hit.className}`);
}
return covered;
"""

FAILED_REQUESTS = """
return performance.getEntriesByType("resource")
  .filter((e) => e.responseStatus >= 400)
  .map((e) => `${e.responseStatus} ${e.name}`);
"""


def sign_up(browser: Browser, base: str, plan: str = "free") -> str:
    username = f"beh-{uuid.uuid4().hex[:10]}"
    browser.open(f"{base}/#/signup")
    browser.find("#signup-title")
    browser.find("input[name=username]").fill(username)
    browser.find("input[name=email]").fill(f"{username}@example.com")
    browser.find("input[name=password]").fill(PASSWORD)
    if plan == "premium":
        browser.find("#plan-premium").click()
    press(browser, "Create account")
    browser.find_text("#who-name", username)
    browser.find("h1")
    return username


def api_client(base: str, username: str) -> httpx.Client:
    """The test's own session for the account (changes made "elsewhere", as another device would).
    Its idle connections expire before the gateway closes them (`default_limits`): the test
    pauses for browser steps, and a connection reused just as the server closed it is never
    answered."""
    login = httpx.post(f"{base}/v1/sessions", json={"username": username, "password": PASSWORD}, timeout=30)
    assert login.status_code == 201, login.text
    return sync_client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {login.json()['token']}"})


def drop(browser: Browser, *files: tuple[str, int, str]) -> None:
    """Drop files (name, size, fill character) on the drop zone, as a drag from the desktop does."""
    browser.find(".dropzone")
    browser.js(DROP_FILES, ".dropzone", [list(f) for f in files])


def wait_uploaded(browser: Browser, name: str, timeout: float = 60.0) -> None:
    def done() -> bool:
        for row in browser.find_all("#upload-list li.upload"):
            text = row.text
            if name in text and "Failed" in text:
                raise AssertionError(f"upload of {name} failed: {text}")
            if name in text and "Uploaded" in text:
                return True
        # Finished uploads leave the panel after a while: the list row is proof enough then.
        return any(name in r.text for r in browser.find_all("table.documents tbody tr"))

    browser.wait(done, f"upload of {name}", timeout)


def row_names(browser: Browser) -> list[str]:
    return [r.find("button.doc-open").text for r in browser.find_all("table.documents tbody tr")]


def press(browser: Browser, label: str, within: str = "body") -> None:
    """Click the button `label`, finding it again if the live list redrew it meanwhile (a stale element)."""

    def click() -> bool:
        browser.button(label, within=within).click()
        return True

    browser.wait(click, f"a click on {label!r}")


def open_details(browser: Browser, name: str) -> None:
    def click() -> bool:
        browser.find_text("table.documents tbody tr", name).find("button.doc-open").click()
        return True

    browser.wait(click, f"opening {name}")
    browser.find("dialog[open]")


def rect(browser: Browser, css: str) -> dict:
    return browser.js(
        "return JSON.parse(JSON.stringify(document.querySelector(arguments[0]).getBoundingClientRect()))", css
    )


def overlaps(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def test_log_out_is_hidden_before_logging_in_and_plan_radios_are_not_stretched(
    web_system: WebSystem, browser: Browser
) -> None:
    base = web_system.gateway
    for route in ("#/login", "#/signup"):
        browser.open(f"{base}/{route}")
        browser.find("h1")
        assert browser.js("return document.getElementById('logout').getClientRects().length") == 0, route
        assert browser.js("return getComputedStyle(document.getElementById('who')).display") == "none", route
    width = browser.js("return document.getElementById('plan-premium').getBoundingClientRect().width")
    assert width < 40, f"the plan radio button is {width}px wide"

    # Two changes of the address before the first one's event (a refused request sending the page
    # to the login page while it was going elsewhere) draw the login page once: a second drawing
    # would drop the notice the first one said once ("log in again").
    browser.js(
        """
        window.loginDrawn = 0;
        new MutationObserver((changes) => {
          for (const change of changes) for (const node of change.addedNodes) {
            if (node.nodeType === 1 && (node.id === "login-title" || node.querySelector?.("#login-title"))) window.loginDrawn += 1;
          }
        }).observe(document.getElementById("main"), { childList: true, subtree: true });
        location.hash = "#/signup?via=elsewhere";
        location.hash = "#/login?next=/files";
        """
    )
    browser.find("#login-title")
    browser.js("location.hash = '#/signup'")  # its event comes after the two above: all are handled
    browser.find("#signup-title")
    assert browser.js("return window.loginDrawn") == 1


def test_dropped_uploads_leave_every_row_clickable_and_delete_offers_undo(
    web_system: WebSystem, browser: Browser
) -> None:
    base = web_system.gateway
    browser.resize(*WIDE)
    username = sign_up(browser, base)
    names = ["alpha.txt", "bravo.txt", "charlie.txt"]
    drop(browser, *[(name, 1000 + i, "abc"[i]) for i, name in enumerate(names)])
    for name in names:
        wait_uploaded(browser, name)
    browser.wait(lambda: sorted(row_names(browser)) == sorted(names), "three rows")
    browser.screenshot("20-three-uploads-wide")

    # Nothing lies over any row's buttons: the uploads panel is in the page's flow (not fixed or
    # sticky, so it cannot cover a row whatever the scroll) and apart from the table.
    assert browser.js("return getComputedStyle(document.getElementById('uploads')).position") in ("static", "relative")
    if not browser.js("return document.getElementById('uploads').hidden"):  # it may have auto-hidden already
        assert not overlaps(rect(browser, "#uploads"), rect(browser, "table.documents"))
    assert browser.js(COVERED, "table.documents .row-actions button") == []
    for name in names:
        press(browser, f"Download {name}")  # Selenium refuses a click that another element would get
        browser.find_text("#status .toast", f"Downloading {name}")  # the click reached the button
    browser.wait(lambda: list(browser.downloads.glob("*.txt")), "a download", timeout=30)

    # Delete asks nothing; the toast's Undo brings the document back from the trash.
    with api_client(base, username) as client:
        press(browser, "Delete bravo.txt")
        browser.wait(lambda: "bravo.txt" not in row_names(browser), "bravo.txt to leave the list")
        trashed = client.get("/v1/documents", params={"trashed": "true"}).json()["items"]
        assert [d["name"] for d in trashed] == ["bravo.txt"]
        press(browser, "Undo", within="#status")
        browser.wait(lambda: "bravo.txt" in row_names(browser), "bravo.txt back in the list")
        assert client.get("/v1/documents", params={"trashed": "true"}).json()["items"] == []

    # The finished uploads leave the panel by themselves (and the panel with them).
    browser.wait(lambda: browser.js("return document.getElementById('uploads').hidden"), "the panel to go", timeout=30)

    for name in names:
        assert browser.js(COVERED, "table.documents .row-actions button") == []
        press(browser, f"Delete {name}")
        browser.wait(lambda n=name: n not in row_names(browser), f"{name} to leave the list")
    browser.find_text("#main", "This folder is empty")

    # Neither the wait for a new upload (404s) nor the admin question (403) failed a request.
    assert browser.js(FAILED_REQUESTS) == []


def test_new_version_live_update_and_human_errors(web_system: WebSystem, browser: Browser) -> None:
    base = web_system.gateway
    browser.resize(*WIDE)
    username = sign_up(browser, base)
    drop(browser, ("report.txt", 2000, "r"))
    wait_uploaded(browser, "report.txt")

    # A new version, through the details dialog's file input.
    open_details(browser, "report.txt")
    browser.find_text("dialog[open] .version-table tbody tr", "v1")
    document_id = browser.find("table.documents tbody tr").attribute("data-document-id")
    browser.js(
        """const input = document.getElementById(arguments[0]);
        const transfer = new DataTransfer();
        transfer.items.add(new File(["second version, longer than the first"], "report.txt", { type: "text/plain" }));
        input.files = transfer.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));""",
        f"nv-{document_id}",
    )
    browser.find_text("dialog[open] .version-table tbody tr", "v2", timeout=60)
    press(browser, "Close", within="dialog[open]")

    # A change made elsewhere shows in the open list, without reloading the page.
    browser.js("window.__notReloaded = true")
    with api_client(base, username) as client:
        renamed = client.patch(f"/v1/documents/{document_id}", json={"name": "report-final.txt"})
        assert renamed.status_code == 200, renamed.text
    browser.wait(lambda: row_names(browser) == ["report-final.txt"], "the rename to show in the list", timeout=60)
    assert browser.js("return window.__notReloaded === true"), "the page was reloaded"

    # Leaving the page ends its long-poll at once (it would hold one of the browser's few connections).
    browser.js(
        """window.__polls = [];
        const original = window.fetch;
        window.fetch = (url, init) => {
          if (String(url).includes("/v1/changes") && String(url).includes("wait=")) window.__polls.push(init.signal);
          return original(url, init);
        };
        location.hash = "#/files?sort=name";"""
    )
    browser.wait(lambda: browser.js("return window.__polls.length") >= 1, "the files page to poll the change feed")
    assert browser.js("return window.__polls.some((signal) => !signal.aborted)")
    browser.js("location.hash = '#/trash'")
    browser.find_text("h1", "Trash")
    assert browser.js("return window.__polls.every((signal) => signal.aborted)"), "a poll outlived its page"
    browser.js("location.hash = '#/files'")

    # A bad rename is explained in plain words.
    open_details(browser, "report-final.txt")
    name_input = browser.find("dialog[open] .edit input")
    name_input.fill("a/b.txt")
    press(browser, "Rename", within="dialog[open]")
    message = browser.wait(browser.alert_text, "the rename error")
    assert "`" not in message and "path" not in message, message
    press(browser, "Close", within="dialog[open]")

    # Over the Free cap: the size in MB, and an upgrade link.
    drop(browser, ("huge.txt", FREE_CAP_BYTES + 200_000, "h"))
    failed = browser.find_text("#upload-list li.failed", "huge.txt", timeout=60)
    assert "MB" in failed.text and "bytes" not in failed.text, failed.text
    assert failed.find("a.upgrade-link").attribute("href").endswith("#/usage")
    browser.screenshot("21-over-quota-wide")


def test_phone_keeps_the_list_and_the_top_bar_visible(web_system: WebSystem, browser: Browser) -> None:
    base = web_system.gateway
    browser.resize(*PHONE)
    sign_up(browser, base)
    drop(browser, ("one.txt", 500, "1"), ("two.txt", 600, "2"), ("three.txt", 700, "3"))
    for name in ("one.txt", "two.txt", "three.txt"):
        wait_uploaded(browser, name)
    browser.find_text("table.documents tbody tr", "one.txt")
    browser.screenshot("22-uploads-phone")
    first_row = rect(browser, "table.documents tbody tr")
    height = browser.js("return window.innerHeight")
    assert first_row["top"] < height, f"the first row starts at {first_row['top']}px, below the first screen"
    # A toast (as after a delete) stays clear of the name, Log out and the navigation.
    press(browser, "Delete two.txt")
    toast = browser.find("#status .toast")
    assert toast
    for css in ("#who", "#nav"):
        assert not overlaps(rect(browser, "#status .toast"), rect(browser, css)), css


def test_admin_dashboard_names_top_accounts_and_links_to_them(web_system: WebSystem, browser: Browser) -> None:
    base = web_system.gateway
    browser.resize(*WIDE)
    created = httpx.post(
        f"{base}/v1/accounts",
        json={
            "username": BEHAVIOUR_ADMIN_USERNAME,
            "email": f"{BEHAVIOUR_ADMIN_USERNAME}@example.com",
            "password": PASSWORD,
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text
    user = sign_up(browser, base)  # an account with a file, so that it shows among the top ones
    drop(browser, ("ledger.txt", 3000, "l"))
    wait_uploaded(browser, "ledger.txt")
    press(browser, "Log out")
    browser.find("#login-title")

    def logged_in_as_admin() -> bool:
        # The login form may be drawn again while the logout settles (tabs hear it too): fill it
        # again until the login goes through.
        if any(BEHAVIOUR_ADMIN_USERNAME in e.text for e in browser.find_all("#who-name")):
            return True
        if browser.find_all("#login-title"):
            browser.find("input[name=username]").fill(BEHAVIOUR_ADMIN_USERNAME)
            browser.find("input[name=password]").fill(PASSWORD)
            browser.button("Log in").click()
            try:
                browser.find_text("#who-name", BEHAVIOUR_ADMIN_USERNAME, timeout=5)
            except AssertionError:
                return False
            return True
        return False

    browser.wait(logged_in_as_admin, f"logging in as {BEHAVIOUR_ADMIN_USERNAME}", timeout=60, interval=0.5)
    browser.find("#nav-admin a").click()  # the role comes from the account answer

    def user_link():
        # quota counts the upload through an event: look again until the account shows
        links = [a for a in browser.find_all("table.top-accounts a.account-link") if a.text == user]
        if not links:
            browser.reload()
        return links[0] if links else None

    link = browser.wait(user_link, f"{user} among the top accounts", timeout=60, interval=1)
    row = browser.find_text("table.top-accounts tbody tr", user)
    assert "us-west-2" in row.text, row.text
    browser.screenshot("23-admin-top-accounts")
    link.click()
    card = browser.find_text("section[aria-labelledby=account-title]", f"Account {user}")
    assert f"{user}@example.com" in card.text and "us-west-2" in card.text, card.text
    assert browser.js(FAILED_REQUESTS) == []
