"""The web app in a real headless Chromium, against the whole system.

Screenshots of the main pages go to test-artifacts/screenshots/ (desktop and phone width).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import ADMIN_USERNAME, FREE_CAP_BYTES, PART_BYTES, PASSWORD, WebSystem, api_sign_up, verify_by_mail
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PHONE = (390, 844)
DESKTOP = (1280, 900)
SECRET_WORD = "marmalade"
NOTES = (
    "Minutes of the garden committee.\n"
    f"The {SECRET_WORD} budget was approved after a long discussion about jars.\n"
    "Next meeting: Thursday.\n"
).encode()


# ---------------------------------------------------------------- helpers


def write_file(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def big_bytes(size: int) -> bytes:
    """Deterministic, incompressible-looking bytes."""
    block = hashlib.sha256(b"docstore").digest() * 2048  # 64 KiB
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(counter.to_bytes(8, "big")).digest() + block[: 65536 - 32]
        counter += 1
    return bytes(out[:size])


def sign_up(browser: Browser, base: str, plan: str = "free", username: str | None = None) -> str:
    username = username or f"web-{uuid.uuid4().hex[:10]}"
    browser.open(f"{base}/#/signup")
    browser.find("#signup-title")
    browser.find("input[name=username]").fill(username)
    browser.find("input[name=email]").fill(f"{username}@example.com")
    browser.find("input[name=password]").fill(PASSWORD)
    if plan == "premium":
        browser.find("#plan-premium").click()
    browser.button("Create account").click()
    browser.find_text("#who-name", username)
    browser.find("h1")
    verify_by_mail(base, f"{username}@example.com")  # sharing needs a verified address (issue 20)
    if plan == "premium":
        # Quota learns the plan from account.created; until then it judges uploads on Free's cap.
        browser.wait(
            lambda: quota_plan(browser) == "premium", "quota to know the Premium plan", timeout=60, interval=0.5
        )
    return username


def quota_plan(browser: Browser) -> str | None:
    """The plan quota applies to the signed-in account (GET /v1/usage, with the page's token)."""
    return browser.js_async(
        """const done = arguments[arguments.length - 1];
        fetch('/v1/usage', {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('docstore.token')}})
          .then((r) => r.json()).then((b) => done(b.plan || null), () => done(null));"""
    )


def account_id(browser: Browser) -> str:
    return browser.js("return JSON.parse(sessionStorage.getItem('docstore.account')).account_id")


def go(browser: Browser, route: str) -> None:
    browser.js("location.hash = arguments[0]", route)


def document_row(browser: Browser, name: str, timeout: float = 30.0):
    return browser.find_text("table.documents tbody tr", name, timeout=timeout)


def pick_files(browser: Browser, css: str, *paths: Path) -> None:
    """Choose files in a file input, as a person does in the picker."""

    def pick() -> bool:
        browser.find(css, visible=False).type("\n".join(str(p) for p in paths))
        return True

    browser.wait(pick, f"choosing files in {css}", timeout=10)  # again if the input was just redrawn


def wait_uploaded(browser: Browser, name: str, timeout: float = 60.0, state: str = "Uploaded") -> None:
    """Wait until the upload row of `name` shows `state`; a failed row, or a timeout, says what the rows showed."""
    seen: list[str] = []

    def done() -> bool:
        seen[:] = [row.text for row in browser.find_all("#upload-list li.upload")]
        for text in seen:
            if name in text and "Failed" in text:
                raise AssertionError(f"upload of {name} failed: {text}")
            if name in text and state in text:
                return True
        return False

    try:
        browser.wait(done, f"upload of {name} to show {state!r}", timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}; upload rows: {seen}; console errors: {browser.console_errors()}") from None


def objects_of(s3, bucket: str, account: str) -> list[dict]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"us-west-2/{account}/")
    return listed.get("Contents", [])


def assert_bytes_bypassed_docstore(browser: Browser, system: WebSystem, s3_origin: str) -> list[dict]:
    """Every request to a DocStore service carried at most a small JSON body; file bytes went to S3."""
    gateway = system.gateway
    requests = browser.network()
    for request in requests:
        if request["url"].startswith(gateway):
            assert request["body_bytes"] < 10_000, request
            if request["has_body"]:
                assert request["body_bytes"] > 0, f"a body the page could not show as JSON: {request}"
        else:
            assert request["url"].startswith((s3_origin, "data:", "blob:", "chrome:", "about:")), (
                f"unexpected request {request}"
            )
    for name, url in system.urls.items():
        if name != "gateway":
            assert not any(r["url"].startswith(url) for r in requests), f"the page called {name} directly"
    return [r for r in requests if r["url"].startswith(s3_origin)]


