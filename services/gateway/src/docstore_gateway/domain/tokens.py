"""What a bearer token may look like before the gateway looks it up."""

from __future__ import annotations

import re
from collections.abc import Collection

_RANDOM = re.compile(r"[A-Za-z0-9_-]{1,256}")
"""The random part: URL-safe base64 (`secrets.token_urlsafe`), of a sane length."""


def well_formed(token: str, known_regions: Collection[str]) -> bool:
    """True for `<region>.<urlsafe-random>` whose region is one DocStore runs (this region, or one in
    REGION_GATEWAYS); a bare `<urlsafe-random>` only when this gateway has no region (then it issues
    such tokens). Anything else is answered 401 without a lookup, and never repeated back."""
    region, dot, rest = token.partition(".")
    if not dot:
        return "" in known_regions and _RANDOM.fullmatch(token) is not None
    return region in known_regions and region != "" and _RANDOM.fullmatch(rest) is not None
