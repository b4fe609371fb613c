"""E-mail verification and password reset in a real headless Chromium, following the real mails
(read back from the SES stand-in, as the e2e tests do) (issue 20).

Sign-up shows the banner; the verification mail's link opens the page, which verifies the address
and takes the token out of the address bar and the history; the banner goes. "Forgot password?"
answers the same for an unknown name as for a real one; the reset mail's link opens the page
(token gone from the address bar), a guessable password is refused with the API's advice, a good
one is set, and the new password logs in while the old one does not. Changing the address asks
for the password and applies once the link mailed to the new address is followed.
"""

from __future__ import annotations

import re
import uuid

import pytest

from docstore_devplatform.e2e import sent_mails

from .conftest import PASSWORD, WebSystem
from .test_two_factor import blocking, sign_up
from .test_web_app import go
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NEW_PASSWORD = "lantern orchard quietly sixteen"
LINK = {
    "verify": re.compile(r"#/verify-email\?token=([A-Za-z0-9_~.-]+)"),
    "reset": re.compile(r"#/reset-password\?token=([A-Za-z0-9_~.-]+)"),
}


def mailed_tokens(aws_endpoint: str, address: str, kind: str) -> list[str]:
    """The link tokens of `kind` in every mail moto's SES holds for `address`, oldest first."""
    found: list[str] = []
    for mail in sent_mails(aws_endpoint, address):
        found += [t for t in LINK[kind].findall(mail["body"]) if t not in found]
    return found


def wait_for_token(browser: Browser, endpoints, address: str, kind: str, after: int = 0) -> str:
    """The newest link token of `kind` mailed to `address`, once there are more than `after`."""
    tokens = browser.wait(
        lambda: (lambda t: t if len(t) > after else None)(mailed_tokens(endpoints.aws_endpoint, address, kind)),
        f"a {kind} mail to {address}",
        timeout=60,
        interval=0.5,
    )
    return tokens[-1]


def test_verify_the_address_and_reset_the_password_from_the_mails(
    web_system: WebSystem, browser: Browser, endpoints
) -> None:
    base = web_system.gateway
    problems: list[str] = []
    username = sign_up(browser, base)
    address = f"{username}@example.com"
    browser.find_text("#verify-banner", "verify your e-mail address", timeout=30)

    # The verification mail's link, opened in this browser (logged in): verified, token gone.
    token = wait_for_token(browser, endpoints, address, "verify")
    browser.open(f"{base}/#/verify-email?token={token}")
    browser.find_text("#email-verify-result", address, timeout=30)
    assert token not in browser.url, browser.url
    assert browser.url.endswith("#/verify-email")
    # Not in the history either: back, then forward to the entry the link made.
    browser.driver.back()
    browser.driver.forward()
    browser.find("#verify-title")
    assert token not in browser.url, browser.url
    browser.wait(lambda: browser.js("return document.getElementById('verify-banner').hidden"), "the banner to go")
    problems += blocking(browser, "verified")
    browser.screenshot("recovery-01-verified")
    # The link works once.
    browser.open(f"{base}/#/verify-email?token={token}")
    browser.find("#verify-title")
    browser.wait(lambda: browser.find_all("#main .error-text"), "the second use refused", timeout=30)

    # Forgot password: the same words for an unknown name as for this account.
    browser.button("Log out").click()
    browser.find("#login-title")
    browser.find("#forgot-link").click()
    browser.find("#forgot-title")
    answers = []
    for name in (f"nobody-{uuid.uuid4().hex[:8]}", username):
        browser.find("input[name=username_or_email]").fill(name)
        browser.button("Send reset link").click()
        answers.append(browser.find("#forgot-result p", timeout=30).text)
        browser.js("document.getElementById('forgot-result').replaceChildren()")
    assert answers[0] == answers[1] and "30 minutes" in answers[0], answers
    problems += blocking(browser, "forgot")

    # The reset mail's link: the token leaves the address bar; a guessable password is refused with advice.
    token = wait_for_token(browser, endpoints, address, "reset")
    browser.open(f"{base}/#/reset-password?token={token}")
    browser.find("#reset-title")
    assert token not in browser.url, browser.url
    browser.find("input[name=new_password]").fill("password123")
    browser.find("input[name=new_password_again]").fill("password123")
    browser.button("Set new password").click()
    assert browser.wait(browser.alert_text, "the weak password refused")
    browser.find("input[name=new_password]").fill(NEW_PASSWORD)
    browser.find("input[name=new_password_again]").fill(NEW_PASSWORD)
    browser.button("Set new password").click()
    browser.find_text("#reset-title", "Your password is changed", timeout=30)
    problems += blocking(browser, "reset")
    browser.screenshot("recovery-02-reset")

    # The old password no longer logs in; the new one does.
    go(browser, "#/login")
    browser.find("#login-title")
    browser.find("input[name=username]").fill(username)
    browser.find("input[name=password]").fill(PASSWORD)
    browser.button("Log in").click()
    assert "wrong username or password" in browser.wait(browser.alert_text, "the old password refused").lower()
    browser.find("input[name=password]").fill(NEW_PASSWORD)
    browser.button("Log in").click()
    browser.find_text("#who-name", username)

    # Change the address: the password is required, the page says a link went to the new address,
    # and the change applies when that link is followed.
    new_address = f"{username}-new@example.com"
    go(browser, "#/security")
    browser.find("#email-current")
    browser.find("input[name=new_email]").fill(new_address)
    browser.find("#main input[name=password][autocomplete=current-password]").fill(NEW_PASSWORD)
    browser.button("Change e-mail").click()
    browser.find_text("#email-result", "link", timeout=30)
    assert address in browser.find("#email-current").text
    token = wait_for_token(browser, endpoints, new_address, "verify")
    browser.open(f"{base}/#/verify-email?token={token}")
    browser.find_text("#email-verify-result", new_address, timeout=30)
    go(browser, "#/security")
    browser.find_text("#email-current", new_address, timeout=30)

    assert not problems, "\n".join(problems)
