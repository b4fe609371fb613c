"""Logging in at the other region's web app: the login is answered 307 to the account's home
region, the page follows it, and the person ends up signed in with the home region's data.

Runs on the two-region e2e system (`system` is region A, `region_b` region B), each region's
gateway serving the web app from its own origin."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import PASSWORD, SCREENSHOTS
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def chromium(system) -> Iterator[Browser]:
    # A TLS system (DOCSTORE_E2E_TLS): the browser accepts the run's CA and gateway certificate.
    trust = Path(system.ca_file).with_name("server.pem") if system.ca_file else None
    browser = Browser(SCREENSHOTS, trust=trust)
    try:
        yield browser
    finally:
        browser.close()


def test_login_at_the_other_region_follows_the_redirect_home(system, region_b, chromium: Browser) -> None:
    home, other = system.urls["gateway"], region_b.urls["gateway"]
    username = f"roamer-{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        f"{home}/v1/accounts",
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        timeout=30,
    )
    assert created.status_code == 201, created.text

    # Region B knows the account (replicated) before a login there can be sent home.
    def sent_home() -> bool:
        answer = httpx.post(f"{other}/v1/sessions", json={"username": username, "password": PASSWORD}, timeout=30)
        return answer.status_code == 307

    chromium.wait(sent_home, "region B to send the login home", timeout=60, interval=0.5)

    chromium.open(f"{other}/#/login")
    chromium.find("input[name=username]").fill(username)
    chromium.find("input[name=password]").fill(PASSWORD)
    chromium.button("Log in").click()
    chromium.find_text("#who-name", username, timeout=60)
    chromium.screenshot("30-login-at-other-region")
    # The page now talks to the home region: its files list comes from there.
    chromium.find("table.documents, .empty", timeout=30)
    home_calls = [r for r in chromium.network() if r["url"].startswith(home + "/v1/")]
    assert home_calls, "after the redirect no API call went to the home region"
    assert chromium.console_errors() == []
