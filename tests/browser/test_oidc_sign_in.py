"""Sign in with OpenID Connect in the browser (issue 36): the login page's "Sign in with <provider>"
button, the platform's real provider's login page, and back in the web app, signed in."""

from __future__ import annotations

import uuid

from .conftest import WebSystem
from .webdriver import Browser


def test_a_person_signs_in_through_the_providers_login_page(web_system: WebSystem, browser: Browser) -> None:
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
