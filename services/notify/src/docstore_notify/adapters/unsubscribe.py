"""Unsubscribe links that work without logging in.

A token is the HMAC-SHA256 of (account id, kind) under `unsubscribe_secret`, in
URL-safe base64: unguessable, and carrying no account data (the mail must not). The
token is remembered (token -> account, kind) when a mail is sent, and checked again
against the secret when used, so a changed secret invalidates old links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "unsubscribe_tokens"
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
"""What `sign` makes: 32 bytes of HMAC-SHA256 in unpadded URL-safe base64."""


def well_formed(token: str) -> bool:
    """True when `token` could be one of ours (ASCII, URL-safe alphabet, exact length): anything
    else is refused before it reaches MongoDB or a comparison."""
    return TOKEN.fullmatch(token) is not None


def sign(secret: str, account_id: str, kind: str) -> str:
    digest = hmac.new(secret.encode(), f"{account_id}\x00{kind}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class UnsubscribeLinks:
    def __init__(self, db: AsyncDatabase[Any], *, secret: str, base_url: str) -> None:
        self.collection = db[COLLECTION]
        self.secret = secret
        self.base_url = base_url.rstrip("/")

    async def link(self, account_id: str, kind: str) -> str:
        token = sign(self.secret, account_id, kind)
        await self.collection.update_one(
            {"_id": token}, {"$set": {"account_id": account_id, "kind": kind}}, upsert=True
        )
        return f"{self.base_url}/v1/notifications/unsubscribe/{token}"

    async def resolve(self, token: str) -> tuple[str, str] | None:
        """(account id, kind) of a valid token, or None."""
        if not well_formed(token):
            return None
        row = await self.collection.find_one({"_id": token})
        if row is None:
            return None
        # Bytes, not str: compare_digest raises TypeError for non-ASCII str (well_formed rules it
        # out already; bytes keep that true whatever the stored row holds).
        expected = sign(self.secret, row["account_id"], row["kind"]).encode("ascii")
        if not hmac.compare_digest(expected, token.encode("ascii")):
            return None
        return row["account_id"], row["kind"]
