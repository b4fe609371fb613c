"""Accessibility and quality bars of the web app, in the real headless Chromium.

- axe-core (npm, installed by scripts/bootstrap into .tools/node) finds no serious or critical
  violation on any page (log-in, sign-up, forgotten password, the mailed reset and verification
  pages, files, a document, shared, search, trash, usage, settings, security, public links,
  activity, admin), at 1366x900 and at 390x844; every page is screenshotted at both sizes;
- the main actions (the upload picker, opening a document, rename, delete) work with the keyboard
  alone;
- Lighthouse (up to three runs, on the installed Chromium) scores the files page: accessibility >= 95,
  performance >= 90.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from .conftest import (
    NODE_MODULES,
    PASSWORD,
    QUALITY_ADMIN_USERNAME,
    REPO,
    WebSystem,
    api_sign_up,
    reset_shared,
)
from .test_web_app import document_row, go, pick_files, sign_up, wait_uploaded, write_file
from .webdriver import CHROMIUM, Browser, Element

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SIZES = ((1366, 900), (390, 844))
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
LIGHTHOUSE_SCRIPT = Path(__file__).with_name("lighthouse_files.mjs")
LIGHTHOUSE_REPORT = REPO / "test-artifacts" / "lighthouse-files.json"
BLOCKING_IMPACTS = ("serious", "critical")
LIGHTHOUSE_RUNS = 3
KEPT = "meeting-notes.txt"
TRASHED = "old-draft.txt"


def node_tools_missing() -> str | None:
    if not AXE.is_file() or not (NODE_MODULES / ".bin" / "lighthouse").exists():
        return f"axe-core/lighthouse are not in {NODE_MODULES}: run scripts/bootstrap"
    return None


@pytest.fixture(scope="module")
def owner(web_system: WebSystem, shared_chromium: list[Browser], tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Premium account with one document in its files and one in its trash (made through the page)."""
    folder = tmp_path_factory.mktemp("quality")
    browser = reset_shared(shared_chromium)  # the package's Chromium: no start of its own
    username = sign_up(browser, web_system.gateway, plan="premium")
    for name in (KEPT, TRASHED):
        pick_files(browser, "#file-picker", write_file(folder, name, f"{name}: the garden committee\n".encode()))
        wait_uploaded(browser, name)
        document_row(browser, name)
    browser.button(f"Delete {TRASHED}").click()
    browser.wait(
        lambda: not any(TRASHED in r.text for r in browser.find_all("table.documents tbody tr")),
        f"{TRASHED} to leave the list",
    )
    return username


def log_in(browser: Browser, base: str, username: str) -> None:
    browser.open(f"{base}/#/login")
    browser.find("input[name=username]").fill(username)
    browser.find("input[name=password]").fill(PASSWORD)
    browser.button("Log in").click()
    browser.find_text("#who-name", username)


def log_out(browser: Browser) -> None:
    browser.button("Log out").click()
    browser.find("#login-title")


# ---------------------------------------------------------------- axe


def settled(browser: Browser, css: str, text: str = "") -> None:
    """Wait until the view has rendered (no "Loading…") and shows `css` (containing `text`)."""
    browser.wait(lambda: not browser.find_all("#main .loading"), "the view to finish loading", timeout=30)
    browser.find_text(css, text, timeout=30) if text else browser.find(css, timeout=30)


def axe_violations(browser: Browser) -> list[dict]:
    """axe-core's violations on the page as it is now, serious and critical only."""
    if not browser.js("return typeof window.axe === 'object'"):
        browser.js(AXE.read_text())  # WebDriver scripts are not subject to the page's CSP
    result = browser.js_async(
        """const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']})
          .then((r) => done(r.violations.map((v) => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 5).map((n) => ({target: n.target.join(' '), summary: n.failureSummary}))}))))
          .catch((e) => done({error: String(e)}));"""
    )
    assert not (isinstance(result, dict) and "error" in result), f"axe failed: {result}"
    return [v for v in result if v["impact"] in BLOCKING_IMPACTS]


