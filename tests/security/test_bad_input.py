"""Bad input is a 4xx that says what is wrong, never a 5xx (issue 33, findings 3, 4 and 10).

On main: a lone surrogate in `tags` gave 500 on PATCH /v1/documents/{id} and POST /v1/uploads
(PyMongo's UnicodeEncodeError) and 503 in a grant's `path`; `size` above 10**18 gave 503
"quota-unavailable"; integers of 2**63 gave 500 (link `version` and `download_limit`, the
download's `version`, a /v1/changes cursor's `seq`); `"\\u202etxt.exe"` was a valid name and
folders accepted '\\'."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from docstore_devplatform.e2e import System, upload
from docstore_devplatform.testing import eventually

from .conftest import new_user

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LONE = "\\ud800"
"""A lone UTF-16 surrogate as JSON writes it: valid JSON, no valid Unicode."""


def raw(body: str) -> bytes:
    """`body` as written (an encoder would refuse the surrogate)."""
    return body.encode("ascii")


def cursor(position: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


async def test_no_odd_string_or_number_gets_a_server_error(system: System) -> None:
    user = await new_user(system.gateway)
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as api:
        document_id = (await upload(api, user, "plain.txt", b"plain"))["document_id"]

        async def visible() -> bool:
            return (await api.get(f"/v1/documents/{document_id}", headers=user.auth)).status_code == 200

        await eventually(visible)
        auth = user.auth
        grant = '{"filename": "a.txt", "size": 3, "content_type": "text/plain", %s}'
        cases = [
            ("PATCH", f"/v1/documents/{document_id}", raw(f'{{"tags": ["{LONE}"]}}')),
            ("PATCH", f"/v1/documents/{document_id}", raw(f'{{"name": "x{LONE}.txt"}}')),
            ("PATCH", f"/v1/documents/{document_id}", raw(f'{{"path": "/a{LONE}"}}')),
            ("POST", "/v1/uploads", raw(grant % f'"tags": ["{LONE}"]')),
            ("POST", "/v1/uploads", raw(grant % f'"path": "/{LONE}"')),
            ("POST", "/v1/uploads", raw(grant.replace('"a.txt"', f'"a{LONE}.txt"') % '"title": "t"')),
            ("POST", f"/v1/documents/{document_id}/links", raw(f'{{"note": "{LONE}"}}')),
            ("POST", "/v1/accounts", raw(f'{{"username": "u{LONE}", "email": "e@example.com", "password": "x"}}')),
            ("POST", "/v1/uploads", raw(grant.replace('"size": 3', f'"size": {10**19}') % '"title": "t"')),
            ("POST", "/v1/uploads", raw(grant.replace('"size": 3', f'"size": {10**18 + 1}') % '"title": "t"')),
            ("POST", f"/v1/documents/{document_id}/links", raw(f'{{"version": {2**63}}}')),
            ("POST", f"/v1/documents/{document_id}/links", raw(f'{{"download_limit": {2**63}}}')),
            ("GET", f"/v1/documents/{document_id}/download?version={2**63}", None),
            ("GET", f"/v1/changes?cursor={cursor({'seq': 2**63})}", None),
            ("GET", f"/v1/documents?cursor={cursor({'k': chr(0xD800)})}", None),
        ]
        answers = []
        for method, path, body in cases:
            headers = {**auth, "content-type": "application/json"} if body is not None else auth
            answer = await api.request(method, path, content=body, headers=headers)
            answers.append((method, path[:60], answer.status_code, answer.text[:200]))
        wrong = [a for a in answers if a[2] != 422]
        assert not wrong, "expected 422 for each:\n" + "\n".join(map(str, wrong))
        # The refusal names what is wrong (the grant's size is a bound of the request, not an outage).
        assert all("unavailable" not in text for *_, text in answers)
        # And the connection pools are intact: the document still answers.
        assert await visible()


async def test_names_that_would_display_as_something_else_are_refused(system: System) -> None:
    user = await new_user(system.gateway)
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as api:
        document_id = (await upload(api, user, "honest.txt", b"honest"))["document_id"]

        async def visible() -> bool:
            return (await api.get(f"/v1/documents/{document_id}", headers=user.auth)).status_code == 200

        await eventually(visible)
        grant = {"size": 3, "content_type": "text/plain"}
        refusals = [
            await api.post("/v1/uploads", headers=user.auth, json=grant | {"filename": "\u202etxt.exe"}),
            await api.post("/v1/uploads", headers=user.auth, json=grant | {"filename": "a.txt", "tags": ["ok\u2066"]}),
            await api.post("/v1/uploads", headers=user.auth, json=grant | {"filename": "a.txt", "path": "/a\u200b/b"}),
            await api.patch(f"/v1/documents/{document_id}", headers=user.auth, json={"name": "invoice\u202epdf.exe"}),
            await api.patch(f"/v1/documents/{document_id}", headers=user.auth, json={"tags": ["\ufeffpaid"]}),
            await api.patch(f"/v1/documents/{document_id}", headers=user.auth, json={"path": "/Reports\\2026"}),
            await api.post("/v1/uploads", headers=user.auth, json=grant | {"filename": "a.txt", "path": "/x\\y"}),
        ]
        statuses = [(answer.status_code, answer.json().get("detail", "")) for answer in refusals]
        assert all(status == 422 for status, _ in statuses), statuses
        assert all("invisible" in detail or "'\\'" in detail for _, detail in statuses), statuses
        # Right-to-left scripts and joiners are names like any other.
        kept = await api.patch(
            f"/v1/documents/{document_id}", headers=user.auth, json={"name": "می\u200cخواهم.txt", "tags": ["עברית"]}
        )
        assert kept.status_code == 200, kept.text
