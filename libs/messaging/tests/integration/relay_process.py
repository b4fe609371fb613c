"""Run as a process: write one event through the outbox (unless told not to), then relay.

Used by the crash tests: `DOCSTORE_CRASH_AT` kills this process at a chosen line.
Usage: relay_process.py BOOTSTRAP MONGO_URL DATABASE PREFIX ACCOUNT_ID [--write]
"""

from __future__ import annotations

import asyncio
import sys

from pymongo import AsyncMongoClient

from docstore_events import QuotaExceeded
from docstore_messaging.runtime import EventRuntime
from docstore_messaging.unit_of_work import Transaction


async def main(bootstrap: str, mongo_url: str, database: str, prefix: str, account_id: str, write: bool) -> None:
    mongo = AsyncMongoClient(mongo_url, tz_aware=True)
    events = EventRuntime(
        service="relay-test", region="test", bootstrap_servers=bootstrap, db=mongo[database], topic_prefix=prefix
    )
    await events.start()
    if write:
        event = QuotaExceeded(account_id=account_id, used_bytes=2, cap_bytes=1, plan="free")

        async def write(tx: Transaction[None]) -> None:
            tx.emit(event)

        await events.unit_of_work(lambda session: None).run(write)
    # Let the runtime's relay publish everything pending, then stop.
    while await events.outbox.collection.count_documents({"status": "pending"}):
        await asyncio.sleep(0.05)
    await events.stop()
    print("relayed")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6], write="--write" in sys.argv))
