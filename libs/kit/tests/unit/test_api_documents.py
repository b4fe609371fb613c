"""What `service_app` documents matches what it answers: every error a `Problem` (checked against
the schema in the app's own OpenAPI, with real 401, 404 and 422 answers), readable operation ids,
and /docs and /redoc from assets the app serves itself."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, ClassVar

import httpx
import jsonschema_rs
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, Field

from docstore_kit.app import service_app
from docstore_kit.auth import require_account_id
from docstore_kit.errors import PROBLEM_JSON, NotFound, problem_responses
from docstore_kit.settings import ServiceSettings


class _Settings(ServiceSettings):
    service: ClassVar[str] = "kit-docs-test"


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=10)


class Gone(NotFound):
    problem = "note-not-found"
    title = "No such note"


router = APIRouter(prefix="/notes", tags=["notes"])


@router.get("/{note_id}")
async def get_note(note_id: int, account_id: Annotated[str, Depends(require_account_id)]) -> dict[str, Any]:
    raise Gone(f"no note {note_id}")


@router.post("", status_code=201, responses=problem_responses(409))
async def add_note(body: NoteIn, account_id: Annotated[str, Depends(require_account_id)]) -> dict[str, Any]:
    return {"text": body.text}


@router.get("")
async def public_notes() -> list[str]:
    return []


@pytest.fixture
def app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    app = service_app(title="Notes", settings=_Settings(), lifespan=lifespan, checks=lambda _: {})
    app.include_router(router)
    return app


async def call(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, **kwargs)


def identity(app: FastAPI) -> dict[str, str]:
    headers: dict[str, str] = app.state.internal_auth.headers(audience="kit-docs-test", subject="acc-1")
    return headers


async def declared_problem(app: FastAPI, path: str, method: str, status: int) -> dict[str, Any]:
    """The schema `status` is declared with on the operation, resolved against the document."""
    spec = (await call(app, "GET", "/openapi.json")).json()
    response = spec["paths"][path][method]["responses"][str(status)]
    assert list(response["content"]) == [PROBLEM_JSON], response
    schema = response["content"][PROBLEM_JSON]["schema"]
    assert schema == {"$ref": "#/components/schemas/Problem"}
    # The document's schemas as the validator's $defs, so the Problem schema's own $refs resolve.
    schemas = json.loads(json.dumps(spec["components"]["schemas"]).replace("#/components/schemas/", "#/$defs/"))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": "#/$defs/Problem", "$defs": schemas}


@pytest.mark.parametrize(
    ("method", "path", "spec_path", "kwargs", "status", "problem"),
    [
        ("get", "/notes/7", "/notes/{note_id}", {"auth": True}, 404, "note-not-found"),
        ("get", "/notes/seven", "/notes/{note_id}", {"auth": True}, 422, "invalid"),
        ("post", "/notes", "/notes", {"auth": True, "json": {"text": ""}}, 422, "invalid"),
        ("post", "/notes", "/notes", {"json": {"text": "hi"}}, 401, "unauthenticated"),
        ("get", "/notes/7", "/notes/{note_id}", {}, 401, "unauthenticated"),
    ],
)
async def test_real_error_answers_match_the_problem_schema_the_app_declares(
    app: FastAPI, method: str, path: str, spec_path: str, kwargs: dict[str, Any], status: int, problem: str
) -> None:
    headers = identity(app) if kwargs.pop("auth", False) else {}
    answer = await call(app, method.upper(), path, headers=headers, **kwargs)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    body = answer.json()
    assert body["type"] == f"urn:docstore:problem:{problem}" and body["status"] == status
    jsonschema_rs.validate(await declared_problem(app, spec_path, method, status), body)
    if status == 422:
        assert body["errors"] and all(set(issue) == {"loc", "msg", "type"} for issue in body["errors"])


async def test_the_problem_schema_refuses_what_is_not_a_problem(app: FastAPI) -> None:
    schema = await declared_problem(app, "/notes", "post", 422)
    # FastAPI's own 422 shape, which the spec used to declare: a list under `detail`, no type.
    fastapi_422 = {"detail": [{"loc": ["body", "text"], "msg": "too short", "type": "string_too_short"}]}
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.validate(schema, fastapi_422)


async def test_every_operation_declares_the_problems_it_can_answer(app: FastAPI) -> None:
    spec = (await call(app, "GET", "/openapi.json")).json()
    responses = {
        (method, path): set(operation["responses"])
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }
    assert responses[("get", "/notes/{note_id}")] >= {"401", "403", "404", "422"}
    assert responses[("post", "/notes")] >= {"401", "403", "409", "422"}
    assert "404" not in responses[("post", "/notes")]
    assert not responses[("get", "/notes")] & {"401", "403", "404", "422"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "HTTPValidationError" not in json.dumps(spec)


async def test_operation_ids_are_route_names_and_unique(app: FastAPI) -> None:
    spec = (await call(app, "GET", "/openapi.json")).json()
    ids = [operation["operationId"] for operations in spec["paths"].values() for operation in operations.values()]
    assert {"get_note", "add_note", "public_notes"} <= set(ids)
    assert len(ids) == len(set(ids))
    assert not [i for i in ids if re.search(r"_(get|post|put|patch|delete)$", i)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_doc_pages_reference_only_assets_the_app_serves(app: FastAPI, page: str) -> None:
    answer = await call(app, "GET", page)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    urls = re.findall(r'(?:src|href|spec-url)="([^"]+)"|url: \'([^\']+)\'', answer.text)
    urls = [a or b for a, b in urls]
    assert "/openapi.json" in urls and len(urls) >= 2, answer.text
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url} from elsewhere"
        asset = await call(app, "GET", url)
        assert asset.status_code == 200, url
    assert "cdn" not in answer.text.lower()


async def test_starlettes_own_refusals_are_problems_that_keep_their_headers(app: FastAPI) -> None:
    missing = await call(app, "GET", "/no-such-path")
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM_JSON)
    assert missing.json() == {
        "type": "urn:docstore:problem:not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
    }
    wrong_method = await call(app, "DELETE", "/notes")
    assert (wrong_method.status_code, wrong_method.json()["type"]) == (405, "urn:docstore:problem:method-not-allowed")
    assert "POST" in wrong_method.headers["allow"]  # Starlette's Allow header survives the handler
