"""The operators' admin command: `python -m docstore_accounts.admins grant|revoke --account ID`
(or `--username NAME`: an account that exists now, looked up once), `... list`.

Administrators are named by account id, never by a username anyone could claim by signing up
first (issue 33): this command stores `role: "admin"` on an existing home account, and
`ACCOUNTS_ADMIN_ACCOUNT_IDS` names ids in the settings. The role reaches a session at its next
login. Prints one JSON object per account; exits 1 when an account named is not found.
It reads the service's settings (`ACCOUNTS_MONGODB_URL`, ...) and talks to MongoDB only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from docstore_accounts.settings import Settings
from docstore_kit.app import mongo_client


def parser() -> argparse.ArgumentParser:
    commands = argparse.ArgumentParser(prog="python -m docstore_accounts.admins", description=__doc__)
    sub = commands.add_subparsers(dest="command", required=True)
    for name, what in (("grant", "give the admin role"), ("revoke", "take the admin role back")):
        command = sub.add_parser(name, help=what)
        which = command.add_mutually_exclusive_group(required=True)
        which.add_argument("--account", help="the account id")
        which.add_argument("--username", help="the username of an account that exists now")
    sub.add_parser("list", help="the accounts holding the role (stored; the settings' ids are printed apart)")
    return commands


async def set_role(db: AsyncDatabase[Any], *, account_id: str | None, username: str | None, admin: bool) -> Any:
    """Store the role on the home account named; its document after the change, or None."""
    accounts = db["accounts"]
    query = {"_id": account_id} if account_id else {"username": (username or "").strip().lower()}
    found = await accounts.find_one(query, {"_id": 1, "username": 1, "status": 1})
    if found is None:
        return None
    await accounts.update_one({"_id": found["_id"]}, {"$set": {"role": "admin" if admin else "user"}})
    return {"account_id": found["_id"], "username": found["username"], "role": "admin" if admin else "user"}


async def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings()
    client = mongo_client(settings)
    try:
        db = client[settings.mongodb_database]
        if args.command == "list":
            async for account in db["accounts"].find({"role": "admin"}, {"_id": 1, "username": 1}):
                print(json.dumps({"account_id": account["_id"], "username": account["username"], "role": "admin"}))
            for account_id in sorted(settings.admin_ids()):
                print(json.dumps({"account_id": account_id, "role": "admin", "from": "ACCOUNTS_ADMIN_ACCOUNT_IDS"}))
            return 0
        changed = await set_role(db, account_id=args.account, username=args.username, admin=args.command == "grant")
        if changed is None:
            print(json.dumps({"error": "no such account", "account": args.account or args.username}))
            return 1
        print(json.dumps(changed))
        return 0
    finally:
        await client.close()


def main() -> None:
    sys.exit(asyncio.run(run(sys.argv[1:])))


if __name__ == "__main__":
    main()
