"""Swagger UI at `/docs` and ReDoc at `/redoc`, from assets this service serves itself.

FastAPI's default pages load their scripts from a CDN, so they are blank offline and need the CDN
in a Content-Security-Policy. The scripts, styles and favicon here are the ones the
`fastapi-offline` package ships; they are served below `/docs/assets/` by the same app, so a page
references only same-origin URLs.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
DOC_PAGES = frozenset({DOCS_PATH, REDOC_PATH})
"""The HTML pages; the gateway gives them their own Content-Security-Policy."""
ASSETS_PATH = f"{DOCS_PATH}/assets"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
OPENAPI_PATH = "/openapi.json"


def swagger_ui_html(title: str, openapi_url: str = OPENAPI_PATH) -> str:
    """The Swagger UI page: its script, style and icon from `ASSETS_PATH`, plus one inline script
    (the same bytes every time, so a policy can allow it by hash)."""
    return bytes(
        get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
        ).body
    ).decode()


def redoc_html(title: str, openapi_url: str = OPENAPI_PATH) -> str:
    """The ReDoc page: its script and icon from `ASSETS_PATH`, no web fonts, no inline script."""
    return bytes(
        get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        ).body
    ).decode()


def install_api_docs(app: FastAPI, *, title: str, openapi_url: str = OPENAPI_PATH) -> None:
    """`/docs`, `/redoc` and their assets; both pages read the document at `openapi_url`."""
    swagger_page, redoc_page = swagger_ui_html(title, openapi_url), redoc_html(title, openapi_url)
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="api-docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger_page)

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(redoc_page)
