"""The Webhooks page (issue 38), in the real headless Chromium against the real system: an endpoint
added from the keyboard shows its secret once (copyable), a test event shows in its deliveries,
it is turned off and deleted; axe finds no serious violation at desktop and phone sizes."""

from __future__ import annotations

import json
import uuid

import pytest
from selenium.webdriver.common.keys import Keys

from .conftest import WebSystem, api_sign_up
from .test_quality import SIZES, axe_violations, log_in, node_tools_missing, settled, tab_to
from .test_web_app import go
from .webdriver import Browser

pytestmark = [pytest.mark.e2e]

URL = "https://hooks.example.invalid/docstore"  # never answers: the test event stays pending or fails


def test_the_webhooks_page_adds_tests_turns_off_and_deletes_an_endpoint(
    web_system: WebSystem, browser: Browser
) -> None:
    base = web_system.gateway
    username = f"hooks-{uuid.uuid4().hex[:10]}"
    api_sign_up(base, username)
    log_in(browser, base, username)
    go(browser, "#/webhooks")
    settled(browser, "#main .empty", "No endpoints yet")
    assert browser.find("#nav a[data-view=webhooks]").attribute("aria-current") == "page"

    # Keyboard only: Tab to "Add endpoint…", Enter, type the URL, Enter submits.
    tab_to(browser, "e.textContent.trim() === 'Add endpoint…'", "the Add endpoint button")
    browser.keys(Keys.ENTER)
    browser.wait(lambda: browser.js("return document.activeElement.name === 'webhook-url'"), "focus in the URL box")
    browser.keys(URL, Keys.ENTER)
    secret = browser.find("dialog[open] input[name=webhook-secret]", timeout=30)
    assert str(secret.property("value")).startswith("whsec_")
    browser.button("Copy secret", within="dialog[open]")
    axe = node_tools_missing() is None
    violations = {"dialog": axe_violations(browser) if axe else []}
    browser.button("Done", within="dialog[open]").click()
    browser.wait(lambda: not browser.find_all("dialog[open]"), "the dialog to close")

    card = browser.find_text("section.webhook", URL, timeout=30)
    browser.button(f"Send test event to {URL}").click()
    browser.button("Deliveries", within="section.webhook").click()
    browser.find_text("section.webhook tbody tr", "webhook.test", timeout=30)
    assert card.find("button[aria-controls]").attribute("aria-expanded") == "true"
    for width, height in SIZES:
        browser.resize(width, height)
        browser.screenshot(f"webhooks-{width}x{height}")
        if axe:
            violations[f"{width}x{height}"] = axe_violations(browser)
    assert not any(violations.values()), json.dumps(violations, indent=1)

    browser.button(f"Turn off {URL}").click()
    browser.find_text("section.webhook .link-state", "Off", timeout=30)
    browser.button(f"Delete {URL}").click()
    browser.button("Delete endpoint", within="dialog[open]").click()
    settled(browser, "#main .empty", "No endpoints yet")
