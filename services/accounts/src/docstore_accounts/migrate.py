"""`python -m docstore_accounts.migrate`: copy today's account data out of metadata's database into
this service's own (issue 36), with the service's settings (`ACCOUNTS_MONGODB_URL`, ...).

Run it at the cutover, after metadata stopped writing identity (every account collection is
listed in `adapters/migration.py`). It only reads the source, and a rerun leaves an exact copy
(documents replaced by id, what the source no longer holds removed), so it is safe to run again
after an interruption. Prints one JSON object: per collection, documents copied and removed, and
indexes made. `--from-database` names the source (default: metadata's database of this region,
`docstore_metadata_<region>`, or `METADATA_MONGODB_DATABASE`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from docstore_accounts.adapters.migration import ACCOUNT_COLLECTIONS, AUDIT_COLLECTIONS
from docstore_accounts.settings import Settings
from docstore_kit.collection_copy import copy_out_of_metadata


async def migrate(settings: Settings, source_database: str | None = None) -> dict[str, Any]:
    return await copy_out_of_metadata(settings, ACCOUNT_COLLECTIONS + AUDIT_COLLECTIONS, source_database)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m docstore_accounts.migrate", description=__doc__)
    parser.add_argument("--from-database", help="the database holding the account collections now")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(migrate(Settings(), args.from_database))))


if __name__ == "__main__":
    main()
