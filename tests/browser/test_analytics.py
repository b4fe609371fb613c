"""The Usage page's and the admin page's charts (issue 39) in a real headless Chromium, against the
whole system: every chart has a table alternative, and each figure of each table equals the
analytics API's answer for that day; the page is usable at phone width and from the keyboard."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.keys import Keys

from .conftest import ANALYTICS_ADMIN_USERNAME, WebSystem
from .test_quality import log_out, settled, tab_to
from .test_web_app import go, pick_files, sign_up, wait_uploaded, write_file
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONTENT = b"quarterly figures, kept for the analytics test\n" * 20


def chart_tables(browser: Browser) -> dict[str, dict[str, dict[str, int]]]:
    """Each chart's table alternative: chart id -> day -> series -> value."""
    return browser.js(
        """const out = {};
        for (const table of document.querySelectorAll('table.chart-table')) {
          const rows = {};
          for (const tr of table.querySelectorAll('tbody tr')) {
            const cells = {};
            for (const td of tr.querySelectorAll('td')) cells[td.dataset.series] = Number(td.dataset.value);
            rows[tr.dataset.day] = cells;
          }
          out[table.dataset.chart] = rows;
        }
        return out;"""
    )


def api_get(browser: Browser, path: str) -> Any:
    """GET /v1/<path> with the page's own token (what the page itself would be answered)."""
    return browser.js_async(
        """const done = arguments[arguments.length - 1];
        fetch('/v1/' + arguments[0], {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('docstore.token')}})
          .then((r) => r.json()).then(done, (e) => done({error: String(e)}));""",
        path,
    )


def differences(tables: dict[str, Any], answer: dict[str, Any], charts: tuple[str, ...]) -> list[str]:
    by_day = {point["day"]: point for point in answer["days"]}
    wrong = []
    for chart in charts:
        assert chart in tables, f"no table alternative for the chart {chart}: {sorted(tables)}"
        assert len(tables[chart]) == len(by_day), (chart, len(tables[chart]))
        for day, cells in tables[chart].items():
            for series, value in cells.items():
                if by_day[day].get(series, 0) != value:
                    wrong.append(f"{chart} {day} {series}: table {value}, API {by_day[day].get(series, 0)}")
    return wrong


def matches_api(browser: Browser, route: str, path: str, charts: tuple[str, ...], ready: Any) -> dict[str, Any]:
    """Open `route` until its tables hold what the API answers (figures arrive through events, and
    other tests change the system's figures meanwhile: read the page, then the API, until they agree)."""
    seen: list[str] = []

    def check() -> dict[str, Any] | None:
        go(browser, f"{route}?_={uuid.uuid4().hex[:6]}")
        browser.wait(lambda: browser.find_all("table.chart-table"), "the charts' tables", timeout=30)
        tables = chart_tables(browser)
        answer = api_get(browser, path)
        seen[:] = differences(tables, answer, charts)
        return answer if not seen and ready(answer) else None

    try:
        return browser.wait(check, f"{route}'s tables to equal {path}", timeout=120, interval=1.0)
    except AssertionError as error:
        raise AssertionError(f"{error}; differences: {seen[:10]}") from None


def test_every_charts_table_alternative_equals_the_api(web_system: WebSystem, browser: Browser, tmp_path: Path) -> None:
    base = web_system.gateway
    browser.resize(1366, 900)
    sign_up(browser, base)
    name = f"figures-{uuid.uuid4().hex[:6]}.txt"
    pick_files(browser, "#file-picker", write_file(tmp_path, name, CONTENT))
    wait_uploaded(browser, name)

    # The person's Usage page: storage and transfers per day, and the file among the largest.
    def stored(answer: dict[str, Any]) -> bool:
        # The last two days: an upload just before midnight (UTC) is counted on a day that is no
        # longer the last one when the page is read.
        uploads = sum(day.get("uploads", 0) for day in answer["days"][-2:])
        return answer["now"]["current_bytes"] == len(CONTENT) and uploads == 1

    usage = matches_api(browser, "#/usage", "analytics/usage?days=90", ("storage", "transfers"), stored)
    assert len(usage["days"]) == 90
    drawn = "return [...document.querySelectorAll('figure.time-chart')].filter((f) => f.querySelector('canvas')).length"
    browser.wait(lambda: browser.js(drawn) >= 2, "uPlot to draw the storage and transfer charts")
    largest = browser.find_text("table[data-room=largest] tbody tr", name)
    assert largest.web_element.find_element("css selector", "td[data-value]").get_attribute("data-value") == str(
        len(CONTENT)
    )
    # The table alternative opens from the keyboard.
    tab_to(browser, "e.tagName === 'SUMMARY' && e.textContent.includes('Storage as a table')", "the storage table")
    browser.keys(Keys.ENTER)
    browser.wait(lambda: browser.js("return document.querySelector('figure[data-chart=storage] details').open"), "open")
    browser.resize(390, 844)
    assert browser.js("return document.documentElement.scrollWidth <= window.innerWidth + 1"), (
        "the page scrolls sideways"
    )
    browser.resize(1366, 900)

    # An operator's admin page: accounts by plan, storage, transfers and failures over time.
    log_out(browser)
    sign_up(browser, base, username=ANALYTICS_ADMIN_USERNAME)
    overview = matches_api(
        browser,
        "#/admin",
        "admin/analytics?days=90",
        ("plans", "system-storage", "system-transfers", "failures"),
        lambda answer: answer["now"]["stored_bytes"] >= len(CONTENT) and answer["now"]["accounts_by_plan"],
    )
    assert overview["now"]["average_document_bytes"] > 0
    settled(browser, "[data-export=series]")
    assert browser.find_all("[data-export=most-downloaded]") and browser.find_all("[data-export=most-shared]")
