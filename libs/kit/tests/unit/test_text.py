"""`Text`: a lone surrogate is a 422 naming the field, whatever the field (issue 33, finding 3)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, Field

from docstore_kit.errors import install_error_handlers
from docstore_kit.text import Text, is_text


class Body(BaseModel):
    name: Text = Field(max_length=100)
    tags: list[Text] = Field(default_factory=list)
    note: Text | None = None


async def test_a_lone_surrogate_anywhere_is_a_422_and_real_text_passes() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def create(body: Body) -> dict[str, str]:
        return {"name": body.name}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for body in (
            '{"name": "\\ud800"}',
            '{"name": "a", "tags": ["ok", "\\udfff"]}',
            '{"name": "a", "note": "x\\ud83d"}',
        ):
            answer = await client.post("/things", content=body, headers={"content-type": "application/json"})
            assert answer.status_code == 422, (body, answer.text)
            assert answer.json()["errors"][0]["loc"][0] == "body"
            assert "surrogate" in answer.json()["detail"] or "unicode" in answer.json()["detail"]
        # A pair is a character (U+1F600), and so are the right-to-left scripts: all welcome.
        ok = await client.post(
            "/things",
            content='{"name": "\\ud83d\\ude00 \\u05e9\\u05dc\\u05d5\\u05dd"}',
            headers={"content-type": "application/json"},
        )
        assert ok.status_code == 200 and ok.json() == {"name": "\U0001f600 שלום"}
    assert is_text(list(Body.model_fields["name"].metadata))
