"""The devices an account signs in from: a session's client in short form, and when a sign-in
counts as "new" (worth a mail to the owner).

Pure: `ua-parser` (Browserscope's rules, shipped in `ua-parser-builtins`) reads the user agent
in memory; nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from ua_parser import parse

MAX_USER_AGENT_CHARS = 512
"""Longer user agents are cut before parsing (and before being stored): no real one is longer."""
UNKNOWN_CLIENT = "Unknown client"
_PRODUCT = re.compile(r"\s*([A-Za-z][A-Za-z0-9._+-]{0,39})(?:/([0-9][A-Za-z0-9._-]{0,19}))?")
_SAFE = re.compile(r"[^\w .()+/-]")


@dataclass(frozen=True)
class Client:
    """A user agent in short form: `label` to show ("Chrome 120 on Mac OS X"), `family` to
    compare (no version: a browser update is not a new device)."""

    label: str
    family: str


def _clean(text: str) -> str:
    return _SAFE.sub("", text).strip()[:60]


def client_of(user_agent: str | None) -> Client:
    """The short form of a `User-Agent` header: browser family and major version, and the
    operating system ("Firefox 133 on Ubuntu"); for a program that is no browser, its first
    product token ("docstore-sync 0.1", "python-httpx 0.28.1"); "Unknown client" for none."""
    # Cut before the cache, so the cache holds no client's megabyte header.
    return _client_of((user_agent or "").strip()[:MAX_USER_AGENT_CHARS])


@lru_cache(maxsize=2048)  # parsing runs a thousand regular expressions: a login repeats few agents
def _client_of(text: str) -> Client:
    if not text:
        return Client(UNKNOWN_CLIENT, UNKNOWN_CLIENT)
    parsed = parse(text)
    agent, system = parsed.user_agent, parsed.os
    if agent is not None and agent.family != "Other":
        name = _clean(agent.family)
        version = f" {agent.major}" if agent.major else ""
        on = f" on {_clean(system.family)}" if system is not None and system.family != "Other" else ""
        return Client(f"{name}{version}{on}", f"{name}{on}")
    product = _PRODUCT.match(text)
    if product is None:
        return Client(UNKNOWN_CLIENT, UNKNOWN_CLIENT)
    name, version = product.group(1), product.group(2)
    on = f" on {_clean(system.family)}" if system is not None and system.family != "Other" else ""
    return Client(f"{name}{' ' + version if version else ''}{on}", f"{name}{on}")


def device_key(account_id: str, client: Client, address: str) -> str:
    """What "seen before" compares: the account, the client's family (no version) and the
    address, as one digest (the store keeps no list of raw user agents)."""
    return hashlib.sha256(f"{account_id}\x1f{client.family}\x1f{address}".encode()).hexdigest()


def is_new_sign_in(*, seen_before: bool, known_devices: int) -> bool:
    """A sign-in is announced when its client and address pair is new for the account, except
    the account's first one ever (`known_devices` 0: nothing to compare with, e.g. the login
    right after sign-up, or the first after this rule began)."""
    return not seen_before and known_devices > 0


@dataclass(frozen=True)
class Device:
    """One session (a refresh-token family) as the owner sees it in the list of devices."""

    session_id: str
    account_id: str
    client: str
    address: str
    region: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
