"""The gateway tells services the client's address it saw, never one a client claims."""

from __future__ import annotations

import httpx

from docstore_gateway.adapters.upstreams import Upstreams
from docstore_gateway.domain.sessions import Caller
from docstore_kit.auth import InternalAuth


async def forwarded_headers(client_address: str | None, headers: dict[str, str]) -> httpx.Headers:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://metadata")
    auth = InternalAuth("gateway", {"k1": "x" * 32}, "k1")
    upstreams = Upstreams({"metadata": client}, auth)
    await upstreams.forward(
        "metadata",
        "GET",
        "account",
        query="",
        headers=headers,
        body=b"",
        caller=Caller("acc-1"),
        client_address=client_address,
    )
    await client.aclose()
    return seen[0].headers


async def test_the_peer_address_replaces_one_the_client_sent_and_the_user_agent_goes_on() -> None:
    sent = {"x-docstore-client-address": "6.6.6.6", "user-agent": "DocStoreSync/2", "accept": "application/json"}
    got = await forwarded_headers("203.0.113.5", sent)
    assert got.get_list("x-docstore-client-address") == ["203.0.113.5"]
    assert got["user-agent"] == "DocStoreSync/2"


async def test_a_client_sent_address_is_dropped_when_the_gateway_has_none() -> None:
    got = await forwarded_headers(None, {"x-docstore-client-address": "6.6.6.6"})
    assert "x-docstore-client-address" not in got


async def test_the_login_check_carries_the_origin_the_gateway_saw() -> None:
    from docstore_events.origin import RequestOrigin, request_origin

    with request_origin(RequestOrigin("198.51.100.4", "Mozilla/5.0")):
        got = await forwarded_headers(None, {"content-type": "application/json"})
    assert got["x-docstore-client-address"] == "198.51.100.4"
    assert got["user-agent"] == "Mozilla/5.0"
