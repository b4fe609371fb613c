"""The public page of a share link, `GET /s/{token}` and `POST /s/{token}`: no account, no script.

GET asks the links service what the link gives (`/internal/links/resolve`, counts nothing) and shows the
file's name, size and note with a download button (and a password field when the link is
protected). POST sends the form to `/internal/links/redeem`, which makes every check, counts the
download and answers a signed S3 URL that lives at most 60 s; the page answers 303 to it, so the
bytes come straight from S3. Refusals are plain pages with their status: 404 unknown, 410
expired / revoked / used up / document gone, 401 wrong password, 429 too many wrong passwords
(per link and client address, the gateway's throttle), 503 metadata away.

The token is a credential: it travels to metadata in request bodies only, never in a path or a
query; the gateway's log lines and span attributes have `/s/<token>` redacted
(`docstore_kit.observability`); the page sends no Referer (`Referrer-Policy: no-referrer`, set for
every answer by the edge) and is never cached.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from docstore_gateway.api.deps import ServicesDep
from docstore_gateway.api.routes import client_address
from docstore_gateway.domain.answers import LinkGone, LinkMissing, LinkRedeemed, LinkRefused, LinkShown
from docstore_gateway.domain.errors import UpstreamUnavailable
from docstore_gateway.service_layer.share_links import TOKEN, PasswordAgain, TryAgainLater
from docstore_kit.sizes import size_text

router = APIRouter(include_in_schema=False)
__all__ = ["STYLE", "STYLE_HASH", "TOKEN", "download_page", "refusal", "router"]

PAGE_PREFIX = "/s/"
MAX_FORM_BYTES = 4096
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#1b1b1b}"
    "main{border:1px solid #ccd;border-radius:.5rem;padding:1.5rem}"
    "h1{font-size:1.3rem;word-break:break-word}"
    ".meta{color:#555}.note{white-space:pre-wrap;background:#f4f4f8;padding:.75rem;border-radius:.25rem}"
    ".error{color:#a00;font-weight:600}"
    ".preview{display:block;max-width:100%;height:auto;margin:.5rem 0;border-radius:.25rem;background:#f4f4f8}"
    "label{display:block;margin:.75rem 0 .25rem}input{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}"
    "button{margin-top:1rem;font-size:1rem;padding:.5rem 1.25rem;background:#1f5fbf;color:#fff;border:0;"
    "border-radius:.25rem;cursor:pointer}"
)
STYLE_HASH = "'sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode() + "'"
"""The CSP source that allows exactly this inline style (`api/edge.py` uses it for `/s/` pages)."""


def _page(title: str, body: str, status: int, headers: dict[str, str] | None = None) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)} · DocStore</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers={**NO_STORE, **(headers or {})})


def refusal(status: int, title: str, message: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A plain page saying why the link gives nothing."""
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>", status, headers)


NOT_FOUND = (404, "Link not found", "This link does not exist. Check that it was copied whole.")
UNAVAILABLE = (503, "Try again in a moment", "DocStore could not look this link up just now. Please try again.")


def download_page(link: dict[str, Any], *, error: str | None = None, status: int = 200) -> HTMLResponse:
    """The link's page: name, size, note, download button, a password field when protected."""
    parts = [f"<h1>{escape(str(link['name']))}</h1>"]
    parts.append(f'<p class="meta">{escape(size_text(int(link["size"])))} · shared with you through DocStore</p>')
    if link.get("preview_url") and not link.get("protected"):
        # The small preview, straight from S3 (metadata signed it for a couple of minutes; the CSP's
        # img-src names the S3 origins). Alt text: the file's name.
        parts.append(
            f'<img class="preview" src="{escape(str(link["preview_url"]))}" alt="{escape(str(link["name"]))}">'
        )
    if link.get("note"):
        parts.append(f'<p class="note">{escape(str(link["note"]))}</p>')
    if error:
        parts.append(f'<p class="error" role="alert">{escape(error)}</p>')
    # No action: the form posts to this page's own URL, so the token appears nowhere in the markup.
    form = ['<form method="post">']
    if link.get("protected"):
        form.append(
            '<label for="password">This link is protected. Password</label>'
            '<input id="password" name="password" type="password" autocomplete="off" required autofocus>'
        )
    form.append('<button type="submit">Download</button></form>')
    parts.append("".join(form))
    return _page(str(link["name"]), "".join(parts), status)


def _refusal_page(answer: LinkMissing | LinkGone | LinkRefused) -> HTMLResponse:
    match answer:
        case LinkGone(reason=reason):
            return refusal(410, "This link no longer works", reason or "This link no longer works.")
        case LinkRefused(reason=reason):
            return refusal(400, "Could not download", reason or "This download could not be started.")
        case _:
            return refusal(*NOT_FOUND)


@router.get("/s/{token}", response_class=HTMLResponse)
async def share_page(token: str, services: ServicesDep) -> Response:
    try:
        answer = await services.share_links.show(token)
    except UpstreamUnavailable:
        return refusal(*UNAVAILABLE)
    if isinstance(answer, LinkShown):
        return download_page(answer.link)
    return _refusal_page(answer)


@router.post("/s/{token}", response_class=HTMLResponse)
async def share_download(token: str, request: Request, services: ServicesDep) -> Response:
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return refusal(413, "Too much", "That form was too large.")
    form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=8)
    password = (form.get("password") or [""])[0] or None
    try:
        outcome = await services.share_links.download(token, password, address=client_address(request))
    except UpstreamUnavailable:
        return refusal(*UNAVAILABLE)
    match outcome:
        case LinkRedeemed(url=url):
            return RedirectResponse(url, status_code=303, headers=NO_STORE)
        case TryAgainLater(wait=wait):
            return refusal(
                429,
                "Too many tries",
                f"Too many wrong passwords for this link. Try again in {wait} seconds.",
                {"Retry-After": str(wait)},
            )
        case PasswordAgain(link=shown, reason=reason):
            return download_page(shown.link, error=reason or "That password is not right.", status=401)
        case LinkMissing() | LinkGone() | LinkRefused():
            return _refusal_page(outcome)
    return refusal(*NOT_FOUND)
