"""Unsubscribe links that work without logging in.

A token is the HMAC-SHA256 of (account id, kind) under `unsubscribe_secret`, in unpadded
URL-safe base64: unguessable, and carrying no account data (the mail must not). The token is
remembered (token -> account, kind) when a mail is sent, and checked again against the secret
when used, so a changed secret invalidates old links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
"""What `sign` makes: 32 bytes of HMAC-SHA256 in unpadded URL-safe base64."""


def well_formed(token: str) -> bool:
    """True when `token` could be one of ours (ASCII, URL-safe alphabet, exact length): anything
    else is refused before it reaches MongoDB or a comparison."""
    return TOKEN.fullmatch(token) is not None


def sign(secret: str, account_id: str, kind: str) -> str:
    digest = hmac.new(secret.encode(), f"{account_id}\x00{kind}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Makes and checks the links under one secret, pointing at the gateway's public URL."""

    secret: str
    base_url: str

    def token(self, account_id: str, kind: str) -> str:
        return sign(self.secret, account_id, kind)

    def url(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/v1/notifications/unsubscribe/{token}"

    def genuine(self, token: str, account_id: str, kind: str) -> bool:
        """True when `token` is this secret's signature of (`account_id`, `kind`), compared in
        constant time. Bytes, not str: compare_digest raises TypeError for non-ASCII str
        (`well_formed` rules that out already; bytes keep it true whatever was stored)."""
        if not well_formed(token):
            return False
        expected = self.token(account_id, kind).encode("ascii")
        return hmac.compare_digest(expected, token.encode("ascii"))
