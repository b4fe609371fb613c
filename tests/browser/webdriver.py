"""A small W3C WebDriver client over httpx, driving Debian's chromium through chromium-driver.

Selenium would do the same; this keeps the test dependencies to what the workspace already
locks (httpx). Only the commands the browser tests use are here.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from docstore_devplatform.ports import free_ports

ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"
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


class WebDriverError(AssertionError):
    pass


def browser_available() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            return f"{path} is missing: scripts/bootstrap installs Debian's chromium and chromium-driver"
    return None


class Element:
    def __init__(self, browser: Browser, element_id: str, description: str) -> None:
        self.browser = browser
        self.id = element_id
        self.description = description

    def _cmd(self, method: str, path: str, body: dict | None = None) -> Any:
        return self.browser.command(method, f"/element/{self.id}{path}", body)

    def click(self) -> Element:
        self._cmd("POST", "/click", {})
        return self

    def type(self, text: str) -> Element:
        self._cmd("POST", "/value", {"text": text})
        return self

    def clear(self) -> Element:
        self._cmd("POST", "/clear", {})
        return self

    def fill(self, text: str) -> Element:
        return self.clear().type(text)

    @property
    def text(self) -> str:
        return self._cmd("GET", "/text")

    def attribute(self, name: str) -> str | None:
        return self._cmd("GET", f"/attribute/{name}")

    def property(self, name: str) -> Any:
        return self._cmd("GET", f"/property/{name}")

    def find(self, css: str) -> Element:
        found = self._cmd("POST", "/element", {"using": "css selector", "value": css})
        return Element(self.browser, found[ELEMENT_KEY], css)

    def find_all(self, css: str) -> list[Element]:
        found = self._cmd("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self.browser, f[ELEMENT_KEY], css) for f in found]

    def as_arg(self) -> dict[str, str]:
        return {ELEMENT_KEY: self.id}


class Browser:
    """One headless Chromium with a fresh profile and download folder."""

    def __init__(self, artifacts: Path, *, width: int = 1280, height: int = 900) -> None:
        self.artifacts = artifacts
        self.profile = Path(tempfile.mkdtemp(prefix="docstore-chromium-"))
        self.downloads = self.profile / "downloads"
        self.downloads.mkdir()
        (port,) = free_ports(1)
        self.driver_log = self.profile / "chromedriver.log"
        self.driver = subprocess.Popen(
            [CHROMEDRIVER, f"--port={port}", f"--log-path={self.driver_log}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.http.get("/status").json()["value"]["ready"]:
                    break
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            if time.monotonic() > deadline or self.driver.poll() is not None:
                self.close()
                raise WebDriverError("chromedriver did not start")
            time.sleep(0.1)
        capabilities = {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={self.profile / 'profile'}",
                    f"--window-size={width},{height}",
                ],
                "prefs": {
                    "download.default_directory": str(self.downloads),
                    "download.prompt_for_download": False,
                    "safebrowsing.enabled": False,
                },
            },
            "goog:loggingPrefs": {"performance": "ALL", "browser": "ALL"},
        }
        answer = self.http.post("/session", json={"capabilities": {"alwaysMatch": capabilities}})
        value = answer.json().get("value", {})
        if answer.status_code != 200 or "sessionId" not in value:
            self.close()
            raise WebDriverError(f"could not start chromium: {answer.text[:2000]}")
        self.session = value["sessionId"]
        self.command("POST", "/timeouts", {"implicit": 0, "pageLoad": 30000, "script": 60000})
        self._network: list[dict] = []

    # ---- protocol

    def command(self, method: str, path: str, body: dict | None = None) -> Any:
        response = self.http.request(method, f"/session/{self.session}{path}", json=body)
        value = response.json().get("value") if response.content else None
        if response.status_code != 200:
            message = value.get("message", "") if isinstance(value, dict) else str(value)
            raise WebDriverError(f"{method} {path}: {message[:1500]}")
        return value

    def close(self) -> None:
        try:
            if getattr(self, "session", None):
                self.http.delete(f"/session/{self.session}")
        except httpx.HTTPError:
            pass
        finally:
            self.http.close()
            self.driver.terminate()
            try:
                self.driver.wait(10)
            except subprocess.TimeoutExpired:
                self.driver.kill()
            shutil.rmtree(self.profile, ignore_errors=True)

    # ---- pages and elements

    def open(self, url: str) -> None:
        self.command("POST", "/url", {"url": url})

    def reload(self) -> None:
        self.command("POST", "/refresh", {})

    @property
    def url(self) -> str:
        return self.command("GET", "/url")

    def resize(self, width: int, height: int) -> None:
        self.command("POST", "/window/rect", {"width": width, "height": height})

    def js(self, script: str, *args: Any) -> Any:
        return self.command(
            "POST",
            "/execute/sync",
            {"script": script, "args": [a.as_arg() if isinstance(a, Element) else a for a in args]},
        )

    def js_async(self, script: str, *args: Any) -> Any:
        """Run `script`; it ends by calling `arguments[arguments.length - 1](result)`."""
        return self.command("POST", "/execute/async", {"script": script, "args": list(args)})

    def find_all(self, css: str) -> list[Element]:
        found = self.command("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self, f[ELEMENT_KEY], css) for f in found]

    def wait(self, check: Callable[[], Any], what: str, timeout: float = 20.0, interval: float = 0.1) -> Any:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            try:
                result = check()
                if result:
                    return result
            except WebDriverError as error:
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

        return self.wait(check, f"element {css!r}", timeout)

    def find_text(self, css: str, text: str, timeout: float = 20.0) -> Element:
        """The first visible element matching `css` whose text contains `text`."""

        def check() -> Element | None:
            for element in self.find_all(css):
                if text in element.text:
                    return element
            return None

        return self.wait(check, f"{css!r} containing {text!r}", timeout)

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
            return Element(self, found[ELEMENT_KEY], label) if found else None

        return self.wait(check, f"button {label!r} in {within!r}", timeout)

    def alert_text(self) -> str:
        try:
            return (
                self.js("const a = document.getElementById('alert'); return a && !a.hidden ? a.textContent : '';") or ""
            )
        except WebDriverError:
            return ""

    def screenshot(self, name: str) -> Path:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{name}.png"
        path.write_bytes(base64.b64decode(self.command("GET", "/screenshot")))
        return path

    # ---- logs

    def network(self) -> list[dict]:
        """Every request the page has sent so far: {method, url, body_bytes} (DevTools performance log)."""
        entries = self.command("POST", "/se/log", {"type": "performance"})
        for entry in entries:
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
        entries = self.command("POST", "/se/log", {"type": "browser"})
        return [
            e["message"]
            for e in entries
            if e.get("level") == "SEVERE" and "Failed to load resource" not in e["message"]
        ]
