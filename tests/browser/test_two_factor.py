"""Two-step sign-in and devices in a real headless Chromium, against the whole system (issue 20).

A person signs up, sees the banner asking to verify the address, sets up two-step sign-in on the
Security page with the code computed from the secret the page shows (RFC 6238, as an app does),
keeps the ten recovery codes (downloaded as .txt), logs out and logs in again with the second
step: a recovery code works once, then a code from the app. The Devices list shows this session
as "This device". A session revoked from another client ("sign out everywhere else") sends the
page to the login page, which says to log in again; a password changed from another client ends
this session too, and the login page says it was signed out. axe finds nothing serious on the
set-up, the second step and the Security page (desktop and phone width, no sideways scrolling).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
import uuid

import pytest

from docstore_kit.http_transport import sync_client

from .conftest import PASSWORD, WebSystem
from .test_quality import AXE, axe_violations
from .test_web_app import go
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STEP_SECONDS = 30
NEW_PASSWORD = "lantern orchard quietly sixteen"


def totp(secret: str, at: float | None = None, digits: int = 6) -> str:
    """RFC 6238 (HMAC-SHA1, 30-second steps, 6 digits: what authenticator apps use by default),
    written out here so the test does not share the server's library."""
    key = base64.b32decode(secret.replace(" ", "").upper() + "=" * (-len(secret.replace(" ", "")) % 8))
    counter = int((time.time() if at is None else at) // STEP_SECONDS)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def test_totp_helper_matches_rfc_6238() -> None:
    # RFC 6238 appendix B, SHA-1, secret "12345678901234567890", 8 digits.
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp(secret, 59, digits=8) == "94287082"
    assert totp(secret, 1111111109, digits=8) == "07081804"
    assert totp(secret, 2000000000, digits=8) == "69279037"


def sign_up(browser: Browser, base: str) -> str:
    """Sign up through the page, leaving the address unverified (test_web_app's helper verifies it)."""
    username = f"tf-{uuid.uuid4().hex[:10]}"
    browser.open(f"{base}/#/signup")
    browser.find("#signup-title")
    browser.find("input[name=username]").fill(username)
    browser.find("input[name=email]").fill(f"{username}@example.com")
    browser.find("input[name=password]").fill(PASSWORD)
    browser.button("Create account").click()
    browser.find_text("#who-name", username)
    return username


def blocking(browser: Browser, page: str) -> list[str]:
    """axe's serious and critical findings on the page as it is, as lines naming `page` (none when axe is missing)."""
    if not AXE.is_file():
        return []
    return [f"{page}: {v['id']} {v['help']} {v['nodes']}" for v in axe_violations(browser)]


def log_in_first_step(browser: Browser, base: str, username: str, password: str = PASSWORD) -> None:
    browser.open(f"{base}/#/login")
    browser.find("#login-title")
    browser.find("input[name=username]").fill(username)
    browser.find("input[name=password]").fill(password)
    browser.button("Log in").click()
    browser.find("#mfa-title")
    # The focus moved to the new step's code field, so a keyboard or screen-reader user is there.
    browser.wait(lambda: (browser.focused() and browser.focused().attribute("id")) == "mfa-code", "focus on the code")


def second_step(browser: Browser, code: str) -> None:
    browser.find("#mfa-code").fill(code)
    browser.button("Verify").click()


def use_recovery_code(browser: Browser) -> None:
    browser.button("Use a recovery code").click()
    browser.find_text("label[for=mfa-code]", "Recovery code")


def log_out(browser: Browser) -> None:
    browser.button("Log out").click()
    browser.find("#login-title")


def test_two_step_sign_in_from_enrolment_to_login_and_devices(web_system: WebSystem, browser: Browser) -> None:
    base = web_system.gateway
    problems: list[str] = []
    username = sign_up(browser, base)

    # A new address is not verified: the banner says so and offers to send the link again.
    browser.find_text("#verify-banner", "verify your e-mail address", timeout=30)
    browser.button("Resend", within="#verify-banner")

    # Set up: the page shows the QR code (the API's SVG as an image) and the key as text.
    go(browser, "#/security")
    browser.find_text("#main h1", "Security")
    browser.button("Set up two-step sign-in").click()
    secret = browser.find("#mfa-secret").text.replace(" ", "")
    assert len(secret) >= 16, secret
    browser.wait(lambda: browser.js("return document.getElementById('mfa-qr').naturalWidth > 0"), "the QR code to load")
    assert browser.focused() and browser.focused().attribute("id") == "mfa-enrol-title"
    problems += blocking(browser, "enrolment")
    browser.screenshot("2fa-01-enrol")

    confirmed_at = time.time()
    browser.find("#mfa-enrol input[name=code]").fill(totp(secret, confirmed_at))
    browser.button("Turn on").click()
    browser.find("#recovery-codes")
    codes = [li.text.strip() for li in browser.find_all("#recovery-codes li")]
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    browser.screenshot("2fa-02-recovery-codes")
    browser.button("Download (.txt)").click()
    saved = browser.downloaded("docstore-recovery-codes.txt")
    assert all(code in saved.read_text() for code in codes)
    # Turning it on ends the account's sessions: this page is either still signed in, or on the login page.
    browser.button("I have saved them").click()
    browser.wait(
        lambda: (
            browser.find_all("#login-title")
            or "On." in (browser.js("return document.getElementById('mfa-state')?.textContent || ''"))
        ),
        "two-step sign-in shown on (or the login page)",
        timeout=30,
    )
    if not browser.find_all("#login-title"):
        log_out(browser)

    # Log in: the password, then a recovery code (it works once).
    log_in_first_step(browser, base, username)
    problems += blocking(browser, "second step")
    browser.screenshot("2fa-03-second-step")
    use_recovery_code(browser)
    second_step(browser, codes[0])
    browser.find_text("#who-name", username)

    # The Devices list shows this session, marked as this device, with the client and address.
    go(browser, "#/security")
    row = browser.find("#devices-table tr[data-current=true]", timeout=30)
    assert "This device" in row.text and "127.0.0.1" in row.text, row.text
    assert row.find("th").text.strip() not in ("", "Unknown client"), row.text
    assert "On." in browser.find("#mfa-state").text and "9 of 10" in browser.find("#mfa-state").text
    problems += blocking(browser, "security page")
    browser.screenshot("2fa-04-devices")
    browser.resize(390, 844)
    browser.find("#devices-table")
    assert browser.js("return document.documentElement.scrollWidth <= window.innerWidth"), (
        "sideways scrolling at 390 px"
    )
    problems += blocking(browser, "security page at 390x844")
    browser.screenshot("2fa-04b-devices-phone")
    browser.resize(1280, 900)
    log_out(browser)

    # The same recovery code a second time: refused, said in the page; then a code from the app.
    log_in_first_step(browser, base, username)
    use_recovery_code(browser)
    second_step(browser, codes[0])
    assert "used already" in browser.wait(browser.alert_text, "the refusal of a used recovery code").lower()
    assert not browser.find_all("#nav:not([hidden])")
    browser.button("Use a code from the app instead").click()
    # The code that turned it on may not be used again (its replay is refused: accounts' unit and
    # integration tests), so the app's next code: the current step's once the clock has passed the
    # confirming step, else the following step's, which the server takes a step early (its window is
    # one step either side, as apps' clocks drift). Waiting up to 30 s for the clock was the same proof.
    second_step(browser, totp(secret, max(time.time(), confirmed_at + STEP_SECONDS)))
    browser.find_text("#who-name", username)

    # Another client (a program with a recovery code) signs every other session out: this page's
    # next refresh is refused, and the login page says to log in again.
    with sync_client(base_url=base, timeout=30) as client:
        first = client.post("/v1/sessions", json={"username": username, "password": PASSWORD})
        assert first.status_code == 401 and first.json().get("mfa_required") is True, first.text
        second = client.post("/v1/sessions/mfa", json={"mfa_ticket": first.json()["mfa_ticket"], "code": codes[1]})
        assert second.status_code in (200, 201), second.text
        auth = {"Authorization": f"Bearer {second.json()['token']}"}
        ended = client.delete("/v1/account/sessions", params={"keep": "current"}, headers=auth)
        assert ended.status_code in (200, 204), ended.text
        browser.js("sessionStorage.setItem('docstore.token', 'refused-' + Math.random())")  # as if it had expired
        go(browser, f"#/trash?_={uuid.uuid4().hex[:6]}")
        notice = browser.find("#login-notice", timeout=30)
        assert "log in again" in notice.text.lower(), notice.text
        browser.screenshot("2fa-05-signed-out-elsewhere")

        # Logged in again here (another recovery code), then the password is changed from the
        # program: every session ends, and this page, at its next request, says it was signed out.
        log_in_first_step(browser, base, username)
        use_recovery_code(browser)
        second_step(browser, codes[2])
        browser.find_text("#who-name", username)
        changed = client.put(
            "/v1/account/password",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=auth,
        )
        assert changed.status_code == 204, changed.text

    def signed_out() -> bool:
        # The revocation reaches the gateway as an event: ask again (a new page of the app) until
        # the page lands on the login page; its notice is said once, so no navigation after that.
        if browser.find_all("#login-title"):
            return True
        go(browser, f"#/trash?_={uuid.uuid4().hex[:6]}")
        return False

    browser.wait(signed_out, "the page to be signed out", timeout=60, interval=2.0)
    notice = browser.find("#login-notice").text
    assert "signed out" in notice.lower() and "password" in notice.lower(), notice
    browser.screenshot("2fa-06-signed-out-by-password-change")

    # Turning it off takes the password and a code (a recovery code here); then the password alone logs in.
    log_in_first_step(browser, base, username, NEW_PASSWORD)
    use_recovery_code(browser)
    second_step(browser, codes[3])
    browser.find_text("#who-name", username)
    go(browser, "#/security")
    browser.find_text("#mfa-state", "On.")
    browser.find("#mfa-body input[name=password]").fill(NEW_PASSWORD)
    browser.find("#mfa-body input[name=code]").fill(codes[4])
    browser.button("Turn off two-step sign-in").click()
    browser.find_text("#mfa-state", "Off.", timeout=30)
    log_out(browser)
    browser.find("input[name=username]").fill(username)
    browser.find("input[name=password]").fill(NEW_PASSWORD)
    browser.button("Log in").click()
    browser.find_text("#who-name", username)

    assert not problems, "\n".join(problems)


def test_keys_typed_while_the_devices_list_loads_stay_in_the_field(web_system: WebSystem, browser: Browser) -> None:
    """The Security page draws its forms first and its Devices list when the list arrives. Keys a
    person types in between stay in the field: the page's heading takes the focus only while
    nothing in the page has it. (It took it when the list arrived, and under CI load a password
    typed then went nowhere.)"""
    sign_up(browser, web_system.gateway)
    # The Devices list's request waits until released, as on a slow network.
    browser.js(
        """const real = window.fetch;
        window.fetch = (url, options) => String(url).includes("/v1/account/sessions")
          ? new Promise((resolve) => { window.releaseDevices = () => resolve(real(url, options)); })
          : real(url, options);"""
    )
    go(browser, "#/security")
    browser.find_text("#mfa-state", "Off.")
    browser.find_text("#devices", "Loading")
    field = browser.find("input[name=current_password]").fill("typed before")
    browser.wait(lambda: browser.js("return typeof window.releaseDevices === 'function'"), "the held request")
    browser.js("window.releaseDevices()")
    browser.find_text("#devices", "This device")
    browser.find_text("#app-passwords", "No app passwords")
    browser.keys(" and after")
    assert field.property("value") == "typed before and after"
    assert browser.focused() and browser.focused().attribute("name") == "current_password"
