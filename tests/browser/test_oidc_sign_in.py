"""Sign in with OpenID Connect in the browser (issue 36): the login page's "Sign in with <provider>"
button, the platform's real provider's login page, and back in the web app, signed in. Then the
Settings page's "Sign-in providers" lists the identity; unlinking it is refused while it is the
only way in, a password is set through the mailed link the card offers, and then it unlinks."""

from __future__ import annotations

import uuid

from selenium.webdriver.common.keys import Keys

from .conftest import WebSystem
from .test_account_recovery import NEW_PASSWORD, wait_for_token
from .test_two_factor import blocking
from .test_web_app import go
from .webdriver import Browser


def test_a_person_signs_in_through_the_providers_login_page_and_unlinks_it_once_it_has_a_password(
    web_system: WebSystem, browser: Browser, endpoints
) -> None:
    base = web_system.gateway
    name = f"oidc-{uuid.uuid4().hex[:8]}"
    browser.open(f"{base}/#/login")
    button = browser.find("#oidc-sign-in")
    assert button.text == "Sign in with DocStore Dev ID"
    button.click()
    browser.find("input[name=login]").fill(f"{name}@example.org")  # the provider's own page
    browser.find("input[name=password]").fill("any password")
    browser.find("button[type=submit]").click()
    browser.find_text("#who-name", name)
    browser.screenshot("oidc-01-signed-in")

    # Settings lists the identity with this sign-in; the only way in is not unlinked, and says why.
    go(browser, "#/settings")
    row = browser.find_text("#providers-table tbody tr", "DocStore Dev ID")
    assert "Never" not in row.text, row.text
    browser.button("Unlink DocStore Dev ID", within="#providers-table").click()
    assert "no password" in browser.wait(browser.alert_text, "the last way in refused")
    problems = blocking(browser, "settings with a linked provider")
    browser.screenshot("oidc-02-providers")

    # The card's link to set a password (the reset mail), then a password login, then unlink.
    browser.find("#providers-set-password").click()
    token = wait_for_token(browser, endpoints, f"{name}@example.org", "reset")
    browser.button("Log out").click()
    browser.find("#login-title")
    browser.open(f"{base}/#/reset-password?token={token}")
    browser.find("input[name=new_password]").fill(NEW_PASSWORD)
    browser.find("input[name=new_password_again]").fill(NEW_PASSWORD)
    browser.button("Set new password").click()
    browser.find_text("#reset-title", "Your password is changed", timeout=30)
    go(browser, "#/login")
    browser.find("input[name=username]").fill(name)
    browser.find("input[name=password]").fill(NEW_PASSWORD)
    browser.button("Log in").click()
    browser.find_text("#who-name", name)
    go(browser, "#/settings")
    unlink = browser.button("Unlink DocStore Dev ID", within="#providers-table")
    browser.js("arguments[0].focus()", unlink)
    browser.keys(Keys.ENTER)  # the confirmation dialog opens with its "Unlink" focused
    browser.wait(
        lambda: (
            browser.focused()
            and browser.focused().text == "Unlink"
            and "primary" in (browser.focused().attribute("class") or "")
        ),
        "the dialog's Unlink focused",
    )
    browser.keys(Keys.ENTER)
    browser.find_text("#sign-in-providers-slot", "Nothing linked")
    browser.wait(
        lambda: browser.focused() and browser.focused().attribute("id") == "providers-title", "focus on the heading"
    )
    assert not problems, "\n".join(problems)


def test_an_address_the_provider_did_not_verify_brings_the_person_back_to_the_login_page_told_why(
    web_system: WebSystem, browser: Browser
) -> None:
    base = web_system.gateway
    browser.open(f"{base}/#/login")
    browser.find("#oidc-sign-in").click()
    browser.find("input[name=login]").fill(f"unverified-{uuid.uuid4().hex[:8]}@example.org")
    browser.find("input[name=password]").fill("any password")
    browser.find("button[type=submit]").click()
    browser.find_text("#login-notice", "did not confirm your e-mail address")
    browser.find("#oidc-sign-in")  # and may try again
