"""Sessions in the browser (issue 17): a new tab is logged in (the refresh cookie, not the tab's
storage, holds the session), a refused access token is refreshed silently, and "Log out of all
devices" sends every tab to the login page and makes the server refuse their tokens."""

from __future__ import annotations

import uuid

from .conftest import PASSWORD, WebSystem
from .webdriver import Browser

COOKIE = "__Secure-docstore-refresh"


def sign_up(browser: Browser, base: str) -> str:
    username = f"sess-{uuid.uuid4().hex[:10]}"
    browser.open(f"{base}/#/signup")
    browser.find("#signup-title")
    browser.find("input[name=username]").fill(username)
    browser.find("input[name=email]").fill(f"{username}@example.com")
    browser.find("input[name=password]").fill(PASSWORD)
    browser.button("Create account").click()
    browser.find_text("#who-name", username)
    return username


def access_token(browser: Browser) -> str | None:
    return browser.js("return sessionStorage.getItem('docstore.token')")


def status_with(browser: Browser, token: str) -> int:
    """What the gateway answers this page for `token` on GET /v1/account."""
    return browser.js_async(
        "const done = arguments[arguments.length - 1];"
        "fetch('/v1/account', {headers: {Authorization: 'Bearer ' + arguments[0]}}).then((r) => done(r.status));",
        token,
    )


def test_a_new_tab_is_logged_in_and_logging_out_everywhere_ends_every_tab(
    web_system: WebSystem, browser: Browser
) -> None:
    base = web_system.gateway
    username = sign_up(browser, base)
    first_tab = browser.driver.current_window_handle
    first_token = access_token(browser)
    assert first_token

    # The refresh token: a cookie Chromium keeps for http://127.0.0.1 even though it is Secure
    # (loopback is a secure context), HttpOnly so no script reads it, on the sessions path only.
    cookies = browser.driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
    [cookie] = [c for c in cookies if c["name"] == COOKIE]
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/v1/sessions" and not cookie.get("session", False)  # survives a restart
    assert COOKIE not in browser.js("return document.cookie")

    # A new tab: nothing in its sessionStorage, yet it is logged in (a silent refresh on load).
    browser.driver.switch_to.new_window("tab")
    second_tab = browser.driver.current_window_handle
    browser.open(f"{base}/#/files")
    browser.find_text("#who-name", username)
    browser.find("#nav")
    second_token = access_token(browser)
    assert second_token and second_token != first_token
    browser.screenshot("sessions-01-new-tab-logged-in")

    # The first tab carries on; when its access token is refused, it refreshes and carries on too.
    browser.driver.switch_to.window(first_tab)
    assert status_with(browser, first_token) == 200
    browser.js("sessionStorage.setItem('docstore.token', arguments[0])", first_token + "x")  # refused
    browser.js("location.hash = '#/trash'")
    browser.find_text("h1", "Trash")
    browser.wait(lambda: access_token(browser) not in (first_token, first_token + "x"), "a refreshed token")
    browser.find_text("#who-name", username)
    refreshed_token = access_token(browser)

    # The second tab logs out of all devices.
    browser.driver.switch_to.window(second_tab)
    browser.js("location.hash = '#/settings'")
    browser.button("Log out of all devices").click()
    browser.find("#login-title")
    assert access_token(browser) is None

    # The first tab is sent to the login page, and the server refuses every token it held.
    browser.driver.switch_to.window(first_tab)
    browser.find("#login-title")
    assert access_token(browser) is None
    browser.screenshot("sessions-02-other-tab-logged-out")
    for token in (first_token, second_token, refreshed_token):
        assert status_with(browser, token) == 401
    # The cookie is gone, and a new tab stays on the login page.
    cookies = browser.driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
    assert not [c for c in cookies if c["name"] == COOKIE]
    browser.driver.switch_to.new_window("tab")
    browser.open(f"{base}/#/files")
    browser.find("#login-title")
    assert access_token(browser) is None
