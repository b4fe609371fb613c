"""The operators' key-rotation command: `python -m docstore_accounts.rotate_secrets`.

Re-encrypts every TOTP secret (enabled or pending) with the first key of `ACCOUNTS_SECRETS_KEYS`.
A rotation: (1) set the keys to `NEW,OLD` on every accounts pod; (2) run this once (it is safe to
run again, or while logins go on: each secret is replaced by one conditional update that matches
only the ciphertext it read); (3) set the keys to `NEW`. Prints `{"rotated": n, "unreadable": m}`
and exits 1 when a secret opens with none of the keys (one was dropped too early).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from docstore_accounts.domain.credentials import SecretBox, parse_keys
from docstore_accounts.settings import Settings
from docstore_kit.app import mongo_client

FIELDS = ("mfa.secret", "mfa.pending_secret")


async def rotate_all(db: AsyncDatabase[Any], box: SecretBox) -> dict[str, int]:
    """Re-encrypt every stored TOTP secret with the box's first key."""
    rotated = unreadable = 0
    accounts = db["accounts"]
    for field in FIELDS:
        async for account in accounts.find({field: {"$exists": True}}, {field: 1}):
            current = account.get("mfa", {}).get(field.split(".", 1)[1])
            if not isinstance(current, str):
                continue
            try:
                fresh = box.rotate(current)
            except ValueError:
                unreadable += 1
                continue
            changed = await accounts.update_one({"_id": account["_id"], field: current}, {"$set": {field: fresh}})
            rotated += changed.modified_count
    return {"rotated": rotated, "unreadable": unreadable}


async def run() -> int:
    settings = Settings()
    client = mongo_client(settings)
    try:
        outcome = await rotate_all(client[settings.mongodb_database], SecretBox(parse_keys(settings.secrets_keys)))
    finally:
        await client.close()
    print(json.dumps(outcome))
    return 1 if outcome["unreadable"] else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run()))
