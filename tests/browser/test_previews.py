"""Previews in the web app: the Grid view (thumbnails; the choice remembered per account), the
preview pane in a document's details (the large image), a typed icon for a type without a
preview, a placeholder while one is being made; images straight from S3, alt text = file name,
keyboard, axe clean; screenshots of the grid and the pane at desktop and phone sizes.

The indexer's outcome is stood in for here: the test stores both sizes in S3 under the version's
derived prefix and publishes `document.preview-ready` (and `document.preview-failed`
"unsupported type" for the archive) into the system's topics exactly as the indexer does, so the
page is tested on its own, whatever the renderer does at the same time (its own outcome for these
files is the same kind, so sizes are checked as ranges). The renderer end to end is
`tests/e2e/test_previews.py`'s.
"""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from selenium.webdriver.common.keys import Keys

from docstore_devplatform.testing import EventPublisher
from docstore_events.previews import DocumentPreviewFailed, DocumentPreviewReady, PreviewImage

from .conftest import PREFIX, WebSystem
from .test_quality import AXE, axe_violations
from .test_web_app import account_id, document_row, pick_files, sign_up, wait_uploaded, write_file
from .webdriver import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SIZES = ((1366, 900), (390, 844))


def picture(side: int, width: int | None = None) -> bytes:
    """A PNG with a gradient and a dark square: not blank, easy to see in a screenshot."""
    from PIL import Image, ImageDraw

    width = width or side
    height = side * 3 // 4
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for x in range(width):
        draw.line([(x, 0), (x, height)], fill=(40 + 180 * x // width, 120, 220 - 150 * x // width))
    draw.rectangle([width // 4, height // 4, width // 2, height // 2], fill=(20, 30, 60))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def stand_in_for_the_indexer(
    web_system: WebSystem, s3, endpoints, account: str, document_id: str, *, failed: str | None = None
) -> None:
    """What the indexer's renderer does for version 1 of `document_id`: both sizes in S3 and
    `document.preview-ready`, or `document.preview-failed` with `failed` as the reason."""
    if failed:
        event = DocumentPreviewFailed(account_id=account, document_id=document_id, version=1, reason=failed)
    else:
        images = {}
        for size, side in (("small", 256), ("large", 1024)):
            key = f"previews/us-west-2/{account}/{document_id}/v1/{size}.jpg"
            from PIL import Image

            out = io.BytesIO()
            Image.open(io.BytesIO(picture(side))).save(out, "JPEG", quality=85)
            s3.put_object(Bucket=web_system.bucket, Key=key, Body=out.getvalue(), ContentType="image/jpeg")
            images[size] = PreviewImage(
                key=key, width=side, height=side * 3 // 4, content_type="image/jpeg", size=len(out.getvalue())
            )
        event = DocumentPreviewReady(
            account_id=account, document_id=document_id, version=1, small=images["small"], large=images["large"]
        )

    async def publish() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await EventPublisher(producer, PREFIX, source="/docstore/indexer").send(event)
        finally:
            await producer.stop()

    asyncio.run(publish())


def preview_state(browser: Browser, document_id: str) -> str | None:
    return browser.js_async(
        """const done = arguments[arguments.length - 1];
        fetch('/v1/documents/' + arguments[0], {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('docstore.token')}})
          .then((r) => r.json()).then((b) => done(b.preview ? b.preview.state : null), () => done(null));""",
        document_id,
    )


def loaded_image(browser: Browser, css: str, what: str):
    """The `img` at `css` once the browser decoded it (not blank: it has pixels)."""

    def decoded():
        found = browser.find_all(css)
        ok = found and browser.js("return arguments[0].complete && arguments[0].naturalWidth > 0", found[0].web_element)
        return found[0] if ok else None

    return browser.wait(decoded, what, timeout=60, interval=0.5)


def test_grid_thumbnails_the_preview_pane_and_typed_icons(
    web_system: WebSystem, browser: Browser, s3, endpoints, tmp_path: Path
) -> None:
    base = web_system.gateway
    sign_up(browser, base)
    account = account_id(browser)
    pick_files(
        browser,
        "#file-picker",
        write_file(tmp_path, "photo.png", picture(600, 800)),
        write_file(tmp_path, "bundle.zip", _zip()),
    )
    wait_uploaded(browser, "photo.png")
    wait_uploaded(browser, "bundle.zip")
    photo = document_row(browser, "photo.png").attribute("data-document-id")
    bundle = document_row(browser, "bundle.zip").attribute("data-document-id")
    assert photo and bundle

    stand_in_for_the_indexer(web_system, s3, endpoints, account, photo)
    stand_in_for_the_indexer(web_system, s3, endpoints, account, bundle, failed="unsupported type")
    browser.wait(
        lambda: preview_state(browser, photo) == "ready", "photo.png's preview to be ready", timeout=90, interval=1
    )
    browser.wait(
        lambda: preview_state(browser, bundle) == "failed", "bundle.zip to have no preview", timeout=90, interval=1
    )

    # The list is the default; Grid shows thumbnails, and the choice outlives a reload.
    assert browser.find("button[data-view=list]").attribute("aria-pressed") == "true"
    browser.find("button[data-view=grid]").click()
    browser.find("ul.doc-grid")
    browser.reload()
    browser.find("ul.doc-grid", timeout=30)
    assert browser.find("button[data-view=grid]").attribute("aria-pressed") == "true"
    assert not browser.find_all("table.documents")

    card = f"li.doc-card[data-document-id='{photo}']"
    thumb = loaded_image(browser, f"{card} img.preview-image", "photo.png's thumbnail")
    assert thumb.attribute("alt") == "photo.png"
    assert thumb.attribute("loading") == "lazy"
    small_width = browser.js("return arguments[0].naturalWidth", thumb.web_element)
    assert 0 < small_width <= 256  # the small size (the renderer's own, if it answered first)
    src = urlparse(thumb.attribute("src"))
    assert src.netloc != urlparse(base).netloc and "X-Amz-Signature" in src.query  # straight from S3, signed
    with httpx.Client() as plain:  # the signed URL is a real, short-lived GET of the image
        got = plain.get(thumb.attribute("src"))
    assert got.status_code == 200 and got.headers["content-type"] in ("image/jpeg", "image/webp")

    icon = browser.find(f"li.doc-card[data-document-id='{bundle}'] svg.type-icon")
    assert icon.attribute("data-family") == "archive"
    assert "bundle.zip" in (icon.attribute("aria-label") or "")
    assert not browser.find_all(f"li.doc-card[data-document-id='{bundle}'] img")

    # A version still being made shows the placeholder (the component the grid and pane use).
    placeholder = browser.js_async(
        """const done = arguments[arguments.length - 1];
        import('/js/views/previews.js').then((m) => {
          const frame = m.previewFrame({document_id: 'x', version: 1, name: 'later.png', content_type: 'image/png',
                                        preview: {state: 'pending', reason: null}}, 'small');
          done([frame.dataset.previewState, frame.querySelector('[role=img]').getAttribute('aria-label')]);
        }, (e) => done(String(e)));"""
    )
    assert placeholder == ["pending", "Preview being made"]

    if AXE.is_file():
        assert axe_violations(browser) == [], "axe: the grid"
    for width, height in SIZES:
        browser.resize(width, height)
        loaded_image(browser, f"{card} img.preview-image", "the thumbnail at this size")
        browser.screenshot(f"previews-grid-{width}x{height}")
        assert browser.js("return document.documentElement.scrollWidth <= window.innerWidth + 1"), "sideways scroll"

        # The pane: the card opens from the keyboard, the large image shows in the details.
        browser.find(f"{card} button.card-open").web_element.send_keys(Keys.ENTER)
        large = loaded_image(browser, "dialog .preview-pane img.preview-image", "the large preview in the pane")
        assert large.attribute("alt") == "photo.png"
        # The large size: about 1024 px on the longer side, never above the original's 800.
        assert small_width < browser.js("return arguments[0].naturalWidth", large.web_element) <= 1024
        if AXE.is_file():
            assert axe_violations(browser) == [], "axe: the preview pane"
        browser.screenshot(f"previews-pane-{width}x{height}")
        browser.keys(Keys.ESCAPE)
        browser.wait(lambda: not browser.find_all("dialog[open]"), "the details to close", timeout=10)

    # The archive's details show its typed icon, not an image.
    browser.find(f"li.doc-card[data-document-id='{bundle}'] button.card-open").click()
    browser.find("dialog .preview-pane svg.type-icon[data-family=archive]")
    browser.keys(Keys.ESCAPE)
    assert [e for e in browser.console_errors() if "preview" in e.lower()] == []

    # Back to the list: remembered too (per account).
    browser.find("button[data-view=list]").click()
    browser.find("table.documents")
    assert browser.js("return JSON.parse(localStorage.getItem('docstore.filesView'))[arguments[0]]", account) == "list"


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", f"nothing to see {uuid.uuid4().hex}")
    return out.getvalue()
