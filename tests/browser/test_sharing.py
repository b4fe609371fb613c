"""Sharing as people expect (issue 37), in a real headless Chromium at a desktop and a phone size:
the share dialog suggests a person already shared with while one types and finds one by the whole
address they verified, the owner changes view/edit
in place, the recipient sees who shared what; in the grid, documents have checkboxes and Shift+click
ticks a range. axe finds nothing serious in the share dialog, the grid or the Shared page.
(Sharing with the other region's person is an API answer: tests/e2e/test_sharing_people.py.)"""

from __future__ import annotations

import uuid

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from docstore_kit.http_transport import sync_client

from .conftest import WebSystem, api_sign_up
from .test_file_manager import api_upload, log_in
from .test_folders import no_axe_violations, until
from .test_quality import SIZES
from .test_web_app import go
from .test_web_behaviour import open_details, press
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize("size", SIZES, ids=["desktop", "phone"])
def test_suggestions_permission_in_place_shared_by_and_grid_ranges(
    web_system: WebSystem, browser: Browser, size: tuple[int, int]
) -> None:
    base = web_system.gateway
    browser.resize(*size)
    tag = uuid.uuid4().hex[:8]
    owner, friend = f"own-{tag}", f"frd-{tag}"
    with sync_client(base_url=base, timeout=30) as client:
        client.headers["Authorization"] = f"Bearer {api_sign_up(base, owner)}"
        api_sign_up(base, friend)
        ids = [api_upload(client, f"{name}.txt", name.encode()) for name in ("a", "b", "c", "d")]
        assert client.post(f"/v1/documents/{ids[0]}/shares", json={"username": friend}).status_code == 201

        browser.open(f"{base}/#/login")
        log_in(browser, owner)
        go(browser, "#/files")
        open_details(browser, "b.txt")

        # Typing the start of the name suggests the person already shared with (a datalist).
        box = browser.find("dialog[open] input[name=share-username]")
        box.fill(friend[:6])
        until(
            lambda: (
                friend
                in browser.js(
                    "return [...document.querySelectorAll('dialog[open] datalist option')].map((o) => o.value)"
                )
            ),
            "the suggestion",
        )
        # The whole address the friend verified finds them, by username: one press puts it in the box.
        box.fill(f"{friend.upper()}@example.com")
        press(browser, f"Use {friend}", within="dialog[open] .people-note")
        assert box.property("value") == friend
        press(browser, "Share", within="dialog[open] .share-form")
        browser.find_text("dialog[open] .share-list li", friend, timeout=30)
        no_axe_violations(browser, f"share dialog {size}")

        # The permission changes in place, on the server too.
        browser.js(
            "const s = document.querySelector(arguments[0]); s.value = 'edit'; s.dispatchEvent(new Event('change'));",
            f"dialog[open] select[aria-label='Permission of {friend}']",
        )
        until(
            lambda: [s["permission"] for s in client.get(f"/v1/documents/{ids[1]}/shares").json()["items"]] == ["edit"],
            "the share to become edit",
        )
        browser.find("dialog[open] button[aria-label=Close]").click()

        # The grid has checkboxes; Shift+click ticks every box between the last one and this one.
        press(browser, "Grid")
        browser.find(".doc-grid .card-pick input", timeout=30)
        boxes = browser.find_all(".doc-grid .card-pick input")
        assert len(boxes) == 4
        boxes[0].click()
        # Centred: on a phone the third card is below the fold (and a toast may cover the bottom).
        browser.js("arguments[0].scrollIntoView({block: 'center'})", boxes[2].web_element)
        ActionChains(browser.driver).key_down(Keys.SHIFT).click(boxes[2].web_element).key_up(Keys.SHIFT).perform()
        browser.find_text(".bulk-count", "3 documents selected")
        assert browser.js(
            "return [...document.querySelectorAll('.doc-grid .card-pick input')].map((b) => b.checked)"
        ) == [
            True,
            True,
            True,
            False,
        ]
        no_axe_violations(browser, f"grid {size}")
        press(browser, "List")

    # The recipient sees who shared each document.
    browser.js("localStorage.clear(); sessionStorage.clear();")
    browser.open(f"{base}/#/login")
    log_in(browser, friend)
    go(browser, "#/shared")
    browser.find_text("table.documents td.shared-by", owner, timeout=30)
    no_axe_violations(browser, f"shared page {size}")
