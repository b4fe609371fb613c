"""`python -m docstore_links.migrate`: copy today's public links out of metadata's database into
this service's own (issue 36), with the service's settings (`LINKS_MONGODB_URL`, ...).

Run it at the cutover, once metadata no longer serves the link routes (the gateway routes them
here). It only reads the source, and a rerun leaves an exact copy (documents replaced by id, what
the source no longer holds removed), so it is safe to run again after an interruption. Prints one
JSON object: per collection, documents copied and removed, and indexes made. `--from-database`
names the source (default: metadata's database of this region, `docstore_metadata_<region>`, or
`METADATA_MONGODB_DATABASE`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from docstore_kit.collection_copy import copy_out_of_metadata
from docstore_links.adapters.migration import LINK_COLLECTIONS
from docstore_links.settings import Settings


async def migrate(settings: Settings, source_database: str | None = None) -> dict[str, Any]:
    return await copy_out_of_metadata(settings, LINK_COLLECTIONS, source_database)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m docstore_links.migrate", description=__doc__)
    parser.add_argument("--from-database", help="the database holding the link collections now")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(migrate(Settings(), args.from_database))))


if __name__ == "__main__":
    main()
