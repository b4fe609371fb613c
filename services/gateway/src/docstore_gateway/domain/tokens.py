"""Bearer tokens: how they are made, read from a header, and what they may look like before
the gateway reads one.

A token is `<region>.<urlsafe>`: the issuing region prefixes it, so another region's gateway can
send its holder home. A gateway without a region issues bare `<urlsafe>`. Refresh tokens are
random (`new_token`) and looked up; access tokens are *signed* (`sign_access`, issue 36): the
urlsafe part carries the session (family) id, account, role, login time, issue time and expiry,
with an HMAC-SHA256 over them and the region, so the gateway checks one in memory (`read_access`),
without a database read per request.

The signed part is one URL-safe base64 string (no padding) of

    0x01 | len(kid) | kid | payload | HMAC-SHA256(derived key of kid, "<region>." + everything before it)

`payload` is compact JSON `[family_id, account_id, role, signed_in_ms, issued_ms, expires_ms]`.
Each key id names a secret (the internal signing keys, `INTERNAL_AUTH_KEYS`, so rotation works as
for identity tokens and MFA tickets); the MAC key is derived from it for this one use
(`access_keys`), so no other token signed with the same secret can pass for an access token.
Python's `hmac`/`hashlib` (standard library) do the cryptography: no format of our own beyond the
byte layout above, and the comparison is `hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

_RANDOM = re.compile(r"[A-Za-z0-9_-]{1,512}")
"""The urlsafe part: URL-safe base64 (`secrets.token_urlsafe`, or a signed access token), of a sane length."""

_VERSION = 1
_MAC_BYTES = 32
_PURPOSE = b"docstore-gateway:access-token:v1"
LEGACY_MAX_CHARS = 64
"""A random token (`new_token`: 43 characters) is at most this long; a signed one is longer. An
access token this short is one issued before access tokens were signed (looked up, for at most
one access lifetime after an upgrade)."""


def new_token(region: str) -> str:
    """A fresh token issued by `region` (bare when the gateway has none)."""
    random = secrets.token_urlsafe(32)
    return f"{region}.{random}" if region else random


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def token_region(token: str) -> str | None:
    """The region that issued a token (`<region>.<random>`); None for a token without one."""
    region, dot, rest = token.partition(".")
    return region if dot and region and rest else None


def well_formed(token: str, known_regions: Collection[str]) -> bool:
    """True for `<region>.<urlsafe-random>` whose region is one DocStore runs (this region, or one in
    REGION_GATEWAYS); a bare `<urlsafe-random>` only when this gateway has no region (then it issues
    such tokens). Anything else is answered 401 without a lookup, and never repeated back."""
    region, dot, rest = token.partition(".")
    if not dot:
        return "" in known_regions and _RANDOM.fullmatch(token) is not None
    return region in known_regions and region != "" and _RANDOM.fullmatch(rest) is not None


class InvalidAccessToken(Exception):
    """Not an access token this deployment signed (tampered, unknown key, malformed) or expired;
    the message names no part of the token."""


@dataclass(frozen=True)
class AccessClaims:
    """What a signed access token says."""

    family_id: str
    account_id: str
    role: str
    signed_in_at: datetime
    issued_at: datetime
    expires_at: datetime


def access_keys(secrets_by_id: Mapping[str, str]) -> dict[str, bytes]:
    """The MAC key of each key id, derived from its secret for access tokens alone."""
    return {kid: hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest() for kid, secret in secrets_by_id.items()}


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _moment(ms: object) -> datetime:
    if not isinstance(ms, int) or isinstance(ms, bool):
        raise InvalidAccessToken("not an access token")
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _mac(key: bytes, region: str, body: bytes) -> bytes:
    return hmac.new(key, region.encode() + b"." + body, hashlib.sha256).digest()


def sign_access(region: str, claims: AccessClaims, *, keys: Mapping[str, bytes], key_id: str) -> str:
    """The token text of `claims`, issued by `region` (bare when the gateway has none)."""
    kid = key_id.encode()
    if not 0 < len(kid) < 256:
        raise ValueError("a key id of 1 to 255 bytes")
    payload = json.dumps(
        [
            claims.family_id,
            claims.account_id,
            claims.role,
            _ms(claims.signed_in_at),
            _ms(claims.issued_at),
            _ms(claims.expires_at),
        ],
        separators=(",", ":"),
    ).encode()
    body = bytes([_VERSION, len(kid)]) + kid + payload
    text = base64.urlsafe_b64encode(body + _mac(keys[key_id], region, body)).rstrip(b"=").decode()
    return f"{region}.{text}" if region else text


def is_signed(token: str) -> bool:
    """Whether `token` has the length of a signed access token (a random one is shorter)."""
    _, dot, rest = token.partition(".")
    return len(rest if dot else token) > LEGACY_MAX_CHARS


def read_access(token: str, *, now: datetime, keys: Mapping[str, bytes]) -> AccessClaims:
    """The claims of a well-formed token this deployment signed, alive at `now`; InvalidAccessToken
    otherwise. Whether its session ended meanwhile is the revocation list's to say."""
    region, dot, text = token.partition(".")
    if not dot:
        region, text = "", token
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidAccessToken("not an access token") from None
    if len(raw) < 2 + _MAC_BYTES or raw[0] != _VERSION:
        raise InvalidAccessToken("not an access token")
    kid_end = 2 + raw[1]
    body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if kid_end > len(body):
        raise InvalidAccessToken("not an access token")
    key = keys.get(raw[2:kid_end].decode("ascii", "replace"))
    if key is None:
        raise InvalidAccessToken("unknown signing key")
    if not hmac.compare_digest(mac, _mac(key, region, body)):
        raise InvalidAccessToken("bad signature")
    try:
        fields = json.loads(body[kid_end:])
    except ValueError:
        raise InvalidAccessToken("not an access token") from None
    if not isinstance(fields, list) or len(fields) != 6 or not all(isinstance(f, str) for f in fields[:3]):
        raise InvalidAccessToken("not an access token")
    claims = AccessClaims(fields[0], fields[1], fields[2], _moment(fields[3]), _moment(fields[4]), _moment(fields[5]))
    if not claims.family_id or not claims.account_id:
        raise InvalidAccessToken("not an access token")
    if now >= claims.expires_at:
        raise InvalidAccessToken("expired")
    return claims
