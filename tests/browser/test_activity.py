"""The Activity page (issue 18's audit trail) in a real headless Chromium, against the whole system.

A person signs up, uploads, logs out, fails a login and logs in again, all through the page; the
Activity page then lists those actions in plain words with the document's name, the client's
address and a short form of the browser, pages with "Load more", filters by action, and Verify
says the chain is intact. axe finds nothing serious on the page at desktop and phone width.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from .conftest import PASSWORD, WebSystem
from .test_quality import axe_violations, node_tools_missing, settled, tab_to
from .test_web_app import go, pick_files, sign_up, wait_uploaded, write_file
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SIZES = ((1366, 900), (390, 844))
EXPECTED = {
    "upload.completed": "Uploaded a file",
    "session.ended": "Logged out",
    "account.login-failed": "Failed login",
    "account.logged-in": "Logged in",
}


def rows(browser: Browser) -> list[dict]:
    """The activity table's rows as the page shows them."""
    return browser.js(
        """return [...document.querySelectorAll('table.activity-table tbody tr')].map((tr) => ({
            seq: Number(tr.dataset.seq), action: tr.dataset.action, outcome: tr.dataset.outcome,
            cells: [...tr.cells].map((td) => td.textContent.trim())}));"""
    )


def shown_actions(browser: Browser, route: str, wanted: set[str]) -> list[dict]:
    """Open `route` until its rows hold every action in `wanted` (the trail is written from events,
    a moment after the action); the rows."""
    seen: list[dict] = []

    def check() -> list[dict] | None:
        go(browser, f"{route}&_={uuid.uuid4().hex[:6]}" if "?" in route else f"{route}?_={uuid.uuid4().hex[:6]}")
        settled(browser, "#main h1", "Activity")
        browser.wait(lambda: browser.find_all("table.activity-table, #main .empty"), "the activity list")
        seen[:] = rows(browser)
        return list(seen) if wanted <= {r["action"] for r in seen} else None

    try:
        return browser.wait(check, f"the activity page to list {sorted(wanted)}", timeout=90, interval=1.0)
    except AssertionError as error:
        raise AssertionError(f"{error}; rows shown: {seen}") from None


def log_out_and_fail_a_login(browser: Browser, username: str) -> None:
    browser.button("Log out").click()
    browser.find("#login-title")
    # Found and filled in one wait: the login form may render again just after logging out (CI: stale).
    browser.wait(lambda: browser.find("input[name=username]").fill(username), "the username field filled")
    browser.find("input[name=password]").fill("not the password")
    browser.button("Log in").click()
    assert "wrong username or password" in browser.wait(browser.alert_text, "the login error").lower()
    browser.find("input[name=password]").fill(PASSWORD)
    browser.button("Log in").click()
    browser.find_text("#who-name", username)


def test_activity_lists_what_was_done_and_the_chain_verifies(
    web_system: WebSystem, browser: Browser, tmp_path: Path
) -> None:
    base = web_system.gateway
    browser.resize(*SIZES[0])
    username = sign_up(browser, base)
    name = f"minutes-{uuid.uuid4().hex[:6]}.txt"
    pick_files(browser, "#file-picker", write_file(tmp_path, name, b"the audit committee met\n"))
    wait_uploaded(browser, name)
    log_out_and_fail_a_login(browser, username)

    # Reachable from the navigation.
    browser.find("#nav a[href='#/activity']").click()
    settled(browser, "#main h1", "Activity")
    assert (
        browser.js("return document.querySelector('#nav a[data-view=activity]').getAttribute('aria-current')") == "page"
    )

    shown = shown_actions(browser, "#/activity", set(EXPECTED))
    by_action = {r["action"]: r for r in reversed(shown)}  # the newest of each
    for action, words in EXPECTED.items():
        assert by_action[action]["cells"][1].startswith(words), by_action[action]
    when, _, document, address, device, outcome = by_action["upload.completed"]["cells"]
    assert when and document == name, by_action["upload.completed"]
    assert address == "127.0.0.1", by_action["upload.completed"]  # the gateway saw the browser's address
    assert device.startswith("Chrome") and "Linux" in device, device  # the user agent, short
    assert outcome == "Done"
    assert by_action["account.login-failed"]["outcome"] == "failure"
    assert by_action["account.login-failed"]["cells"][5] == "Failed"
    seqs = [r["seq"] for r in shown]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs), seqs  # newest first
    browser.screenshot("30-activity")

    # "Load more", two at a time: the next page continues where the first ended, nothing twice.
    go(browser, "#/activity?limit=2")
    browser.wait(lambda: len(rows(browser)) == 2, "the first two records")
    first = [r["seq"] for r in rows(browser)]
    browser.button("Load more").click()
    browser.wait(lambda: len(rows(browser)) == 4, "two more records")
    # (A record written since the full listing would sit above it: the ones below `first` are settled.)
    following = [s for s in seqs if s < first[-1]][:2]
    assert [r["seq"] for r in rows(browser)] == [*first, *following], (first, seqs)

    # The filter by action: only uploads.
    go(browser, "#/activity")
    settled(browser, "table.activity-table tbody tr")
    Select(browser.find("#activity-action").web_element).select_by_visible_text("Uploaded a file")
    browser.wait(lambda: "action=upload.completed" in browser.url, "the filter in the address")
    browser.wait(
        lambda: (r := rows(browser)) and all(x["action"] == "upload.completed" for x in r),
        "only uploads listed",
    )
    assert [r["cells"][2] for r in rows(browser)] == [name]

    # Verify, from the keyboard: the server checks the hash chain and the page says it holds.
    tab_to(browser, "e.tagName === 'BUTTON' && e.textContent.trim() === 'Verify'", "Verify")
    browser.keys(Keys.ENTER)
    verdict = browser.find("#verify-result[data-ok=true]", timeout=30)
    assert verdict.text.startswith("OK"), verdict.text
    assert browser.js("return document.getElementById('verify-result').getAttribute('role')") == "status"

    # axe: nothing serious or critical on the page, at desktop and phone width.
    reason = node_tools_missing()
    if reason:
        pytest.skip(f"the page works; axe not run: {reason}")
    found = {}
    for size in SIZES:
        browser.resize(*size)
        go(browser, "#/activity")
        settled(browser, "table.activity-table tbody tr")
        browser.screenshot(f"quality-activity-{size[0]}x{size[1]}")
        violations = axe_violations(browser)
        if violations:
            found[f"{size[0]}x{size[1]}"] = violations
    assert not found, found
