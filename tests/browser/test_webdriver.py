"""The browser tests' own click and reset, on pages of their own in a real Chromium (no DocStore needed).

A click that lands on something passing over the button (a toast, a bar drawn late that moves
the page) is tried again until the button takes it; something that stays over it still fails.
Chromedriver itself tries a covered click again for about a second, so the passing cover here
stays longer than that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from selenium.common.exceptions import ElementClickInterceptedException

from .webdriver import Browser, browser_available

PAGE = """data:text/html,<!doctype html>
<button id="target" onclick="this.dataset.clicks = Number(this.dataset.clicks || 0) + 1">Go</button>
<div id="cover" style="position:fixed;inset:0;background:rgba(0,0,0,.3)"></div>"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    reason = browser_available()
    if reason:
        pytest.skip(reason)
    chromium = Browser(tmp_path)
    try:
        yield chromium
    finally:
        chromium.close()


def clicks(browser: Browser) -> int:
    return int(browser.js("return Number(document.getElementById('target').dataset.clicks || 0)"))


def test_a_click_under_a_passing_cover_lands_once_the_cover_goes(browser: Browser) -> None:
    browser.open(PAGE)
    browser.js("setTimeout(() => document.getElementById('cover').remove(), 2500)")
    started = time.monotonic()
    browser.find("#target").click(timeout=30)
    assert clicks(browser) == 1
    assert time.monotonic() - started >= 2, "the click cannot have landed while the cover was there"


def test_a_click_under_a_cover_that_stays_fails_and_does_not_land(browser: Browser) -> None:
    browser.open(PAGE)
    with pytest.raises(ElementClickInterceptedException, match="cover"):
        browser.find("#target").click(timeout=1)
    assert clicks(browser) == 0


class StatefulPage(BaseHTTPRequestHandler):
    """`/set` answers with a cookie and its script writes both web storages; `/look` changes nothing."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"<!doctype html><title>page</title>"
        if self.path == "/set":
            body += b"<script>localStorage.kept = 'x'; sessionStorage.kept = 'x'</script>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        if self.path == "/set":
            self.send_header("Set-Cookie", "kept=x; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_reset_browser_keeps_nothing_of_the_last_test(browser: Browser) -> None:
    """What `tests/browser/conftest.py` relies on when its tests take turns with one Chromium."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), StatefulPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    stored = "return [document.cookie, localStorage.kept || '', sessionStorage.kept || '']"
    try:
        browser.open(f"{origin}/set")
        browser.driver.switch_to.new_window("window")
        browser.open(f"{origin}/set")
        browser.resize(390, 844)
        (browser.downloads / "left-over.txt").write_text("x")
        assert browser.js(stored) == ["kept=x", "x", "x"] and browser.network()

        browser.reset()
        assert len(browser.driver.window_handles) == 1 and browser.url == "about:blank"
        assert browser.js("return [window.innerWidth, window.innerHeight]") == [1280, 900]
        assert not list(browser.downloads.iterdir()) and browser.network() == []
        browser.open(f"{origin}/look")
        assert browser.js(stored) == ["", "", ""]
    finally:
        server.shutdown()
