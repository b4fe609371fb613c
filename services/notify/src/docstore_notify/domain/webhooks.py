"""Webhooks: the rules of one more delivery channel (beside mail). Pure: no I/O.

- Which events an endpoint may subscribe to, and what a delivery's body holds (`payload`):
  the Standard Webhooks shape `{"type", "timestamp", "data"}`, with only the fields an owner may
  see (never where the bytes are stored).
- Which endpoints get a delivery of which events (`fan_out_pairs`), for a whole batch at once.
- The delivery's `webhook-id` (`message_id`): derived from the event id and the endpoint, so a
  redelivered event, a retry and a second replica all send the same id and receivers drop repeats.
- Signing (`Signer`): the `standardwebhooks` package's `Webhook.sign` (v1, HMAC-SHA256 over
  "{id}.{timestamp}.{body}" with the secret's bytes), a `whsec_` secret made by `new_secret`.
- The retry schedule (`next_delay`) and the address rules against SSRF (`refused_address`,
  `checked_url`).
"""

from __future__ import annotations

import base64
import ipaddress
import random
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from docstore_kit.errors import Conflict, Invalid, NotFound

# --- what can be subscribed to ------------------------------------------------------------------

EVENT_TYPES: dict[str, tuple[str, ...]] = {
    # event type -> the fields of its data a receiver gets (account_id is always added)
    "file.version-recorded": (
        "document_id",
        "version",
        "filename",
        "content_type",
        "size",
        "sha256",
        "path",
        "conflict_of",
    ),
    "file.modified": ("document_id", "version", "name", "size", "actor_id"),
    "file.details-changed": ("document_id", "name", "path", "tags"),
    "file.trashed": ("document_id",),
    "file.restored": ("document_id",),
    "file.deleted": ("document_id", "versions", "size", "whole_document"),
    "share.created": ("document_id", "grantee_id", "permission"),
    "share.link-used": (
        "document_id",
        "document_name",
        "link_id",
        "version",
        "downloads",
        "download_limit",
        "exhausted",
    ),
}
"""The events on an account's own documents an endpoint can ask for. Not the bucket or key of a
version (where DocStore keeps the bytes is nobody's business) nor a link's token (in no event)."""
TEST_EVENT = "webhook.test"
"""What `POST /webhooks/{id}/test` sends; every endpoint gets it, whatever it subscribed to."""

MAX_ENDPOINTS = 20
"""Endpoints per account."""
MAX_URL_LENGTH = 2000
MAX_DESCRIPTION = 200


class WebhookNotFound(NotFound):
    """No such endpoint, or one of another account (the same answer: ids are not probed)."""

    problem = "webhook-not-found"
    title = "No such webhook"


class DeliveryNotFound(NotFound):
    """No such delivery of this endpoint (another endpoint's or account's answers the same)."""

    problem = "webhook-delivery-not-found"
    title = "No such delivery"


class NotReplayable(Conflict):
    """A replay of a delivery that was delivered, or to an endpoint that is turned off."""

    problem = "webhook-delivery-not-replayable"
    title = "Delivery not replayable"


REPLAYABLE = ("dead", "cancelled")
"""Delivery statuses the owner may send again: the dead letter (no try left) and the ones cancelled
when the endpoint was turned off. A pending one is already going (a replay is a no-op); a
delivered one reached the receiver, which drops a repeat of its `webhook-id` anyway."""


def replay_refusal(status: str, *, enabled: bool) -> str | None:
    """Why a delivery in `status` cannot be sent again now (None: it can, or it is going already)."""
    if status == "delivered":
        return "This delivery reached the endpoint already; the receiver has it."
    if not enabled and status in REPLAYABLE:
        return "This webhook is turned off. Turn it on, then replay the delivery."
    return None


class InvalidWebhook(Invalid):
    """The endpoint's URL or event list breaks a rule; the message says which."""

    problem = "invalid-webhook"
    title = "Invalid webhook"


class RefusedTarget(InvalidWebhook):
    """The URL names, or resolves to, an address DocStore does not call (SSRF)."""

    problem = "webhook-target-refused"
    title = "Webhook address refused"


def checked_events(events: Sequence[str]) -> list[str]:
    """The subscribed event types, deduplicated in order; `InvalidWebhook` for an unknown one."""
    if not events:
        raise InvalidWebhook("choose at least one event type: " + ", ".join(EVENT_TYPES))
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise InvalidWebhook(f"unknown event type {unknown[0]!r}; choose from: " + ", ".join(EVENT_TYPES))
    return list(dict.fromkeys(events))


