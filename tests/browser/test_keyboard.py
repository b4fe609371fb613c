"""Every action works from the keyboard (issue 17), beyond the main ones of test_quality.py: adding and
removing tags, sharing with another account and stopping it, following and unfollowing, Undo of a
delete (the toast's button, from the row and from the dialog), dismissing the toast with Escape,
restoring from the trash, the skip link and moving between the pages through the navigation.

Only Tab, Shift+Tab, Enter, Space, Escape, an arrow key in a <select> and typing; no clicks. After each
action the test checks where the focus is (never lost to the page, back on the opener when a dialog
closes) and that it is visible, and the outcome on the server where the page could hide it.
"""

from __future__ import annotations

import json
import uuid

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from docstore_kit.http_transport import sync_client

from .conftest import PASSWORD, WebSystem, api_sign_up, reset_shared
from .test_quality import describe, settled
from .test_web_app import document_row, pick_files, sign_up, wait_uploaded, write_file
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NOTES = "kb-notes.txt"
DRAFT = "kb-draft.txt"


@pytest.fixture(scope="module")
def owner(web_system: WebSystem, shared_chromium: list[Browser], tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Free account (verified, so it may share) with two documents, uploaded through the page."""
    folder = tmp_path_factory.mktemp("keyboard")
    browser = reset_shared(shared_chromium)  # the package's Chromium: no start of its own
    username = sign_up(browser, web_system.gateway)
    for name in (NOTES, DRAFT):
        pick_files(browser, "#file-picker", write_file(folder, name, f"{name}: typed\n".encode()))
        wait_uploaded(browser, name)
        document_row(browser, name)
    return username


def press_to(browser: Browser, test_js: str, what: str, *, back: bool = False, limit: int = 150) -> None:
    """Press Tab (Shift+Tab with `back`) until the focused element passes `test_js` (a body on `e`)."""
    visited = []
    for _ in range(limit):
        if back:
            ActionChains(browser.driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
        else:
            browser.keys(Keys.TAB)
        if browser.js(f"const e = document.activeElement; return !!(e && ({test_js}));"):
            return
        visited.append(describe(browser))
    raise AssertionError(f"{'Shift+' if back else ''}Tab never reached {what}; the focus went through: {visited}")


def focus_is(browser: Browser, test_js: str, what: str, timeout: float = 30.0, ring: bool = True) -> None:
    """Wait until the focus is on an element passing `test_js`, and check that it is visible (`ring`:
    controls; a heading or the main region that takes the focus for screen readers draws none)."""
    try:
        browser.wait(
            lambda: browser.js(f"const e = document.activeElement; return !!(e && ({test_js}));"), what, timeout=timeout
        )
    except AssertionError as error:
        raise AssertionError(f"{error}; the focus is on {describe(browser)}") from None
    if not ring:
        return
    style = browser.js(
        """const s = getComputedStyle(document.activeElement);
        return {shadow: s.boxShadow, outline: s.outlineStyle + ' ' + s.outlineWidth};"""
    )
    assert style["shadow"] != "none" or not style["outline"].startswith("none"), (
        f"the focus on {describe(browser)} is not visible: {style}"
    )


def select_all_and_type(browser: Browser, text: str) -> None:
    ActionChains(browser.driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).perform()
    browser.keys(text)


def keyboard_log_in(browser: Browser, base: str, username: str) -> None:
    browser.open(f"{base}/#/login")
    settled(browser, "#login-title")
    browser.wait(lambda: browser.js("return document.activeElement.name === 'username'"), "focus in the username box")
    browser.keys(username, Keys.TAB, PASSWORD, Keys.ENTER)
    browser.find_text("#who-name", username)
    settled(browser, "table.documents tbody tr", NOTES)


def is_open_button(name: str) -> str:
    return f"e.classList.contains('doc-open') && e.textContent.trim() === {json.dumps(name)}"


def labelled(label: str, within: str = "") -> str:
    """An element whose accessible name is `label` (aria-label, its <label> or its text)."""
    scope = f" && !!e.closest({json.dumps(within)})" if within else ""
    return (
        f"((e.getAttribute('aria-label') || (e.labels && e.labels[0] ? e.labels[0].textContent : '') || "
        f"e.textContent || '').trim() === {json.dumps(label)}){scope}"
    )


def tags_shown(browser: Browser) -> list[str]:
    return browser.js(
        "return [...document.querySelectorAll('dialog[open] dl.facts li.tag')].map((t) => t.textContent.trim());"
    )


def api_get(base: str, token: str, path: str) -> dict:
    with sync_client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        return answer.json()


def test_tags_sharing_and_following_from_the_keyboard(web_system: WebSystem, browser: Browser, owner: str) -> None:
    base = web_system.gateway
    friend = f"kb-friend-{uuid.uuid4().hex[:8]}"
    friend_token = api_sign_up(base, friend)
    keyboard_log_in(browser, base, owner)

    press_to(browser, is_open_button(NOTES), f"the name of {NOTES}")
    browser.keys(Keys.ENTER)
    settled(browser, "dialog[open] .version-table tbody tr", "v1")

    # Add two tags: Tab to the Tags box, type, Enter. The focus stays in the box.
    press_to(browser, "e.tagName === 'INPUT' && " + labelled("Tags", "dialog[open]"), "the Tags box")
    browser.keys("garden, minutes", Keys.ENTER)
    browser.wait(lambda: tags_shown(browser) == ["garden", "minutes"], "the two tags to show in the details")
    focus_is(
        browser, "e.tagName === 'INPUT' && " + labelled("Tags", "dialog[open]"), "the focus to stay in the Tags box"
    )
    # Remove one.
    select_all_and_type(browser, "minutes")
    browser.keys(Keys.ENTER)
    browser.wait(lambda: tags_shown(browser) == ["minutes"], "garden to be removed")

    # Follow with Space on the Follow button, unfollow with Space again: the button keeps the focus.
    press_to(browser, "e.getAttribute('aria-pressed') !== null && !!e.closest('dialog[open]')", "Follow changes")
    browser.wait(lambda: browser.js("return document.activeElement.textContent") == "Follow changes", "Follow to load")
    browser.keys(Keys.SPACE)
    browser.wait(
        lambda: browser.js("return document.activeElement.getAttribute('aria-pressed')") == "true",
        "Space to follow the document (with the focus kept on the button)",
    )
    focus_is(browser, "e.getAttribute('aria-pressed') === 'true'", "the focus on the Following button")

    # Share it with another account (permission chosen with an arrow key), then stop sharing.
    press_to(browser, "e.name === 'share-username'", "the Share with box")
    browser.keys(friend, Keys.TAB, Keys.ARROW_DOWN, Keys.TAB)
    focus_is(browser, "e.tagName === 'BUTTON' && e.textContent.trim() === 'Share'", "the Share button")
    browser.keys(Keys.ENTER)
    browser.find_text("dialog[open] .share-list li strong", friend)
    # The permission shows as a choice the owner changes in place (issue 37).
    permission = f"return document.querySelector('dialog[open] select[aria-label=\"Permission of {friend}\"]').value"
    assert browser.js(permission) == "edit"
    shared = api_get(base, friend_token, "/v1/shared")
    assert [d["name"] for d in shared["items"]] == [NOTES], shared
    assert shared["items"][0]["permission"] == "edit", shared
    # The list was redrawn: the focus is back in the Share with box, not lost to the page.
    focus_is(browser, "e.name === 'share-username'", "the focus back in the Share with box")
    press_to(browser, labelled(f"Stop sharing with {friend}"), f"Stop sharing with {friend}", back=True)
    browser.keys(Keys.ENTER)
    browser.find_text("dialog[open] .sharing", "Only you can see this document.")
    assert api_get(base, friend_token, "/v1/shared")["items"] == []
    focus_is(browser, "e.name === 'share-username'", "the focus in the Share with box after stopping")

    # Escape closes the dialog; the focus goes back to the document's name in the (redrawn) list.
    browser.keys(Keys.ESCAPE)
    browser.wait(lambda: not browser.find_all("dialog[open]"), "Escape to close the dialog")
    document_row(browser, "minutes")
    focus_is(browser, is_open_button(NOTES), f"the focus back on {NOTES} in the list")

    # Open again with Enter: the details load the follow from the server; unfollow with Space.
    browser.keys(Keys.ENTER)
    settled(browser, "dialog[open] .version-table tbody tr", "v1")
    assert tags_shown(browser) == ["minutes"]
    press_to(browser, "e.getAttribute('aria-pressed') !== null && !!e.closest('dialog[open]')", "Following")
    browser.wait(
        lambda: browser.js("return document.activeElement.getAttribute('aria-pressed')") == "true", "the follow"
    )
    browser.keys(Keys.SPACE)
    browser.wait(
        lambda: browser.js("return document.activeElement.getAttribute('aria-pressed')") == "false",
        "Space to unfollow the document",
    )
    focus_is(browser, "e.textContent === 'Follow changes'", "the focus on Follow changes")
    browser.keys(Keys.ESCAPE)
    browser.wait(lambda: not browser.find_all("dialog[open]"), "Escape to close the dialog")
    focus_is(browser, is_open_button(NOTES), f"the focus back on {NOTES}")
    browser.keys(Keys.ENTER)
    press_to(browser, "e.getAttribute('aria-pressed') !== null && !!e.closest('dialog[open]')", "Follow changes")
    browser.wait(
        lambda: browser.js("return document.activeElement.getAttribute('aria-pressed')") == "false",
        "the unfollow to be kept on the server",
    )
    browser.keys(Keys.ESCAPE)


def test_undo_delete_skip_link_and_navigation_from_the_keyboard(
    web_system: WebSystem, browser: Browser, owner: str
) -> None:
    base = web_system.gateway
    keyboard_log_in(browser, base, owner)

    # Delete from the row: the row is gone and the focus is on the toast's Undo; Enter brings it back.
    press_to(browser, labelled(f"Delete {DRAFT}"), f"Delete {DRAFT}")
    browser.keys(Keys.ENTER)
    focus_is(browser, "e.textContent.trim() === 'Undo' && !!e.closest('#status')", "the focus on the toast's Undo")
    browser.wait(
        lambda: not any(DRAFT in r.text for r in browser.find_all("table.documents tbody tr")), "the row to go"
    )
    browser.keys(Keys.ENTER)
    document_row(browser, DRAFT)
    focus_is(browser, is_open_button(DRAFT), f"the focus on the restored {DRAFT}")

    # Delete from the document's dialog: the same Undo, reached the same way.
    browser.keys(Keys.ENTER)
    settled(browser, "dialog[open] .version-table tbody tr", "v1")
    press_to(
        browser, "e.tagName === 'BUTTON' && e.textContent.trim() === 'Delete' && !!e.closest('dialog[open]')", "Delete"
    )
    browser.keys(Keys.ENTER)
    browser.wait(lambda: not browser.find_all("dialog[open]"), "the dialog to close")
    focus_is(browser, "e.textContent.trim() === 'Undo' && !!e.closest('#status')", "the focus on the toast's Undo")
    browser.wait(
        lambda: not any(DRAFT in r.text for r in browser.find_all("table.documents tbody tr")), "the row to go"
    )
    browser.keys(Keys.ENTER)
    document_row(browser, DRAFT)
    focus_is(browser, is_open_button(DRAFT), f"the focus on the restored {DRAFT}")
    settled(browser, "table.documents tbody tr", NOTES)

    # Escape in the toast dismisses it (the document stays in the trash) and the focus goes to the page.
    press_to(browser, labelled(f"Delete {NOTES}"), f"Delete {NOTES}", back=True)
    browser.keys(Keys.ENTER)
    focus_is(browser, "e.textContent.trim() === 'Undo' && !!e.closest('#status')", "the focus on the toast's Undo")
    browser.keys(Keys.ESCAPE)
    browser.wait(lambda: not browser.find_all("#status button"), "Escape to dismiss the toast")
    focus_is(browser, "e.tagName === 'H1' && !!e.closest('#main')", "the focus on the page's heading", ring=False)
    browser.wait(
        lambda: not any(NOTES in r.text for r in browser.find_all("table.documents tbody tr")), "the row to go"
    )

    # Between the pages through the navigation: Shift+Tab back to each link, Enter; the page's heading
    # takes the focus (the empty Search page gives it to its search box) and the link is marked as
    # the current page.
    for link, heading in (
        ("Shared", "Shared with me"),
        ("Trash", "Trash"),
        ("Usage", "Usage"),
        ("Settings", "Settings"),
        ("Search", "Search"),
        ("Activity", "Activity"),
        ("Files", "Files"),
    ):
        press_to(browser, f"!!e.closest('#nav') && e.textContent.trim() === {json.dumps(link)}", link, back=True)
        browser.keys(Keys.ENTER)
        browser.wait(lambda link=link: link.lower() in browser.js("return location.hash"), f"{link} to open")
        settled(browser, "#main h1", heading)
        if link == "Search":
            focus_is(browser, "e.name === 'q' && !!e.closest('#main')", "the search box")
        else:
            focus_is(
                browser,
                f"e.tagName === 'H1' && e.textContent.includes({json.dumps(heading)})",
                f"the {heading} heading",
                ring=False,
            )
        current = browser.js("return document.querySelector('#nav a[aria-current=page]').textContent.trim()")
        assert current == link

    # Restore from the trash: the row goes and the focus stays on the page, not lost.
    press_to(browser, "!!e.closest('#nav') && e.textContent.trim() === 'Trash'", "Trash", back=True)
    browser.keys(Keys.ENTER)
    settled(browser, "table.documents tbody tr", NOTES)
    press_to(browser, labelled(f"Restore {NOTES}"), f"Restore {NOTES}")
    browser.keys(Keys.ENTER)
    browser.find_text("#main .empty", "The trash is empty.")
    focus_is(browser, "!!e.closest('#main')", "the focus kept in the page after Restore", ring=False)
    press_to(browser, "!!e.closest('#nav') && e.textContent.trim() === 'Files'", "Files", back=True)
    browser.keys(Keys.ENTER)
    settled(browser, "table.documents tbody tr", NOTES)

    # The skip link (the first Tab stop) moves the focus into the page without leaving it.
    browser.js("location.hash = '#/trash'")
    settled(browser, "#main h1", "Trash")
    browser.reload()
    settled(browser, "#main h1", "Trash")
    press_to(browser, "e.classList.contains('skip-link')", "the skip link", limit=3)
    browser.keys(Keys.ENTER)
    focus_is(browser, "!!e.closest('#main')", "the focus in the main content", ring=False)
    assert browser.js("return location.hash") == "#/trash"
    assert browser.find("#main h1").text == "Trash"