def search(browser: Browser, text: str) -> None:
    box = browser.find("input[name=q]")
    box.fill(text)
    browser.button("Search", within="form.search-form").click()


# ---------------------------------------------------------------- tests


def test_premium_user_uploads_finds_downloads_deletes_and_restores(
    web_system: WebSystem, browser: Browser, s3, endpoints, tmp_path: Path
) -> None:
    base = web_system.gateway
    s3_origin = "{0.scheme}://{0.netloc}".format(urlsplit(endpoints.s3_endpoint))

    browser.open(f"{base}/#/signup")
    browser.find("#signup-title")
    browser.screenshot("01-signup")
    friend = f"friend-{uuid.uuid4().hex[:8]}"
    api_sign_up(base, friend)
    username = sign_up(browser, base, plan="premium")
    account = account_id(browser)
    browser.find_text("#main", "This folder is empty")
    browser.screenshot("02-files-empty")

    # A small file through the signed POST form, chosen in the file picker.
    notes = write_file(tmp_path, "meeting-notes.txt", NOTES)
    pick_files(browser, "#file-picker", notes)
    wait_uploaded(browser, "meeting-notes.txt")
    document_row(browser, "meeting-notes.txt")
    stored = {o["Size"]: o for o in objects_of(s3, web_system.bucket, account)}
    assert len(NOTES) in stored, f"the small file is not in S3: {stored}"
    body = s3.get_object(Bucket=web_system.bucket, Key=stored[len(NOTES)]["Key"])["Body"].read()
    assert body == NOTES
    form_posts = [r for r in assert_bytes_bypassed_docstore(browser, web_system, s3_origin) if r["method"] == "POST"]
    assert len(form_posts) == 1, form_posts

    # A large file through multipart: the page's threshold is set low by a query parameter.
    browser.open(f"{base}/?multipart_threshold=1000000#/files")
    browser.find_text("#who-name", username)
    big = write_file(tmp_path, "site-backup.zip", big_bytes(2 * PART_BYTES + 1_234_567))
    pick_files(browser, "#file-picker", big)
    browser.find("#upload-list progress")
    wait_uploaded(browser, "site-backup.zip", timeout=90)
    document_row(browser, "site-backup.zip")
    browser.screenshot("03-files-after-uploads")
    objects = {o["Size"]: o for o in objects_of(s3, web_system.bucket, account)}
    assert big.stat().st_size in objects, f"the large file is not in S3: {objects}"
    assert objects[big.stat().st_size]["ETag"].strip('"').endswith("-3"), "expected a three-part multipart object"
    head = s3.get_object(Bucket=web_system.bucket, Key=objects[big.stat().st_size]["Key"])["Body"].read()
    assert hashlib.sha256(head).hexdigest() == hashlib.sha256(big.read_bytes()).hexdigest()
    puts = [r for r in assert_bytes_bypassed_docstore(browser, web_system, s3_origin) if r["method"] == "PUT"]
    assert len(puts) == 3, puts
    assert all("partNumber=" in r["url"] for r in puts)

    # Details: version history, rename, tags.
    document_row(browser, "meeting-notes.txt").find("button.doc-open").click()
    dialog = browser.find("dialog[open]")
    browser.find_text("dialog[open] .version-table tbody tr", "v1")
    tags = dialog.find_all(".edit input")[1]
    tags.fill("garden, minutes")
    browser.button("Save tags", within="dialog[open]").click()
    browser.find_text("dialog[open] .facts", "garden")
    browser.find("dialog[open] input[name=share-username]").fill(friend)
    browser.button("Share", within="dialog[open]").click()
    browser.find_text("dialog[open] .share-list", friend)
    browser.button("Follow changes", within="dialog[open]").click()
    browser.find_text("dialog[open] button[aria-pressed=true]", "Following")
    browser.screenshot("04-document-details")
    browser.button("Close", within="dialog[open]").click()
    browser.find_text("table.documents tbody tr", "minutes")

    # Find it by name, then (Premium) by a word inside it, with the word highlighted.
    go(browser, "#/search")
    search(browser, "meeting")
    browser.find_text("section.results .hit", "meeting-notes.txt")

    def found_inside() -> bool:
        search(browser, SECRET_WORD)
        try:
            mark = browser.find("section.results .snippet mark", timeout=3)
        except AssertionError:
            return False
        return mark.text.lower() == SECRET_WORD

    browser.wait(found_inside, "the full-text hit", timeout=60, interval=1)
    snippet = browser.find("section.results .snippet")
    assert "budget was approved" in snippet.text
    assert browser.js("return document.querySelectorAll('section.results .snippet *:not(mark)').length") == 0
    browser.screenshot("05-search-premium")

    # Download it (the signed S3 link; the bytes come from S3).
    browser.button("Download meeting-notes.txt", within="section.results").click()
    assert browser.downloaded("meeting-notes*.txt").read_bytes() == NOTES

    # Delete to the trash, see it there, restore it.
    go(browser, "#/files")
    browser.button("Delete meeting-notes.txt").click()
    browser.wait(
        lambda: not any("meeting-notes.txt" in r.text for r in browser.find_all("table.documents tbody tr")),
        "the row to leave the list",
    )
    go(browser, "#/trash")
    browser.find_text("table.documents tbody tr", "meeting-notes.txt")
    browser.screenshot("06-trash")
    browser.button("Restore meeting-notes.txt").click()
    browser.find_text("#main", "The trash is empty")
    go(browser, "#/files")
    document_row(browser, "meeting-notes.txt")

    # Usage and settings.
    go(browser, "#/usage")
    bar = browser.find(".usage[data-level]")
    assert bar.attribute("data-level") == "ok"
    browser.screenshot("07-usage-premium")
    go(browser, "#/settings")
    browser.find("#pref-quota_warning")
    pref = browser.find("#pref-file_modified")
    browser.js("arguments[0].value = 'digest'", pref)
    browser.button("Save preferences").click()
    browser.find_text("#status", "saved")
    browser.screenshot("08-settings")

    # Phone width: the list becomes cards, the navigation wraps.
    browser.resize(*PHONE)
    go(browser, "#/files")
    document_row(browser, "site-backup.zip")
    browser.screenshot("09-files-phone")
    assert browser.js("return document.documentElement.scrollWidth <= window.innerWidth + 1"), (
        "the page scrolls sideways"
    )
    assert not browser.console_errors()

    # Log out; the friend logs in and finds the shared document.
    browser.resize(*DESKTOP)
    browser.button("Log out").click()
    browser.find("#login-title")
    assert browser.js("return sessionStorage.getItem('docstore.token')") is None
    browser.find("input[name=username]").fill(friend)
    browser.find("input[name=password]").fill("wrong password")
    browser.button("Log in").click()
    assert "wrong username or password" in browser.wait(browser.alert_text, "the login error").lower()
    browser.find("input[name=password]").fill(PASSWORD)
    browser.button("Log in").click()
    browser.find_text("#who-name", friend)
    go(browser, "#/shared")
    browser.find_text("table.documents tbody tr", "meeting-notes.txt")
    browser.screenshot("09b-shared-with-me")


