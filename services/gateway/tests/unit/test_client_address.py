"""The gateway tells services the client's address it saw, never one a client claims; it takes
X-Forwarded-For only from trusted proxies, and then the right-most untrusted address."""

from __future__ import annotations

import httpx
import pytest
from starlette.requests import Request

from docstore_gateway.adapters.upstreams import Upstreams
from docstore_gateway.api.routes import client_address
from docstore_gateway.domain.sessions import Caller
from docstore_gateway.main import create_app
from docstore_gateway.settings import Settings
from docstore_kit.auth import InternalAuth
from docstore_messaging.origin import current_origin


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
    from docstore_messaging.origin import RequestOrigin, request_origin

    with request_origin(RequestOrigin("198.51.100.4", "Mozilla/5.0")):
        got = await forwarded_headers(None, {"content-type": "application/json"})
    assert got["x-docstore-client-address"] == "198.51.100.4"
    assert got["user-agent"] == "Mozilla/5.0"


# --- Which address is the client's (issue 33, finding 1) --------------------------------------


async def seen_address(trusted_proxies: str, peer: str, forwarded_for: str | None) -> tuple[str, str]:
    """(the address the routes use, the one stamped on events) for a request from `peer`."""
    app = create_app(Settings(trusted_proxies=trusted_proxies, web_dir=""))

    async def whoami(request: Request) -> dict[str, str]:
        origin = current_origin.get()
        return {"route": client_address(request), "origin": (origin.client_address or "") if origin else ""}

    app.add_api_route("/whoami", whoami)
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for is not None else {}
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        answer = await client.get("/whoami", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["route"], answer.json()["origin"]


async def test_without_trusted_proxies_a_client_never_chooses_its_address() -> None:
    # uvicorn's own default trusted 127.0.0.1, where every local client is: not any more.
    assert await seen_address("", "127.0.0.1", "6.6.6.6") == ("127.0.0.1", "127.0.0.1")
    assert await seen_address("", "203.0.113.9", "6.6.6.6, 10.0.0.1") == ("203.0.113.9", "203.0.113.9")


async def test_behind_a_trusted_proxy_the_right_most_untrusted_address_is_the_client() -> None:
    # The client wrote 6.6.6.6; the outer proxy appended the peer it saw (198.51.100.7); an inner
    # trusted proxy (10.0.0.5) appended its own peer. The left-most entry is never taken.
    chain = "6.6.6.6, 198.51.100.7, 10.0.0.5"
    assert await seen_address("10.0.0.0/8", "10.1.2.3", chain) == ("198.51.100.7", "198.51.100.7")
    # A peer outside the trusted networks is the client, whatever it writes.
    assert await seen_address("10.0.0.0/8", "203.0.113.9", chain) == ("203.0.113.9", "203.0.113.9")
    # A trusted proxy with no header: the peer.
    assert await seen_address("10.0.0.0/8, 192.168.1.1", "192.168.1.1", None) == ("192.168.1.1", "192.168.1.1")


def test_trusting_everyone_or_a_name_is_refused_at_start() -> None:
    for wrong in ("*", "10.0.0.0/8, *", "ingress-nginx", "10.0.0.0/33"):
        with pytest.raises(ValueError):
            Settings(trusted_proxies=wrong)
    assert Settings(trusted_proxies=" 10.0.0.0/8 ,fd00::/8").proxy_networks() == ["10.0.0.0/8", "fd00::/8"]
