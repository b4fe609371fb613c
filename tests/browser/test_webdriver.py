"""The browser tests' own click, on a page of its own in a real Chromium (no DocStore needed).

A click that lands on something passing over the button (a toast, a bar drawn late that moves
the page) is tried again until the button takes it; something that stays over it still fails.
Chromedriver itself tries a covered click again for about a second, so the passing cover here
stays longer than that.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
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
