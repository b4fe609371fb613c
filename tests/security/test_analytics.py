"""Analytics under attack (issue 39): one account never learns another's figures, links or
documents through the analytics routes, whatever it puts in the query; the admin routes (charts,
top documents, CSV export, rebuild) are refused to a person who is not an administrator."""

from __future__ import annotations

import json

import httpx
import pytest

from docstore_devplatform.testing import eventually

from .conftest import Victim, new_user

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADMIN_ROUTES = (
    ("GET", "/v1/admin/analytics"),
    ("GET", "/v1/admin/analytics/top/most-downloaded"),
    ("GET", "/v1/admin/analytics/top/most-shared"),
    ("GET", "/v1/admin/analytics/export/series"),
    ("GET", "/v1/admin/analytics/export/most-shared"),
    ("POST", "/v1/admin/analytics/rebuild"),
)


async def test_another_accounts_links_and_documents_stay_out_of_my_analytics(
    api: httpx.AsyncClient, victim_a: Victim
) -> None:
    owner = victim_a.owner

    async def owner_sees_the_link():
        links = await api.get("/v1/analytics/links", headers=owner.auth)
        return links.status_code == 200 and victim_a.link_id in [link["link_id"] for link in links.json()["links"]]

    await eventually(owner_sees_the_link, timeout=90)  # analytics has the victim's facts by now
    stranger = await new_user(victim_a.gateway)
    grantee = victim_a.grantee  # the document is shared with this account: still not theirs
    for user in (stranger, grantee):
        for path in ("/v1/analytics/usage", "/v1/analytics/links"):
            for query in (
                {},
                {"account_id": owner.account_id},
                {"owner": owner.account_id, "link_id": victim_a.link_id},
            ):
                answer = await api.get(path, headers=user.auth, params=query)
                assert answer.status_code == 200, answer.text
                text = json.dumps(answer.json())
                for secret in (*victim_a.secrets(), victim_a.link_id, owner.account_id):
                    assert secret not in text, (path, query, secret)
        assert (await api.get(f"/v1/analytics/links/{victim_a.link_id}", headers=user.auth)).status_code == 404


async def test_the_admin_analytics_are_refused_to_a_person(api: httpx.AsyncClient, victim_a: Victim) -> None:
    person = victim_a.owner
    for method, path in ADMIN_ROUTES:
        answer = await api.request(method, path, headers=person.auth)
        assert answer.status_code == 403, (method, path, answer.status_code)
        assert "document_id" not in answer.text
    for method, path in ADMIN_ROUTES:
        assert (await api.request(method, path)).status_code == 401
