"""The ticket between the two steps of a login with two-factor sign-in.

When the password is right but the account has 2FA on, the gateway starts no session: it hands
the client an `mfa_ticket`, a JWT (HS256, signed with the gateway's internal signing key, the
key id in its header, so key rotation works as for identity tokens) that names the account,
lives 5 minutes, and is spent once (the gateway remembers spent ticket ids until they expire).
The client sends it back with a code at `POST /v1/sessions/mfa`.

The ticket proves only "this password was right for this account a moment ago": alone, it gets
nothing. Pure: signing and checking happen in memory.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

TICKET_SECONDS = 300
AUDIENCE = "docstore-gateway:mfa-ticket"
"""No identity token (audience: a service name) can pass for a ticket, nor a ticket for one."""
MAX_TICKET_CHARS = 2048


class InvalidTicket(Exception):
    """Not a ticket this gateway signed, expired, or malformed (the message names no part of it)."""


@dataclass(frozen=True)
class MfaTicket:
    """Who passed the password step, when it stops being usable, and its id (spent once)."""

    ticket_id: str
    account_id: str
    role: str
    region: str
    expires_at: datetime


def issue_ticket(
    account_id: str, role: str, region: str, *, now: datetime, keys: Mapping[str, str], key_id: str
) -> tuple[str, MfaTicket]:
    """A new ticket for `account_id` (and its text for the client)."""
    ticket = MfaTicket(
        ticket_id=secrets.token_urlsafe(16),
        account_id=account_id,
        role=role,
        region=region,
        expires_at=now + timedelta(seconds=TICKET_SECONDS),
    )
    claims = {
        "jti": ticket.ticket_id,
        "sub": account_id,
        "role": role,
        "region": region,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int(ticket.expires_at.timestamp()),
    }
    text = jwt.encode(claims, keys[key_id], algorithm="HS256", headers={"kid": key_id})
    return text, ticket


def read_ticket(text: str, *, now: datetime, keys: Mapping[str, str]) -> MfaTicket:
    """The ticket in `text` if this deployment signed it, for the second step, and it is alive at
    `now`; InvalidTicket otherwise. Whether it was spent is the store's to say."""
    if not text or len(text) > MAX_TICKET_CHARS:
        raise InvalidTicket("not a ticket")
    try:
        kid = jwt.get_unverified_header(text).get("kid")
        key = keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidTicket("unknown signing key")
        claims = jwt.decode(
            text,
            key,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["jti", "sub", "exp", "aud"], "verify_exp": False},
        )
    except jwt.PyJWTError as error:
        raise InvalidTicket("not a ticket") from error
    expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo)
    if now >= expires_at:  # checked against the injected clock, not the machine's
        raise InvalidTicket("expired")
    fields = (claims.get("jti"), claims.get("sub"), claims.get("role", "user"), claims.get("region", ""))
    if not all(isinstance(value, str) for value in fields):
        raise InvalidTicket("not a ticket")
    jti, sub, role, region = (str(value) for value in fields)
    return MfaTicket(ticket_id=jti, account_id=sub, role=role, region=region, expires_at=expires_at)
