"""The gateway's own audit source: ending sessions (logout, logout everywhere, a reused refresh
token) writes one `session.ended` to the gateway's outbox in the same transaction, and its relay
publishes it to Kafka. No token appears in the event. Real MongoDB, Kafka, and an in-process
accounts service behind the gateway."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from docstore_accounts.main import create_app as create_accounts
from docstore_accounts.settings import Settings as AccountsSettings
from docstore_events.activity import SessionEnded
from docstore_events.envelope import decode
from docstore_gateway.main import create_app as create_gateway
from docstore_gateway.settings import Settings as GatewaySettings

pytestmark = pytest.mark.integration

PASSWORD = "quiet lantern orbit 73 marmalade"
COOKIE = "__Secure-docstore-refresh"
LOOSE = {"login_limits_per_username": "", "login_limits_per_address": "", "signup_limits_per_address": ""}


@pytest_asyncio.fixture
async def gateway(endpoints: Any, isolated: dict[str, str]) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """A gateway (with the isolated Kafka settings) in front of an in-process accounts service, and
    the gateway's database (to read its outbox)."""
    accounts_app = create_accounts(AccountsSettings(**isolated))
    database = f"{isolated['mongodb_database']}_gw"
    settings = GatewaySettings(**(isolated | LOOSE | {"mongodb_database": database, "web_dir": ""}))
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(isolated["mongodb_url"], tz_aware=True)
    async with accounts_app.router.lifespan_context(accounts_app):
        accounts = httpx.AsyncClient(transport=httpx.ASGITransport(app=accounts_app), base_url="http://accounts.test")
        app = create_gateway(settings, upstream_clients={"accounts": accounts})
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway.test", timeout=60
            ) as client:
                try:
                    yield client, mongo[database]
                finally:
                    await mongo.close()


async def signed_up_and_logged_in(client: httpx.AsyncClient) -> tuple[str, httpx.Response]:
    username = f"u{uuid.uuid4().hex[:12]}"
    answer = await client.post(
        "/v1/accounts", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    )
    assert answer.status_code == 201, answer.text
    login = await client.post("/v1/sessions", json={"username": username, "password": PASSWORD})
    assert login.status_code in (200, 201), login.text
    return answer.json()["account_id"], login


async def ended(db: Any, account_id: str) -> list[tuple[SessionEnded, bytes]]:
    """The account's `session.ended` events in the gateway's outbox, with their raw values."""
    rows = await db["outbox"].find({"headers.ce_type": SessionEnded.cloudevent_type()}).sort("seq", 1).to_list(None)
    found = [(decode(row["headers"], row["value"]).data, bytes(row["value"])) for row in rows]
    return [(event, value) for event, value in found if event.account_id == account_id]


def cookie_of(answer: httpx.Response) -> str:
    header = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}="))
    return header.split(";", 1)[0].split("=", 1)[1]


async def test_a_logout_records_one_session_ended_and_the_relay_publishes_it(
    gateway: tuple[httpx.AsyncClient, Any], isolated: dict[str, str]
) -> None:
    client, db = gateway
    account_id, login = await signed_up_and_logged_in(client)
    token, refresh = login.json()["token"], cookie_of(login)
    assert await ended(db, account_id) == []

    out = await client.delete("/v1/sessions/current", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 204, out.text
    assert (
        await client.delete("/v1/sessions/current", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401

    [(event, value)] = await ended(db, account_id)
    assert event.reason == "logout"
    assert token.encode() not in value and refresh.encode() not in value

    # The relay sends it to Kafka, keyed by the account.
    consumer = AIOKafkaConsumer(
        SessionEnded.topic(isolated["kafka_topic_prefix"]),
        bootstrap_servers=isolated["kafka_bootstrap_servers"],
        auto_offset_reset="earliest",
        group_id=None,  # a plain reader: joining a group would wait for the coordinator
    )
    await consumer.start()
    try:
        message = await consumer.getone()
        assert message.key == account_id.encode()
        assert json.loads(message.value)["reason"] == "logout"
    finally:
        await consumer.stop()


async def test_logout_everywhere_and_a_reused_refresh_token_each_record_once(
    gateway: tuple[httpx.AsyncClient, Any],
) -> None:
    client, db = gateway
    account_id, login = await signed_up_and_logged_in(client)
    first = cookie_of(login)
    rotated = await client.post("/v1/sessions/refresh", headers={"Cookie": f"{COOKIE}={first}"})
    assert rotated.status_code == 200, rotated.text
    stolen = await client.post("/v1/sessions/refresh", headers={"Cookie": f"{COOKIE}={first}"})  # spent: reused
    assert stolen.status_code == 401
    assert [e.reason for e, _ in await ended(db, account_id)] == ["refresh-reuse"]

    fresh = (await signed_up_and_logged_in(client))[1]  # another account: its events stay its own
    token = fresh.json()["token"]
    everywhere = await client.delete("/v1/sessions", headers={"Authorization": f"Bearer {token}"})
    assert everywhere.status_code == 204, everywhere.text
    assert [e.reason for e, _ in await ended(db, account_id)] == ["refresh-reuse"]
    other = fresh.json()["account_id"]
    assert [e.reason for e, _ in await ended(db, other)] == ["logout-everywhere"]
