"""Webhook rules: Standard Webhooks signing (the spec's test vector), ids, payloads, backoff,
and the addresses DocStore refuses to call."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from docstore_notify.domain.webhooks import (
    DEFAULT_SCHEDULE,
    InvalidWebhook,
    RefusedTarget,
    checked_events,
    checked_url,
    message_id,
    new_secret,
    next_delay,
    parse_schedule,
    payload,
    refused_address,
    replay_refusal,
    sign,
)

# The test vector of the Standard Webhooks specification (and of its reference libraries).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signing_matches_the_spec_test_vector() -> None:
    headers = sign(SPEC_SECRET, SPEC_ID, datetime.fromtimestamp(SPEC_TIMESTAMP, UTC), SPEC_BODY)
    assert headers.as_dict() == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }


def test_a_receiver_verifies_what_we_sign_and_refuses_a_changed_body() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(secret) > 40
    now = datetime.now(UTC)
    headers = sign(secret, "msg_1", now, '{"a":1}').as_dict()
    assert Webhook(secret).verify('{"a":1}', headers) == {"a": 1}
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify('{"a":2}', headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify('{"a":1}', headers)


def test_the_webhook_id_is_stable_per_event_and_endpoint() -> None:
    assert message_id("ev-1", "wh_a") == message_id("ev-1", "wh_a")
    assert len({message_id("ev-1", "wh_a"), message_id("ev-2", "wh_a"), message_id("ev-1", "wh_b")}) == 3
    assert message_id("ev-1", "wh_a").startswith("msg_")


def test_the_payload_keeps_only_what_the_owner_may_see() -> None:
    data = {
        "account_id": "acc",
        "document_id": "d",
        "version": 2,
        "filename": "a.txt",
        "bucket": "docstore-blobs",
        "key": "acc/d/2",
        "upload_id": "u",
        "size": 3,
    }
    body = payload("file.version-recorded", data, datetime(2026, 1, 1, tzinfo=UTC))
    assert body["type"] == "file.version-recorded" and body["timestamp"] == "2026-01-01T00:00:00+00:00"
    assert body["data"] == {"account_id": "acc", "document_id": "d", "version": 2, "filename": "a.txt", "size": 3}


def test_events_must_be_known() -> None:
    assert checked_events(["file.trashed", "file.trashed", "share.created"]) == ["file.trashed", "share.created"]
    with pytest.raises(InvalidWebhook, match="unknown event type"):
        checked_events(["file.nope"])
    with pytest.raises(InvalidWebhook, match="at least one"):
        checked_events([])


def test_backoff_follows_the_schedule_with_bounded_jitter_then_gives_up() -> None:
    rng = random.Random(7)
    for attempt, base in enumerate(DEFAULT_SCHEDULE, start=1):
        delay = next_delay(attempt, DEFAULT_SCHEDULE, rng=rng)
        assert delay is not None and timedelta(seconds=base * 0.9) <= delay <= timedelta(seconds=base * 1.1)
    assert next_delay(len(DEFAULT_SCHEDULE) + 1, DEFAULT_SCHEDULE) is None  # the dead letter
    assert next_delay(1, ()) is None
    assert next_delay(2, (1.0, 2.0), jitter=0) == timedelta(seconds=2)
    assert parse_schedule("5, 300,1800") == (5.0, 300.0, 1800.0)
    with pytest.raises(ValueError):
        parse_schedule("5,-1")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "fd00::1",
        "fe80::1",
        "169.254.169.254",
        "169.254.1.1",
        "fd00:ec2::254",
        "100.100.100.200",
        "100.64.0.1",
        "224.0.0.1",
        "ff02::1",
        "0.0.0.0",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "240.0.0.1",
        "fe80::1%eth0",
    ],
)
def test_loopback_private_link_local_multicast_and_metadata_addresses_are_refused(address: str) -> None:
    assert refused_address(address) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refused_address(address) is None


def test_urls_outside_development() -> None:
    assert checked_url("https://hooks.example.com/x?y=1", allow_private=False).port == 443
    for url, message in [
        ("http://hooks.example.com/", "https://"),
        ("ftp://hooks.example.com/", "https://"),
        ("https://user:pw@hooks.example.com/", "user name"),
        ("https://hooks.example.com/#f", "fragment"),
        ("https:///x", "no host"),
        ("https://hooks.example.com/ x", "space"),
        ("https://hooks.example.com:99999/", "not valid"),
    ]:
        with pytest.raises(InvalidWebhook, match=message):
            checked_url(url, allow_private=False)
    for url in ["https://127.0.0.1/", "https://[::1]:8443/", "https://169.254.169.254/latest", "https://localhost/"]:
        with pytest.raises(RefusedTarget):
            checked_url(url, allow_private=False)


def test_development_allows_plain_http_to_loopback() -> None:
    target = checked_url("http://127.0.0.1:9000/hook", allow_private=True)
    assert (target.scheme, target.host, target.port) == ("http", "127.0.0.1", 9000)


def test_a_dead_or_cancelled_delivery_can_be_replayed_to_an_enabled_endpoint_only() -> None:
    assert replay_refusal("dead", enabled=True) is None and replay_refusal("cancelled", enabled=True) is None
    assert replay_refusal("pending", enabled=False) is None  # going already: a replay changes nothing
    assert "Turn it on" in (replay_refusal("dead", enabled=False) or "")
    assert "reached the endpoint" in (replay_refusal("delivered", enabled=True) or "")
