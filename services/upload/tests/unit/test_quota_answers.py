"""Quota's refusals reach the client as the 4xx they are; only an outage is a 503 (issue 33,
finding 3: a size above quota's bound was answered 503 "quota-unavailable", so clients retried
it and monitoring saw quota as down)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from docstore_upload.adapters.quota_client import QuotaClient, QuotaRefused, QuotaUnavailable

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def client(answer: httpx.Response | Exception) -> QuotaClient:
    def reply(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    return QuotaClient(httpx.AsyncClient(transport=httpx.MockTransport(reply), base_url="http://quota"))


async def test_a_refusal_of_the_request_is_a_422_saying_why() -> None:
    refusal = httpx.Response(422, json={"detail": [{"msg": "Input should be less than or equal to 1e18"}]})
    with pytest.raises(QuotaRefused) as refused:
        await client(refusal).reserve("acc", "up", 10**19, WHEN)
    assert refused.value.status == 422 and "less than or equal" in refused.value.detail()
    with pytest.raises(QuotaRefused):
        await client(httpx.Response(400, json={"detail": "bad"})).reserve_many("acc", [("up", 10**19, WHEN)])


@pytest.mark.parametrize(
    "answer", [httpx.Response(500), httpx.Response(503), httpx.Response(401), httpx.ConnectError("down")]
)
async def test_only_an_outage_or_a_misconfiguration_is_a_503(answer: httpx.Response | Exception) -> None:
    with pytest.raises(QuotaUnavailable) as down:
        await client(answer).reserve("acc", "up", 5, WHEN)
    assert down.value.status == 503
