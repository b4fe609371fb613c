"""Path parameters with control characters are a clear 422, never a 500 (no servers needed:
validation answers before any repository is touched)."""

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from docstore_metadata.api.schemas import safe_id
from docstore_metadata.main import create_app
from docstore_metadata.settings import Settings


class Untouchable:
    """Stands in for the app's services: calling anything means validation let the request through."""

    def __getattr__(self, name: str) -> "Untouchable":
        return Untouchable()

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the route ran: the path should have been refused first")


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings())
    app.state.services = Untouchable()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://metadata") as http:
        http.app = app  # type: ignore[attr-defined]  # the fixture keeps the app on its client
        yield http


def as_user(http: httpx.AsyncClient) -> dict[str, str]:
    return http.app.state.internal_auth.headers(audience="metadata", subject="acc-1")  # type: ignore[attr-defined]  # the fixture keeps the app on its client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/documents/%0B"),
        ("GET", "/documents/X%1C"),
        ("GET", "/documents/%00abc/versions"),
        ("PATCH", "/documents/a%7Fb"),
        ("DELETE", "/documents/a%C2%85b"),  # U+0085, a C1 control (NEL)
        ("POST", "/documents/a%0Ab/restore"),
        ("GET", "/documents/a%0Db/download"),
        ("POST", "/documents/d1/versions/0/restore"),
    ],
)
async def test_control_characters_in_a_path_are_a_422(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path, headers=as_user(client), json={})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "document_id: " in detail or "version: " in detail, detail
    assert "\x0b" not in response.text and "\x1c" not in response.text


async def test_internal_route_refuses_a_control_character_in_the_account_id(client: httpx.AsyncClient) -> None:
    headers = client.app.state.internal_auth.headers(  # type: ignore[attr-defined]  # the fixture keeps the app on its client
        audience="metadata", subject="upload", role="service"
    )
    response = await client.get("/internal/accounts/a%1Fb/documents/d1", headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"] == "path.account_id: Value error, must not contain control characters or slashes"


async def test_a_long_id_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/documents/" + "a" * 201, headers=as_user(client))
    assert response.status_code == 422


def test_ordinary_ids_pass() -> None:
    for value in ["0190f3c2-7a1b-7c3d-8e4f-0123456789ab", "doc-1", "ünïcode name"]:
        assert safe_id(value) == value
    for value in ["a\x00", "\x1b[31m", "a\u0085", "a\\b"]:
        with pytest.raises(ValueError):
            safe_id(value)
