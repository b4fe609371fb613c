"""`docstore-analytics-rebuild` (or `python -m docstore_analytics.cli`): wipe the roll-ups and
fold the ledger again, with the service's settings, without starting the consumer."""

from __future__ import annotations

import asyncio
import json

from docstore_analytics.adapters.repositories import ensure_indexes
from docstore_analytics.bootstrap import bootstrap
from docstore_analytics.settings import Settings


async def rebuild(settings: Settings) -> dict[str, int]:
    services = bootstrap(settings)
    try:
        await ensure_indexes(services.runtime.db)
        return await services.recorder.rebuild()
    finally:
        await services.runtime.mongo.close()


def main() -> None:
    print(json.dumps(asyncio.run(rebuild(Settings()))))


if __name__ == "__main__":
    main()
