"""Who is calling a service: a signed, short-lived identity token, never a bare header.

The gateway authenticates the bearer token of a person and, for each request it forwards,
mints a token for the one service it forwards to (`aud`), naming the account (`sub`) and
its role. Services calling each other mint their own, with role `service`. Every service
verifies the signature, the audience and the expiry; a request carrying only the old
`X-Account-Id` header is simply unauthenticated.

Tokens are JWTs signed with HMAC-SHA256 (PyJWT). `INTERNAL_AUTH_KEYS` holds every key a
service accepts, by key id; `INTERNAL_AUTH_KEY_ID` names the one it signs with. Rotating
without downtime: add the new key everywhere, then switch the signing id everywhere, then
remove the old key once no token signed with it can still be alive (`TOKEN_SECONDS`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Header, HTTPException, Request, status

IDENTITY_HEADER = "X-DocStore-Identity"
ROLES = frozenset({"user", "admin", "service"})
TOKEN_SECONDS = 60
"""Lifetime of an identity token: one request, plus clock skew between pods."""
LEEWAY_SECONDS = 5
MIN_KEY_BYTES = 32
VERIFIED_TOKENS_KEPT = 10_000
"""At most this many verified tokens are remembered (`InternalAuth.verify`), the expired ones
dropped first."""

DEV_KEY_ID = "dev-1"
DEV_KEYS = json.dumps({DEV_KEY_ID: "docstore-development-internal-key-never-use-in-production"})
"""The development default, shared by every service started locally; refused elsewhere."""

_ISSUER = "docstore"


class InvalidIdentity(Exception):
    """A missing, forged, expired or misdirected identity token."""


@dataclass(frozen=True)
class Identity:
    """The verified caller: an account (`user`/`admin`) or another service (`service`)."""

    subject: str
    role: str
    by: str = ""
    """The service that minted the token (the gateway for a person's request, or the service that
    called on its own or a person's behalf)."""


def parse_keys(raw: str) -> dict[str, str]:
    """`{"key id": "secret", ...}` from the setting; each secret at least 32 bytes."""
    try:
        keys = json.loads(raw)
    except ValueError as error:
        raise ValueError("INTERNAL_AUTH_KEYS: must be a JSON object of key id -> secret") from error
    if not isinstance(keys, dict) or not keys or not all(isinstance(v, str) for v in keys.values()):
        raise ValueError("INTERNAL_AUTH_KEYS: must be a non-empty JSON object of key id -> secret")
    short = [kid for kid, secret in keys.items() if len(secret.encode()) < MIN_KEY_BYTES]
    if short:
        raise ValueError(f"INTERNAL_AUTH_KEYS: keys shorter than {MIN_KEY_BYTES} bytes: {', '.join(short)}")
    return {str(kid): secret for kid, secret in keys.items()}


class InternalAuth:
    """Mints and verifies identity tokens for one service (`service`, its own audience)."""

    def __init__(
        self, service: str, keys: Mapping[str, str], signing_key_id: str, ttl_seconds: int = TOKEN_SECONDS
    ) -> None:
        if signing_key_id not in keys:
            raise ValueError(f"INTERNAL_AUTH_KEY_ID: {signing_key_id!r} is not one of INTERNAL_AUTH_KEYS")
        self.service = service
        self._keys = dict(keys)
        self._signing_key_id = signing_key_id
        self._ttl = ttl_seconds
        self._minted_at = 0
        self._minted: dict[tuple[str, str, str], str] = {}
        self._verified: dict[tuple[str, str], tuple[Identity, float]] = {}

    @classmethod
    def from_settings(cls, settings: Any) -> InternalAuth:
        return cls(settings.service, parse_keys(settings.internal_auth_keys), settings.internal_auth_key_id)

    def mint(self, *, audience: str, subject: str, role: str = "user") -> str:
        """A token for one call to `audience` on behalf of `subject`.

        The claims hold whole seconds and HS256 is deterministic, so the tokens minted for the
        same audience, subject and role within one second are the same string: the first is
        kept for the rest of that second instead of signing it again (about 50 us a request)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        now = int(time.time())
        if now != self._minted_at:
            self._minted_at, self._minted = now, {}
        if (token := self._minted.get((audience, subject, role))) is not None:
            return token
        token = self._sign(now, audience=audience, subject=subject, role=role)
        self._minted[(audience, subject, role)] = token
        return token

    def _sign(self, now: int, *, audience: str, subject: str, role: str) -> str:
        claims = {
            "iss": _ISSUER,
            "aud": audience,
            "sub": subject,
            "role": role,
            "iat": now,
            "exp": now + self._ttl,
            "by": self.service,
        }
        return jwt.encode(
            claims, self._keys[self._signing_key_id], algorithm="HS256", headers={"kid": self._signing_key_id}
        )

    def headers(self, *, audience: str, subject: str, role: str = "user") -> dict[str, str]:
        """The header that carries a freshly minted token."""
        return {IDENTITY_HEADER: self.mint(audience=audience, subject=subject, role=role)}

    def client_auth(self, audience: str, *, subject: str | None = None, role: str = "service") -> httpx.Auth:
        """For an httpx client calling `audience`: every request gets a fresh token, as this
        service by default (or as `subject`/`role`, for tests and benches acting as the gateway)."""
        return _SigningAuth(self, audience, subject or self.service, role)

    def verify(self, token: str, *, audience: str | None = None) -> Identity:
        """The identity in `token`, if it is signed by a known key, for `audience`, and alive.

        A token verified once is remembered until it expires (a caller sends the same token for
        every request of a second, `mint`): checking it again costs a lookup and the expiry
        test, never less than the first check. Only verified tokens are remembered."""
        audience = audience or self.service
        now = time.time()
        remembered = self._verified.get((token, audience))
        if remembered is not None:
            identity, expires = remembered
            if now < expires + LEEWAY_SECONDS:  # PyJWT's own rule: expired once exp <= now - leeway
                return identity
            del self._verified[(token, audience)]
        identity, expires = self._check(token, audience)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified = {k: v for k, v in self._verified.items() if now < v[1] + LEEWAY_SECONDS}
            if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                self._verified = {}
        self._verified[(token, audience)] = (identity, expires)
        return identity

    def _check(self, token: str, audience: str) -> tuple[Identity, float]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise InvalidIdentity("unknown signing key")
            claims = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                audience=audience,
                issuer=_ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "aud", "sub", "iss"]},
            )
        except jwt.PyJWTError as error:
            raise InvalidIdentity(str(error)) from error
        subject, role, expires = claims.get("sub"), claims.get("role"), claims.get("exp")
        if not isinstance(subject, str) or not subject or role not in ROLES or not isinstance(expires, (int, float)):
            raise InvalidIdentity("malformed claims")
        by = claims.get("by")
        return Identity(subject=subject, role=role, by=by if isinstance(by, str) else ""), float(expires)


class _SigningAuth(httpx.Auth):
    def __init__(self, auth: InternalAuth, audience: str, subject: str, role: str) -> None:
        self._auth, self._audience, self._subject, self._role = auth, audience, subject, role

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self._auth.headers(audience=self._audience, subject=self._subject, role=self._role))
        yield request


_UNAUTHENTICATED = "authentication required"


async def require_identity(
    request: Request, x_docstore_identity: Annotated[str | None, Header(include_in_schema=False)] = None
) -> Identity:
    """The verified caller, or 401 when the request carries no valid identity token."""
    auth: InternalAuth | None = getattr(request.app.state, "internal_auth", None)
    if auth is None or not x_docstore_identity:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, _UNAUTHENTICATED)
    try:
        return auth.verify(x_docstore_identity)
    except InvalidIdentity:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, _UNAUTHENTICATED) from None


async def require_account_id(identity: Annotated[Identity, Depends(require_identity)]) -> str:
    """The authenticated account id (a person, through the gateway)."""
    if identity.role == "service":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this route acts for an account")
    return identity.subject


async def require_admin(identity: Annotated[Identity, Depends(require_identity)]) -> str:
    """The authenticated account id of an administrator, or 403."""
    if identity.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this route is for administrators")
    return identity.subject


async def require_service(identity: Annotated[Identity, Depends(require_identity)]) -> str:
    """The name of the calling service, or 403: `/internal/...` routes serve services only."""
    if identity.role != "service":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this route is for DocStore's own services")
    return identity.subject


CurrentAccountId = Annotated[str, Depends(require_account_id)]
AdminAccountId = Annotated[str, Depends(require_admin)]
ServiceCaller = Annotated[str, Depends(require_service)]
