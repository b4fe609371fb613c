"""A request's origin (client address, user agent) travels with the events it causes."""

from __future__ import annotations

import asyncio

from docstore_events import FileTrashed, decode
from docstore_messaging.origin import (
    CE_CLIENT_ADDRESS,
    CE_USER_AGENT,
    RequestOrigin,
    current_origin,
    origin_from_headers,
    origin_headers,
    origin_of,
    request_origin,
)
from docstore_messaging.outbox import Outbox


def outbox() -> Outbox:
    return Outbox({"outbox": None}, source="/docstore/us-west-2/metadata")  # type: ignore[arg-type]  # never written


EVENT = FileTrashed(account_id="acc-1", document_id="doc-1")


def test_an_outbox_row_written_during_a_request_carries_its_origin_as_extension_headers() -> None:
    with request_origin(RequestOrigin("203.0.113.7", "DocStoreSync/1.2")):
        row = outbox()._row(EVENT, None)
    assert row["headers"][CE_CLIENT_ADDRESS] == "203.0.113.7"
    assert row["headers"][CE_USER_AGENT] == "DocStoreSync/1.2"
    envelope = decode(row["headers"], row["value"])
    assert origin_of(envelope.extra_headers) == RequestOrigin("203.0.113.7", "DocStoreSync/1.2")


def test_a_row_written_outside_any_request_has_no_origin_headers() -> None:
    row = outbox()._row(EVENT, None)
    assert CE_CLIENT_ADDRESS not in row["headers"] and CE_USER_AGENT not in row["headers"]
    assert origin_of(decode(row["headers"], row["value"]).extra_headers) == RequestOrigin(None, None)


def test_only_known_parts_become_headers() -> None:
    assert RequestOrigin("198.51.100.1", None).headers() == {CE_CLIENT_ADDRESS: "198.51.100.1"}
    assert RequestOrigin(None, "curl/8").headers() == {CE_USER_AGENT: "curl/8"}
    assert RequestOrigin().headers() == {}


def test_header_values_are_printable_and_bounded() -> None:
    origin = origin_from_headers({"x-docstore-client-address": "10.0.0.1\r\n", "user-agent": "a\x00b" + "x" * 2000})
    assert origin.client_address == "10.0.0.1"
    assert origin.user_agent is not None and origin.user_agent.startswith("ab") and len(origin.user_agent) == 512
    assert origin_from_headers({}) == RequestOrigin(None, None)


def test_the_origin_ends_with_its_block() -> None:
    with request_origin(RequestOrigin("10.0.0.2", "ua")):
        assert origin_headers() == {CE_CLIENT_ADDRESS: "10.0.0.2", CE_USER_AGENT: "ua"}
    assert current_origin.get() is None and origin_headers() == {}


async def test_concurrent_requests_each_see_their_own_origin() -> None:
    seen: dict[str, str | None] = {}

    async def request(address: str) -> None:
        with request_origin(RequestOrigin(address, None)):
            await asyncio.sleep(0.01)  # the other request runs meanwhile
            seen[address] = outbox()._row(EVENT, None)["headers"].get(CE_CLIENT_ADDRESS)

    await asyncio.gather(request("10.0.0.1"), request("10.0.0.2"))
    assert seen == {"10.0.0.1": "10.0.0.1", "10.0.0.2": "10.0.0.2"}