def payload(event_type: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The body of a delivery (Standard Webhooks: `type`, `timestamp`, `data`)."""
    fields = EVENT_TYPES.get(event_type, ())
    kept = {"account_id": data["account_id"]} | {k: data[k] for k in fields if k in data}
    return {"type": event_type, "timestamp": at.astimezone(UTC).isoformat(), "data": kept}


@dataclass(frozen=True)
class DocumentEvent:
    """One event on an account's documents, as the fan-out reads it: its id (the idempotency key),
    type, data (JSON-ready; `account_id` is the owner of the document, whoever acted) and time."""

    event_id: str
    event_type: str
    data: dict[str, Any]
    at: datetime

    @property
    def account_id(self) -> str:
        return str(self.data["account_id"])


def fan_out_pairs(
    events: Sequence[DocumentEvent], endpoints: Sequence[dict[str, Any]]
) -> list[tuple[DocumentEvent, dict[str, Any]]]:
    """Each (event, endpoint) that gets a delivery, in the events' order: the endpoint is enabled,
    belongs to the event's account and asked for the event's type. `endpoints` may hold any
    account's rows (one read for a whole batch of events); the rest are left out here."""
    wanted: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for endpoint in endpoints:
        if endpoint.get("enabled"):
            for event_type in dict.fromkeys(endpoint.get("events", ())):
                wanted.setdefault((endpoint["account_id"], event_type), []).append(endpoint)
    return [(event, endpoint) for event in events for endpoint in wanted.get((event.account_id, event.event_type), ())]


def message_id(event_id: str, webhook_id: str) -> str:
    """The `webhook-id` of the delivery of event `event_id` to endpoint `webhook_id`: the same on
    every retry and every redelivery of the event."""
    return "msg_" + uuid.uuid5(uuid.NAMESPACE_URL, f"docstore:{event_id}:{webhook_id}").hex


# --- signing -----------------------------------------------------------------------------------

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret, `whsec_` + base64 of 32 random bytes (as Standard Webhooks suggests:
    24 to 64 bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class SignedHeaders:
    webhook_id: str
    timestamp: int
    signature: str

    def as_dict(self) -> dict[str, str]:
        return {
            "webhook-id": self.webhook_id,
            "webhook-timestamp": str(self.timestamp),
            "webhook-signature": self.signature,
        }


def sign(secret: str, msg_id: str, at: datetime, body: str) -> SignedHeaders:
    """The three Standard Webhooks headers of one attempt (the timestamp is the attempt's: a
    receiver refuses old ones, so a retry is signed again with its own time, under the same id)."""
    signature = Webhook(secret).sign(msg_id, at.astimezone(UTC), body)
    return SignedHeaders(msg_id, int(at.timestamp()), signature)


# --- retries -----------------------------------------------------------------------------------

DEFAULT_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
"""Seconds before each retry (Svix's schedule): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; eight
attempts over about 27 hours, then the dead letter."""


def next_delay(
    attempt: int, schedule: Sequence[float], *, jitter: float = 0.1, rng: random.Random | None = None
) -> timedelta | None:
    """The wait before the attempt after attempt number `attempt` (1 = the first) failed, with up to
    ±`jitter` of it at random (so endpoints back from an outage are not hit all at once); None when
    `attempt` was the last (the delivery becomes a dead letter)."""
    if attempt < 1 or attempt > len(schedule):
        return None
    base = schedule[attempt - 1]
    spread = (rng or random).uniform(-jitter, jitter) * base
    return timedelta(seconds=max(0.0, base + spread))


def parse_schedule(raw: str) -> tuple[float, ...]:
    """`WEBHOOK_RETRY_SCHEDULE_SECONDS` ("5,300,1800"): the waits before each retry."""
    values = tuple(float(part) for part in raw.split(",") if part.strip())
    if any(v < 0 for v in values):
        raise ValueError("retry waits cannot be negative")
    return values


# --- addresses (SSRF) ---------------------------------------------------------------------------

_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "169.254.169.253", "100.100.100.200", "fd00:ec2::254", "fd00:ec2::23")
)
"""Cloud metadata services (AWS IMDS and ECS, AWS DNS, Alibaba, AWS IMDS over IPv6)."""


def refused_address(address: str) -> str | None:
    """Why DocStore does not call `address` (an IP literal), or None when it may: loopback,
    private (RFC 1918, unique local, carrier-grade NAT), link-local, multicast, reserved,
    unspecified and cloud metadata addresses are refused; an IPv4 address mapped into IPv6 is
    judged as the IPv4 address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"):
        return "a shared (carrier-grade NAT) address"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return "a private address"
    return None


@dataclass(frozen=True)
class Target:
    """A checked endpoint URL: its scheme, host (a name or an IP literal) and port."""

    url: str
    scheme: str
    host: str
    port: int


def checked_url(url: str, *, allow_private: bool) -> Target:
    """`url` if DocStore may call it: https (plain http only where private targets are allowed,
    i.e. development), a host, no user or password, no fragment; an IP literal host is judged at
    once (a name is judged on each of its addresses by the caller, see `refused_address`)."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhook(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise InvalidWebhook("the URL holds a space or a control character")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidWebhook(f"the URL is not valid: {error}") from error
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_private):
        raise InvalidWebhook("the URL must start with https://")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidWebhook("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhook("the URL may not hold a user name or password (the signature authenticates us)")
    if parts.fragment:
        raise InvalidWebhook("the URL may not hold a fragment (#...)")
    if not allow_private:
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            raise RefusedTarget("the URL names a loopback host; DocStore calls only public addresses")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            reason = refused_address(host)
            if reason:
                raise RefusedTarget(f"the URL names {reason}; DocStore calls only public addresses")
    return Target(url, scheme, host, port or (443 if scheme == "https" else 80))
