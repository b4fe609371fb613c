"""App passwords on the Security page (issue 36), by keyboard alone, in a real headless Chromium:
a person names one, picks its access, creates it, reads it once (the focus lands on it), sees it
listed, and revokes it through the confirmation dialog; the app password works over HTTP Basic
until then and is refused after."""

from __future__ import annotations

import re

import httpx
import pytest
from selenium.webdriver.common.keys import Keys

from .conftest import WebSystem
from .test_sessions import sign_up
from .test_web_app import go
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SHAPE = re.compile(r"[a-z2-9]{5}(-[a-z2-9]{5}){5}")


def basic_status(base: str, username: str, password: str) -> int:
    """What the gateway answers GET /v1/documents with this username and app password (HTTP Basic).
    Asked from here, not from the page: a 401 with a Basic challenge opens the browser's own
    sign-in prompt, which a tool wants and a page's fetch would wait on."""
    return httpx.get(f"{base}/v1/documents", auth=(username, password), timeout=30.0).status_code


def test_an_app_password_is_made_read_once_and_revoked_with_the_keyboard(
    web_system: WebSystem, browser: Browser
) -> None:
    username = sign_up(browser, web_system.gateway)
    go(browser, "#/security")
    name = browser.find("#app-password-name")
    name.click()
    browser.keys("rclone on the NAS", Keys.TAB)  # to the access list
    assert browser.focused().attribute("id") == "app-password-scope"
    browser.keys(Keys.TAB)  # to the button
    assert browser.focused().text == "Create app password"
    browser.keys(Keys.ENTER)

    secret = browser.find("#app-password-secret")
    browser.wait(lambda: (browser.focused() or secret).attribute("id") == "app-password-secret", "focus on the secret")
    password = secret.text
    assert SHAPE.fullmatch(password), password
    assert username in browser.find("#app-password-new").text
    row = browser.find_text("#app-passwords-table tbody tr", "rclone on the NAS")
    assert "Never" in row.text and "read and write" in row.text
    assert password not in browser.find("#app-passwords-table").text
    assert basic_status(web_system.gateway, username, password) == 200

    revoke = browser.button("Revoke rclone on the NAS", within="#app-passwords-table")  # its accessible name
    browser.js("arguments[0].focus()", revoke)
    browser.keys(Keys.ENTER)  # the confirmation dialog opens with its "Revoke" focused
    browser.wait(
        lambda: (
            browser.focused()
            and browser.focused().text == "Revoke"
            and browser.focused().attribute("class") == "primary"
        ),
        "the dialog's Revoke focused",
    )
    browser.keys(Keys.ENTER)
    browser.find_text("#app-passwords", "No app passwords.")
    browser.wait(
        lambda: browser.focused() and browser.focused().attribute("id") == "app-passwords-title", "focus on the heading"
    )
    assert basic_status(web_system.gateway, username, password) == 401