def test_large_upload_resumes_after_a_reload(
    web_system: WebSystem, browser: Browser, s3, endpoints, tmp_path: Path
) -> None:
    base = web_system.gateway
    s3_origin = "{0.scheme}://{0.netloc}".format(urlsplit(endpoints.s3_endpoint))
    sign_up(browser, base, plan="premium")
    account = account_id(browser)
    data = big_bytes(3 * PART_BYTES + 4321)
    big = write_file(tmp_path, "holiday-video.mp4", data)

    # The tab "closes" after one part: the test knob stops the upload there.
    browser.open(f"{base}/?multipart_threshold=1000000&test_stop_after_parts=1#/files")
    browser.find("#file-picker", visible=False)
    pick_files(browser, "#file-picker", big)
    wait_uploaded(browser, "holiday-video.mp4", state="Paused", timeout=60)
    pending = json.loads(browser.js("return localStorage.getItem('docstore.pendingUploads')"))
    assert [p["name"] for p in pending] == ["holiday-video.mp4"]
    first_puts = [r for r in assert_bytes_bypassed_docstore(browser, web_system, s3_origin) if r["method"] == "PUT"]
    assert len(first_puts) == 1

    # After a reload the page lists the unfinished upload; picking the file again sends the rest.
    browser.open(f"{base}/#/files")
    browser.find_text("#upload-pending li", "holiday-video.mp4")
    browser.find_text("#who-name", "Premium")  # the page has settled (the list is drawn again then)
    browser.screenshot("10-upload-resume")
    pick_files(browser, f"#resume-{pending[0]['upload_id']}", big)
    wait_uploaded(browser, "holiday-video.mp4", timeout=90)
    document_row(browser, "holiday-video.mp4")
    puts = [r for r in assert_bytes_bypassed_docstore(browser, web_system, s3_origin) if r["method"] == "PUT"]
    assert len(puts) == 4, f"expected 1 part before the reload and 3 after: {puts}"
    assert browser.js("return localStorage.getItem('docstore.pendingUploads')") == "[]"
    objects = [o for o in objects_of(s3, web_system.bucket, account) if o["Size"] == len(data)]
    assert objects, "the resumed file is not in S3"
    stored = s3.get_object(Bucket=web_system.bucket, Key=objects[0]["Key"])["Body"].read()
    assert stored == data


