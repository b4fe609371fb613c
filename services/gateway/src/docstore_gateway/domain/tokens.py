"""Bearer tokens: how they are made, read from a header, and what they may look like before
the gateway looks one up.

A token is `<region>.<urlsafe random>`: the issuing region prefixes it, so another region's
gateway can send its holder home. A gateway without a region issues bare `<urlsafe random>`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection

_RANDOM = re.compile(r"[A-Za-z0-9_-]{1,256}")
"""The random part: URL-safe base64 (`secrets.token_urlsafe`), of a sane length."""


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
