"""The browser tests' view of a headless Chromium, on Selenium.

Selenium drives Debian's `chromium` through Debian's `chromium-driver`; both paths are given to it
explicitly, so Selenium Manager never looks for (or downloads) a browser or a driver. `Browser` and
`Element` are the small vocabulary the tests speak (find, find_text, button, wait, network, ...);
`Browser.driver` is the Selenium WebDriver for anything else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = os.environ.get("DOCSTORE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DOCSTORE_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
]

# Selenium's own errors (stale or missing element, a script error, ...): `wait` retries through them.
WebDriverError = WebDriverException


def browser_available() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            return f"{path} is missing: scripts/bootstrap installs Debian's chromium and chromium-driver"
    return None


def spki_hashes(pem_file: Path) -> list[str]:
    """Chromium's names for the keys of the certificates in `pem_file`: base64 of the SHA-256 of
    each one's SubjectPublicKeyInfo (`--ignore-certificate-errors-spki-list`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return [
        base64.b64encode(
            hashlib.sha256(cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).digest()
        ).decode()
        for cert in x509.load_pem_x509_certificates(pem_file.read_bytes())
    ]


class Element:
    """One element of the page (a Selenium WebElement, with the tests' names for its operations)."""

    def __init__(self, browser: Browser, element: WebElement, description: str) -> None:
        self.browser = browser
        self.web_element = element
        self.id = element.id
        self.description = description
        self.relocate: Callable[[], Element] | None = None
        """How this element was found (`Browser.find`, `find_text`, `button`): a page that draws
        its list or form again between finding and using the element (the live list, a badge
        that updates, a form rendered twice) leaves a stale handle, which is found again."""

    def _act(self, action: Callable[[WebElement], Any]) -> Any:
        for attempt in range(5):
            try:
                return action(self.web_element)
            except StaleElementReferenceException:
                if self.relocate is None or attempt == 4:
                    raise
                fresh = self.relocate()
                self.web_element, self.id = fresh.web_element, fresh.id
        raise AssertionError("unreachable")

    def click(self, timeout: float = 10.0) -> Element:
        """Click the element once nothing else is over it.

        Chromedriver refuses a click whose point lands on another element, after trying for
        about a second. Under CI load the page can take longer than that to settle (a bar above
        the element drawn late, a toast passing over it); a person would wait and click again,
        so this does, for `timeout` seconds. Something that stays in the way still fails, with
        chromedriver's word on what it is.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._act(lambda e: e.click())
                return self
            except ElementClickInterceptedException:
                if time.monotonic() > deadline:
                    raise
                # Chromedriver scrolls only the window: a button already in it can sit under the
                # sticky head of a dialog that scrolled itself; a person scrolls it out from under.
                self._act(lambda e: self.browser.js("arguments[0].scrollIntoView({block: 'center'})", e))
                time.sleep(0.2)

    def type(self, text: str) -> Element:
        """Keys typed into the element; for a file input, the newline-separated paths of the files chosen."""
        self._act(lambda e: e.send_keys(text))
        return self

    def clear(self) -> Element:
        self._act(lambda e: e.clear())
        return self

    def fill(self, text: str) -> Element:
        return self.clear().type(text)

    @property
    def text(self) -> str:
        text: str = self._act(lambda e: e.text)
        return text

    def attribute(self, name: str) -> str | None:
        value: str | None = self._act(lambda e: e.get_attribute(name))
        return value

    def property(self, name: str) -> Any:
        return self._act(lambda e: e.get_property(name))

    def find(self, css: str) -> Element:
        """The first descendant matching `css`; a redrawn parent is found again first, and so is
        the child if it goes stale later (a row of the live list redrawn between find and click)."""
        child = Element(self.browser, self._act(lambda e: e.find_element(By.CSS_SELECTOR, css)), css)
        child.relocate = lambda: self.find(css)
        return child

    def find_all(self, css: str) -> list[Element]:
        found = self._act(lambda e: e.find_elements(By.CSS_SELECTOR, css))
        return [Element(self.browser, e, css) for e in found]

    def __repr__(self) -> str:
        return f"<Element {self.description!r}>"


class Browser:
    """One headless Chromium with a fresh profile and download folder."""

    def __init__(self, artifacts: Path, *, width: int = 1280, height: int = 900, trust: Path | None = None) -> None:
        """`trust`: a PEM file of certificates (a local CA's chain) whose keys this browser accepts
        for HTTPS, as if a person had imported the CA; every other certificate error still fails."""
        self.artifacts = artifacts
        self.profile = Path(tempfile.mkdtemp(prefix="docstore-chromium-"))
        self.downloads = self.profile / "downloads"
        self.downloads.mkdir()
        self.driver_log = self.profile / "chromedriver.log"
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        flags = [*CHROMIUM_FLAGS, f"--user-data-dir={self.profile / 'profile'}", f"--window-size={width},{height}"]
        if trust is not None:
            flags.append(f"--ignore-certificate-errors-spki-list={','.join(spki_hashes(trust))}")
        for flag in flags:
            options.add_argument(flag)
        options.add_experimental_option(
            "prefs",
            {
                "download.default_directory": str(self.downloads),
                "download.prompt_for_download": False,
                "safebrowsing.enabled": False,
            },
        )
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        service = Service(executable_path=CHROMEDRIVER, log_output=str(self.driver_log))
        try:
            self.driver = webdriver.Chrome(options=options, service=service)
        except WebDriverException:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.driver.implicitly_wait(0)
        self.driver.set_page_load_timeout(30)
        self.driver.set_script_timeout(60)
        self._network: list[dict] = []
        self._size = (width, height)
        self._origins: set[str] = set()  # every origin `open` went to: what `reset` clears

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def reset(self) -> None:
        """Back to what a new `Browser` shows a test, without starting Chromium again (the browser
        tests take turns with one, `tests/browser/conftest.py`): one blank tab of the first size,
        no cookies, nothing stored for any origin `open` went to (the app keeps its session in the
        gateway's web storage), no permission granted, no download, no log. A WebDriverException
        means the caller should start a new one."""
        driver = self.driver
        driver.switch_to.new_window("tab")  # a tab of its own: no sessionStorage, no page's timers
        fresh = driver.current_window_handle
        for handle in driver.window_handles:
            if handle != fresh:
                driver.switch_to.window(handle)
                driver.close()
        driver.switch_to.window(fresh)
        driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        driver.execute_cdp_cmd("Browser.resetPermissions", {})
        for origin in self._origins:
            driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
        for log in ("performance", "browser"):
            driver.get_log(log)
        self._network = []
        shutil.rmtree(self.downloads, ignore_errors=True)
        self.downloads.mkdir()
        self.resize(*self._size)

    # ---- pages and elements

    def open(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https"):
            self._origins.add(f"{parts.scheme}://{parts.netloc}")
        self.driver.get(url)

    def reload(self) -> None:
        self.driver.refresh()

    @property
    def url(self) -> str:
        return self.driver.current_url

    def resize(self, width: int, height: int) -> None:
        """Make the page's viewport `width` x `height` CSS pixels (the window is that plus the browser's frame)."""
        self.driver.set_window_size(width, height)
        inner_width, inner_height = self.driver.execute_script("return [window.innerWidth, window.innerHeight]")
        if (inner_width, inner_height) != (width, height):
            self.driver.set_window_size(width + width - inner_width, height + height - inner_height)

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, WebElement):
            return Element(self, value, "script result")
        if isinstance(value, list):
            return [self._wrap(v) for v in value]
        if isinstance(value, dict):
            return {k: self._wrap(v) for k, v in value.items()}
        return value

    def js(self, script: str, *args: Any) -> Any:
        """Run `script` in the page (Elements passed as arguments arrive as DOM elements, and come back as Elements)."""
        unwrapped = [a.web_element if isinstance(a, Element) else a for a in args]
        return self._wrap(self.driver.execute_script(script, *unwrapped))

    def js_async(self, script: str, *args: Any) -> Any:
        """Run `script`; it ends by calling `arguments[arguments.length - 1](result)`."""
        unwrapped = [a.web_element if isinstance(a, Element) else a for a in args]
        return self._wrap(self.driver.execute_async_script(script, *unwrapped))

    def find_all(self, css: str) -> list[Element]:
        return [Element(self, e, css) for e in self.driver.find_elements(By.CSS_SELECTOR, css)]

    def wait(self, check: Callable[[], Any], what: str, timeout: float = 20.0, interval: float = 0.1) -> Any:
        """`check()`'s first truthy answer, asked again (through WebDriver errors) until `timeout` seconds."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            try:
                result = check()
                if result:
                    return result
            except WebDriverException as error:
                last_error = error
            if time.monotonic() > deadline:
                shot = self.screenshot(f"FAILED-{int(time.time())}")
                alert = self.alert_text()
                raise AssertionError(
                    f"timed out waiting for {what} (screenshot {shot}; page alert: {alert!r}; last error: {last_error})"
                )
            time.sleep(interval)

    def find(self, css: str, timeout: float = 20.0, visible: bool = True) -> Element:
        """The first element matching `css` (visible unless told), waiting for it to appear."""

        def check() -> Element | None:
            for element in self.find_all(css):
                if not visible or self.js(
                    "const e = arguments[0]; return !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);",
                    element,
                ):
                    return element
            return None

        return self._relocatable(
            self.wait(check, f"element {css!r}", timeout), lambda: self.find(css, timeout, visible)
        )

    def find_text(self, css: str, text: str, timeout: float = 20.0) -> Element:
        """The first visible element matching `css` whose text contains `text`."""

        def check() -> Element | None:
            for element in self.find_all(css):
                if text in element.text:
                    return element
            return None

        return self._relocatable(
            self.wait(check, f"{css!r} containing {text!r}", timeout), lambda: self.find_text(css, text, timeout)
        )

    def button(self, label: str, within: str = "body", timeout: float = 20.0) -> Element:
        """A visible button (or button-like label) whose text or aria-label is `label`."""
        script = """
            const [scope, label] = arguments;
            for (const root of document.querySelectorAll(scope)) {
              for (const b of root.querySelectorAll('button, label.button, a.button')) {
                const name = (b.getAttribute('aria-label') || b.textContent).trim();
                if (name === label && !b.disabled && (b.offsetWidth || b.offsetHeight)) return b;
              }
            }
            return null;"""

        def check() -> Element | None:
            found = self.js(script, within, label)
            if found is None:
                return None
            found.description = label
            return found

        return self._relocatable(
            self.wait(check, f"button {label!r} in {within!r}", timeout), lambda: self.button(label, within, timeout)
        )

    @staticmethod
    def _relocatable(element: Element, relocate: Callable[[], Element]) -> Element:
        element.relocate = relocate
        return element

    def alert_text(self) -> str:
        """The error the page shows: inside the open dialog when there is one (the page's alert is
        behind it), else the page's alert."""
        script = """
            const a = document.querySelector('dialog[open] .dialog-alert') || document.getElementById('alert');
            return a && !a.hidden ? a.textContent : '';"""
        try:
            return self.js(script) or ""
        except WebDriverException:
            return ""

    def downloaded(self, name: str, timeout: float = 30.0) -> Path:
        """The file `name` (a glob pattern, such as a plain name) in the downloads folder once
        Chromium has finished saving it. Chromium reserves the name with an empty file at once and
        writes the bytes to a `.crdownload` file beside it, which it renames over the name at the
        end: the name alone existing is no sign that the bytes are there (ci150 read an unfinished
        recovery-codes file)."""

        def done() -> list[Path]:
            if any(p.name.endswith(".crdownload") for p in self.downloads.iterdir()):
                return []
            return sorted(self.downloads.glob(name))

        return self.wait(done, f"the download of {name}", timeout=timeout)[0]

    def screenshot(self, name: str) -> Path:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{name}.png"
        path.write_bytes(self.driver.get_screenshot_as_png())
        return path

    # ---- keyboard

    def keys(self, *keys: str) -> None:
        """Press keys as a person does, into whatever has the focus (`selenium.webdriver.Keys` for Tab, Enter...)."""
        ActionChains(self.driver).send_keys(*keys).perform()

    def focused(self) -> Element | None:
        """The element that has the keyboard focus (None when it is the page itself)."""
        return self.js("const e = document.activeElement; return e && e !== document.body ? e : null;")

    # ---- logs

    def network(self) -> list[dict]:
        """Every request the page has sent so far: {method, url, body_bytes, has_body} (DevTools performance log)."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") != "Network.requestWillBeSent":
                continue
            request = message["params"]["request"]
            size = 0
            for part in request.get("postDataEntries", []) or []:
                if "bytes" in part:
                    size += len(base64.b64decode(part["bytes"]))
            if not size and request.get("postData"):
                size = len(request["postData"].encode())
            self._network.append(
                {
                    "method": request["method"],
                    "url": request["url"],
                    "body_bytes": size,
                    "has_body": bool(request.get("hasPostData")),
                }
            )
        return list(self._network)

    def console_errors(self) -> list[str]:
        """Script errors the page logged (answers like 403 or 404 that the page handles are left out)."""
        return [
            e["message"]
            for e in self.driver.get_log("browser")
            if e.get("level") == "SEVERE" and "Failed to load resource" not in e["message"]
        ]