def test_free_user_sees_usage_warning_and_upgrade_hint(web_system: WebSystem, browser: Browser, tmp_path: Path) -> None:
    base = web_system.gateway
    browser.resize(*PHONE)
    sign_up(browser, base, plan="free")
    browser.screenshot("11-files-empty-phone")
    # 85 % of the (test) Free cap: the usage bar shows the warning state.
    report = write_file(tmp_path, "annual-report.pdf", b"%PDF-1.4\n" + b"0" * (int(FREE_CAP_BYTES * 0.85) - 9))
    pick_files(browser, "#file-picker", report)
    wait_uploaded(browser, "annual-report.pdf")

    go(browser, "#/usage")

    def level() -> str | None:
        browser.reload()  # usage follows the upload through an event: look again until it shows
        return browser.find(".usage[data-level]").attribute("data-level")

    browser.wait(lambda: level() == "warning", "the warning state", timeout=30, interval=0.5)
    browser.find_text(".usage-message", "80 %")
    # The plans' prices (GET /v1/plans; the accounts service's placeholder setting, 4.99 EUR).
    assert "4.99 a month" in browser.find_text(".plan-price", "Your plan: Free, free of charge.").text
    browser.screenshot("12-usage-warning-phone")

    go(browser, "#/search?q=report")
    browser.find_text("section.results .hit", "annual-report.pdf")
    hint = browser.find(".upgrade")
    assert "Premium" in hint.text and "Free" in hint.text
    browser.screenshot("13-search-free-upgrade-hint-phone")
    # Upgrading names the price and asks first (issue 37); Cancel changes nothing.
    browser.button("Upgrade to Premium", within=".upgrade").click()
    asked = browser.find_text("dialog[open]", "Premium costs")
    assert "4.99 a month" in asked.text, asked.text
    browser.button("Cancel", within="dialog[open]").click()
    browser.wait(lambda: not browser.find_all("dialog[open]"), "the dialog closed")
    assert browser.find(".upgrade").text and browser.js("return window.location.hash").startswith("#/search")


def test_admin_sees_the_totals(web_system: WebSystem, browser: Browser) -> None:
    """An account named in ACCOUNTS_ADMIN_USERNAMES logs in as an administrator."""
    base = web_system.gateway
    api_sign_up(base, f"plain-{uuid.uuid4().hex[:8]}", plan="premium")
    sign_up(browser, base, plan="free", username=ADMIN_USERNAME)
    go(browser, "#/admin")
    check_dashboard(browser)
    browser.screenshot("14-admin")
    browser.resize(*PHONE)
    browser.find_text("h1", "Admin dashboard")
    browser.screenshot("15-admin-phone")
    assert browser.js("return document.documentElement.scrollWidth <= window.innerWidth + 1"), (
        "the page scrolls sideways"
    )


def check_dashboard(browser: Browser) -> None:
    browser.find_text("h1", "Admin dashboard")
    assert len(browser.find_all(".charts svg")) == 3
    rows = {r.attribute("data-plan"): r.text for r in browser.find_all(".totals-table tbody tr")}
    assert {"free", "premium", "all"} <= set(rows), rows
    accounts = int(browser.find_all(".stats .stat")[0].text)
    assert accounts >= 2
    browser.find_text("section[aria-labelledby=dlq-title]", "ead letter")  # a list, or "No dead letters"
