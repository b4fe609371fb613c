"""The routes over the in-memory use cases: answers, status codes and the one error handler."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
from fastapi import FastAPI
from notify_fakes import World

from docstore_kit.auth import InternalAuth
from docstore_kit.errors import install_error_handlers
from docstore_notify.api.routes import router
from docstore_notify.settings import Settings


def app_over(world: World) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.internal_auth = InternalAuth.from_settings(Settings())
    app.state.services = SimpleNamespace(notifier=world.notifier, subscriptions=world.subscriptions)
    return app


async def test_a_foreign_cursor_is_a_422_problem_with_the_same_detail() -> None:
    app = app_over(World.build())
    headers = app.state.internal_auth.headers(audience="notify", subject="acc-1")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.get("/notifications", params={"cursor": "nope"}, headers=headers)
        assert answer.status_code == 422 and answer.json()["detail"] == "invalid cursor"
        page = await client.get("/notifications", headers=headers)
        assert page.status_code == 200 and page.json() == {"items": [], "next_cursor": None, "next": None}


async def test_preferences_change_only_the_kinds_given() -> None:
    app = app_over(World.build())
    headers = app.state.internal_auth.headers(audience="notify", subject="acc-1")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        chosen = await client.put("/notifications/preferences", json={"file_modified": "digest"}, headers=headers)
        assert chosen.json() == {
            "quota_warning": "instant",
            "quota_exceeded": "instant",
            "quota_restored": "instant",
            "upload_expired": "instant",
            "file_modified": "digest",
            "share_links": "instant",
            "security": "instant",
            "webhooks": "instant",
            "share_received": "instant",
        }
        refused = await client.put("/notifications/preferences", json={"file_modified": "never"}, headers=headers)
        assert refused.status_code == 422
