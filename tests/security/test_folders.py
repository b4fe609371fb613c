"""Attacks on folders (issue 37), through the gateway of the running system: dot segments and
encoded separators in folder names, paths and ids; another account's folder ids and paths;
moving a folder into itself. Every refusal is a 4xx with a message, never a 5xx, and nothing of
anyone else's changes."""

from __future__ import annotations

import uuid

import httpx
import pytest

from .conftest import new_user

pytestmark = [pytest.mark.e2e]


async def test_dot_segments_and_encoded_separators_never_make_or_reach_another_folder(system) -> None:
    owner = await new_user(system.gateway)
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as api:
        top = await api.post("/v1/folders", headers=owner.auth, json={"parent": "/", "name": "top"})
        assert top.status_code == 201, top.text
        for body in (
            {"parent": "/top/../..", "name": "x"},
            {"parent": "/top/./x", "name": "x"},
            {"parent": "top", "name": "x"},
            {"parent": "/", "name": ".."},
            {"parent": "/", "name": "."},
            {"parent": "/", "name": "a/b"},
            {"parent": "/", "name": "a\\b"},
            {"parent": "/top\\..", "name": "x"},
            {"parent": "/", "name": "a\u202etxt"},
            {"parent": "/", "name": "line\nbreak"},
        ):
            refused = await api.post("/v1/folders", headers=owner.auth, json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert refused.json()["detail"], refused.text
        # Percent-encoding in a body is text, not a separator: a folder called that, in /top.
        literal = await api.post("/v1/folders", headers=owner.auth, json={"parent": "/top", "name": "a%2Fb%2e%2e"})
        assert literal.status_code == 201 and literal.json()["path"] == "/top/a%2Fb%2e%2e", literal.text
        listed = await api.get("/v1/folders", headers=owner.auth, params={"path": "/top"})
        assert [f["name"] for f in listed.json()["items"]] == ["a%2Fb%2e%2e"], listed.text
        folder_id = top.json()["folder_id"]
        for path in (
            f"/v1/folders/%2e%2e/{folder_id}",
            f"/v1/folders/{folder_id}%2F..",
            f"/v1/folders/..%2F{folder_id}",
            f"/v1/folders/{folder_id}%5Crestore",
            "/v1/folders/%2e%2e",
        ):
            answer = await api.get(path, headers=owner.auth)
            assert answer.status_code in (400, 404), (path, answer.status_code, answer.text)
        # Moving into itself, or below itself, is refused; the folder stays.
        for parent in ("/top", "/top/a%2Fb%2e%2e", "/top/new/deeper"):
            answer = await api.patch(f"/v1/folders/{folder_id}", headers=owner.auth, json={"parent": parent})
            assert answer.status_code == 422, (parent, answer.text)
        after = await api.get(f"/v1/folders/{folder_id}", headers=owner.auth)
        assert after.json()["path"] == "/top", after.text


async def test_another_accounts_folder_ids_and_paths_reach_nothing_of_theirs(system) -> None:
    victim, stranger = await new_user(system.gateway), await new_user(system.gateway)
    marker = f"secret-{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as api:
        theirs = (await api.post("/v1/folders", headers=victim.auth, json={"parent": "/", "name": marker})).json()
        folder_id = theirs["folder_id"]
        for method, url, body in (
            ("GET", f"/v1/folders/{folder_id}", None),
            ("PATCH", f"/v1/folders/{folder_id}", {"name": "stolen"}),
            ("PATCH", f"/v1/folders/{folder_id}", {"parent": "/mine"}),
            ("DELETE", f"/v1/folders/{folder_id}", None),
            ("POST", f"/v1/folders/{folder_id}/restore", None),
        ):
            answer = await api.request(method, url, headers=stranger.auth, json=body)
            assert answer.status_code == 404 and marker not in answer.text, (method, url, answer.text)
        # A path names a place in the caller's own account only: the stranger's "/<marker>" is theirs.
        for route in ("/v1/folders/at", "/v1/paths/at"):
            looked_up = await api.get(route, headers=stranger.auth, params={"path": f"/{marker}"})
            assert looked_up.status_code == 404 and marker not in looked_up.text, (route, looked_up.text)
        own = await api.post("/v1/folders", headers=stranger.auth, json={"parent": f"/{marker}", "name": "x"})
        assert own.status_code == 201, own.text
        inside = await api.get("/v1/folders", headers=victim.auth, params={"path": f"/{marker}"})
        assert inside.json()["items"] == [], inside.text
        mine = await api.get(f"/v1/folders/{folder_id}", headers=victim.auth)
        assert (mine.json()["path"], mine.json()["trashed"]) == (f"/{marker}", False), mine.text