class PageChecks:
    """axe on each page at each size, with a screenshot of each; the violations collected for one report."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.violations: dict[str, list[dict]] = {}
        self.checked: list[str] = []

    def check(self, page: str, size: tuple[int, int]) -> None:
        label = f"{page}-{size[0]}x{size[1]}"
        self.browser.screenshot(f"quality-{label}")
        found = axe_violations(self.browser)
        self.checked.append(label)
        if found:
            self.violations[label] = found


def owner_pages(browser: Browser) -> Iterator[str]:
    """Visit each page of a signed-in owner (see `owner`), yielding its name once it has rendered."""
    go(browser, "#/files")
    settled(browser, "table.documents tbody tr", KEPT)
    yield "files"
    document_row(browser, KEPT).find("button.doc-open").click()
    settled(browser, "dialog[open] .version-table tbody tr", "v1")
    yield "document"
    browser.button("Close", within="dialog[open]").click()
    browser.wait(lambda: not browser.find_all("dialog[open]"), "the dialog to close")
    go(browser, "#/shared")
    settled(browser, "#main h1")
    yield "shared"
    go(browser, "#/search?q=meeting")
    settled(browser, "section.results .hit", KEPT)
    # A Premium account's search offers no upgrade (the upsell is for Free accounts only).
    assert not browser.find_all(".upgrade"), "the Premium upsell shows on a Premium account's search"
    yield "search"
    go(browser, "#/trash")
    settled(browser, "table.documents tbody tr", TRASHED)
    yield "trash"
    go(browser, "#/usage")
    settled(browser, ".usage[data-level]")
    yield "usage"
    go(browser, "#/settings")
    settled(browser, "#pref-file_modified")
    yield "settings"
    go(browser, "#/security")
    settled(browser, "#main h1", "Security")
    yield "security"
    go(browser, "#/links")
    settled(browser, "#main h1", "Public links")
    yield "links"
    go(browser, "#/activity")
    settled(browser, "#main h1", "Activity")
    yield "activity"


PUBLIC_PAGES = (
    ("login", "#/login", "#login-title"),
    ("signup", "#/signup", "#signup-title"),
    ("forgot", "#/forgot", "#forgot-title"),
    # The mailed links' pages: the reset form (its token is only sent on submit) and the
    # verification page without a token (with one it is answered at once).
    ("reset-password", "#/reset-password?token=from-the-mail", "input[name=new_password]"),
    ("verify-email", "#/verify-email", "#verify-title"),
)
"""(name, route, what shows once it has rendered) of each page a visitor who is not logged in sees."""


def public_pages(browser: Browser, base: str) -> Iterator[str]:
    """Visit each page of a visitor who is not logged in, yielding its name once it has rendered."""
    for name, route, rendered in PUBLIC_PAGES:
        browser.open(f"{base}/{route}")
        settled(browser, rendered)
        yield name


def test_no_serious_accessibility_violation_on_any_page(web_system: WebSystem, browser: Browser, owner: str) -> None:
    reason = node_tools_missing()
    if reason:
        pytest.skip(reason)
    base = web_system.gateway
    checks = PageChecks(browser)
    for size in SIZES:
        browser.resize(*size)
        for page in public_pages(browser, base):
            checks.check(page, size)

    log_in(browser, base, owner)
    for size in SIZES:
        browser.resize(*size)
        for page in owner_pages(browser):
            checks.check(page, size)
    log_out(browser)

    admin = QUALITY_ADMIN_USERNAME
    api_sign_up(base, admin)
    log_in(browser, base, admin)
    for size in SIZES:
        browser.resize(*size)
        go(browser, "#/admin")
        settled(browser, "#main h1", "Admin dashboard")
        settled(browser, ".charts svg")
        checks.check("admin", size)

    assert len(checks.checked) == 2 * 16, checks.checked
    assert not checks.violations, "axe found serious or critical violations:\n" + json.dumps(
        checks.violations, indent=1
    )


# ---------------------------------------------------------------- keyboard


def describe(browser: Browser) -> str:
    return browser.js(
        """const e = document.activeElement;
        if (!e || e === document.body) return 'body';
        return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' +
          JSON.stringify((e.getAttribute('aria-label') || e.textContent || e.value || '').trim().slice(0, 40));"""
    )


def tab_to(browser: Browser, test_js: str, what: str, limit: int = 120) -> Element:
    """Press Tab until the focused element passes `test_js` (a function body of `e`); the element."""
    visited = []
    for _ in range(limit):
        browser.keys(Keys.TAB)
        if browser.js(f"const e = document.activeElement; return !!(e && ({test_js}));"):
            focused = browser.focused()
            assert focused is not None
            return focused
        visited.append(describe(browser))
    raise AssertionError(f"Tab never reached {what}; the focus went through: {visited}")


def test_main_actions_work_from_the_keyboard(
    web_system: WebSystem, browser: Browser, owner: str, tmp_path: Path
) -> None:
    base = web_system.gateway
    # Log in with the keyboard: the login page puts the focus in the username box.
    browser.open(f"{base}/#/login")
    settled(browser, "#login-title")
    browser.wait(lambda: browser.js("return document.activeElement.name === 'username'"), "focus in the username box")
    browser.keys(owner, Keys.TAB, PASSWORD, Keys.ENTER)
    browser.find_text("#who-name", owner)
    settled(browser, "table.documents tbody tr", KEPT)

    # The upload picker: reachable with Tab, opened with Enter (the test stops the system's file dialog
    # and records that it was asked for; the file is then chosen as the dialog would).
    browser.js(
        """const p = document.getElementById('file-picker');
        window.__pickerOpened = 0;
        p.addEventListener('click', (e) => { window.__pickerOpened += 1; e.preventDefault(); });"""
    )
    tab_to(browser, "e.id === 'file-picker'", "the upload picker")
    browser.keys(Keys.ENTER)
    browser.wait(lambda: browser.js("return window.__pickerOpened") >= 1, "Enter to open the file picker", timeout=5)
    name = f"keyboard-{uuid.uuid4().hex[:6]}.txt"
    pick_files(browser, "#file-picker", write_file(tmp_path, name, b"typed, not clicked\n"))
    wait_uploaded(browser, name)
    document_row(browser, name)

    # Open the document.
    tab_to(browser, f"e.classList.contains('doc-open') && e.textContent.trim() === {json.dumps(name)}", name)
    browser.keys(Keys.ENTER)
    settled(browser, "dialog[open] .version-table tbody tr", "v1")

    # Rename it: Tab to the name box, type, Enter.
    renamed = f"renamed-{name}"
    tab_to(
        browser,
        f"e.tagName === 'INPUT' && e.value === {json.dumps(name)} && !!e.closest('dialog[open]')",
        "the name box",
    )
    ActionChains(browser.driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).perform()
    browser.keys(renamed, Keys.ENTER)
    browser.find_text("dialog[open] h2", renamed)
    tab_to(browser, "e.getAttribute('aria-label') === 'Close' && !!e.closest('dialog[open]')", "the dialog's Close")
    browser.keys(Keys.ENTER)
    browser.wait(lambda: not browser.find_all("dialog[open]"), "the dialog to close")
    document_row(browser, renamed)

    # Delete it.
    tab_to(browser, f"e.getAttribute('aria-label') === {json.dumps('Delete ' + renamed)}", f"Delete {renamed}")
    browser.keys(Keys.ENTER)
    browser.wait(
        lambda: not any(renamed in r.text for r in browser.find_all("table.documents tbody tr")),
        "the row to leave the list",
    )
    go(browser, "#/trash")
    settled(browser, "table.documents tbody tr", renamed)


# ---------------------------------------------------------------- Lighthouse


def calibrated_slowdown(benchmark_index: float | None) -> float:
    """Lighthouse's CPU slowdown for a host of `benchmark_index`: its default 4x assumes about 1,500
    (a fast desktop); a host at half that emulates the same phone at 2x. Never below 1 (no speed-up)."""
    if not benchmark_index or benchmark_index >= 1500:
        return 4.0
    return round(max(1.0, 4.0 * benchmark_index / 1500), 2)


def test_lighthouse_files_page(web_system: WebSystem, owner: str) -> None:
    """Lighthouse on the files page with its defaults (emulated phone, simulated slow 4G and 4x CPU
    slowdown). CPU time is measured on this machine, so a busy host lowers the performance score for
    reasons that are not the page's: the page gets up to three runs and must reach 90 in one of them
    (each failing run's figures are in the message). After a slow run on a host whose benchmark index
    is under the 1,500 that Lighthouse's 4x assumes, the next run's multiplier is calibrated to
    the host, as Lighthouse's docs/throttling.md advises ("Calibrating multipliers"), so the page is
    still judged as on the same phone. Accessibility must be 95 in every run."""
    reason = node_tools_missing()
    if reason:
        pytest.skip(reason)
    LIGHTHOUSE_REPORT.parent.mkdir(parents=True, exist_ok=True)
    env = os.environ | {
        "DOCSTORE_NODE_MODULES": str(NODE_MODULES),
        "CHROME_PATH": CHROMIUM,
        "LH_BASE": web_system.gateway,
        "LH_USERNAME": owner,
        "LH_PASSWORD": PASSWORD,
        "LH_REPORT": str(LIGHTHOUSE_REPORT),
    }
    slow_runs: list[str] = []
    for _ in range(LIGHTHOUSE_RUNS):
        run = subprocess.run(
            ["node", str(LIGHTHOUSE_SCRIPT)], env=env, capture_output=True, text=True, timeout=240, check=False
        )
        assert run.returncode == 0, f"lighthouse failed ({run.returncode}): {run.stderr[-3000:]}"
        result = json.loads(run.stdout.strip().splitlines()[-1])
        print("lighthouse:", json.dumps(result))
        assert result["runtime_error"] is None, result
        assert "#/files" in result["final_url"], f"Lighthouse measured {result['final_url']}, not the files page"
        scores, failing = result["scores"], result["failing"]
        assert scores["accessibility"] >= 95, f"accessibility {scores['accessibility']}: {failing['accessibility']}"
        if scores["performance"] >= 90:
            return
        host = (
            f"benchmark index {result['benchmark_index']}, CPU slowdown {result['cpu_slowdown']}, "
            f"main thread {result['main_thread_ms']} ms"
        )
        slow_runs.append(f"performance {scores['performance']} ({host}): {failing['performance']}")
        env["LH_CPU_SLOWDOWN"] = str(calibrated_slowdown(result["benchmark_index"]))
    pytest.fail(f"performance under 90 in {LIGHTHOUSE_RUNS} runs: " + "; ".join(slow_runs))
