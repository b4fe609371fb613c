"""The operators' audit command: `python -m docstore_accounts.audit verify --account ID` (or `--all`),
`... purge` (retention, as the background loop does it now).

It reads the same settings as the service (`ACCOUNTS_MONGODB_URL`, ...) and talks to MongoDB only.
`verify` prints one JSON object per account and exits 1 if any chain is broken, so it can run as
a scheduled job that alerts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict

from docstore_accounts.bootstrap import audit_trail_on
from docstore_accounts.settings import Settings
from docstore_kit.app import mongo_client
from docstore_messaging.outbox import Outbox
from docstore_messaging.unit_of_work import MongoUnitOfWork


def parser() -> argparse.ArgumentParser:
    commands = argparse.ArgumentParser(prog="python -m docstore_accounts.audit", description=__doc__)
    sub = commands.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="check accounts' audit hash chains")
    which = check.add_mutually_exclusive_group(required=True)
    which.add_argument("--account", action="append", help="an account id (repeatable)")
    which.add_argument("--all", action="store_true", help="every account with an audit trail")
    sub.add_parser("purge", help="delete records older than ACCOUNTS_AUDIT_RETENTION_DAYS now")
    return commands


async def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings()
    client = mongo_client(settings)
    try:
        db = client[settings.mongodb_database]
        # The command emits no events; the outbox is there because a unit of work has one.
        trail = audit_trail_on(settings, lambda bind: MongoUnitOfWork(client, db, Outbox(db, source="cli"), bind), db)
        if args.command == "purge":
            print(json.dumps({"purged": await trail.purge_expired()}))
            return 0
        accounts = args.account or [account async for account in trail.reads.accounts()]
        broken = 0
        for account_id in accounts:
            verdict = await trail.verify(account_id)
            broken += not verdict.ok
            print(json.dumps({"account_id": account_id, **asdict(verdict)}))
        return 1 if broken else 0
    finally:
        await client.close()


def main() -> None:
    sys.exit(asyncio.run(run(sys.argv[1:])))


if __name__ == "__main__":
    main()
