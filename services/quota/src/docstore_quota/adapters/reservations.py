"""Reservations in MongoDB (`reservations`, one document per upload id) and the
transactions that grant, release and read them.

Granting is a check then an insert, so two grants for the same account must not both see
the same room: every grant also bumps `reservation_seq` on the account's `usage` document
inside its transaction. Two concurrent grants for one account therefore write the same
document, the server aborts one with a transient WriteConflict, and the driver's
`with_transaction` runs it again on a snapshot that includes the winner's reservation.
Writing the `usage` document also orders grants against the ledger's own changes (every
event applied to an account writes that document), so a grant never reads usage and
reservations from two different moments.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession as AsyncIOMotorClientSession
from pymongo.asynchronous.database import AsyncDatabase as AsyncIOMotorDatabase
from pymongo.errors import DuplicateKeyError

from docstore_kit import errors
from docstore_quota.adapters.usage_repository import UsageRepository
from docstore_quota.domain.reservations import Decision, Held, dead_before, decide
from docstore_quota.domain.usage import Usage

log = structlog.get_logger(__name__)

COLLECTION = "reservations"

T = TypeVar("T")
Session = AsyncIOMotorClientSession
Transaction = Callable[[Callable[[Session], Awaitable[T]]], Awaitable[T]]


class UploadIdTaken(errors.Conflict):
    """The upload id is reserved for another account."""

    problem = "upload-id-taken"
    title = "Upload id taken"

    def detail(self) -> str:
        # The message is the upload id; the answer does not echo it.
        return "this upload id is reserved for another account"


class Reservations:
    """Room held for pending upload grants, per account.

    `transaction` runs a unit of work in one MongoDB transaction with retries on transient
    errors (the events runtime's `transaction`); `clock` is injectable for tests.
    """

    def __init__(
        self,
        db: AsyncIOMotorDatabase,
        usage: UsageRepository,
        transaction: Transaction,
        caps: dict[str, int],
        grace: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.collection = db[COLLECTION]
        self.usage = usage
        self.transaction = transaction
        self.caps = caps
        self.grace = grace
        self.clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def _account_lock(self, account_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(account_id, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._locks.get(account_id) is lock:
                del self._locks[account_id]  # keep the map to accounts granting right now

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("account_id", 1), ("expires_at", 1)])
        await self.collection.create_index([("expires_at", 1)])

    def _cutoff(self) -> datetime:
        return dead_before(self.clock(), self.grace)

    async def _live(self, account_id: str, session: Session | None) -> list[dict[str, Any]]:
        found = self.collection.find(
            {"account_id": account_id, "expires_at": {"$gt": self._cutoff()}}, {"size": 1}, session=session
        )
        return [doc async for doc in found]

    # --- grants ----------------------------------------------------------------------

    async def reserve(self, account_id: str, upload_id: str, size: int, expires_at: datetime) -> tuple[Usage, Decision]:
        """Grant or refuse `size` bytes for `upload_id`, atomically for the account.

        Raises `UploadIdTaken` when another account holds a reservation with this upload id.
        """

        async def work(session: Session) -> tuple[Usage, Decision]:
            existing = await self.collection.find_one({"_id": upload_id}, session=session)
            if existing is not None and existing["account_id"] != account_id:
                raise UploadIdTaken(upload_id)
            live = existing is not None and existing["expires_at"] > self._cutoff()
            held = Held(existing["size"]) if live and existing is not None else None
            usage = await self.usage.get(account_id, session)
            others = sum(doc["size"] for doc in await self._live(account_id, session) if doc["_id"] != upload_id)
            decision = decide(usage, self.caps, size, others, held)
            if decision.store:
                # The write that makes concurrent grants for this account conflict (see the module doc).
                await self.usage.bump_reservation_seq(account_id, session)
                await self.collection.replace_one(
                    {"_id": upload_id},
                    {"account_id": account_id, "size": size, "expires_at": expires_at, "reserved_at": self.clock()},
                    upsert=True,
                    session=session,
                )
            return usage, decision

        # One grant per account at a time in this process: concurrent grants of one account (a
        # sync client sending files in parallel) would otherwise conflict inside the transaction
        # and retry over and over. Across replicas the transaction still decides.
        async with self._account_lock(account_id):
            return await self._reserve_in_transaction(work)

    async def _reserve_in_transaction(self, work: Callable[[Session], Any]) -> tuple[Usage, Decision]:
        for attempt in range(3):
            try:
                return await self.transaction(work)
            except DuplicateKeyError:
                # Two first grants for the same new upload id raced; the loser runs again and
                # now finds the winner's reservation (a repeat).
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def release(self, account_id: str, upload_id: str, session: Session | None = None) -> bool:
        """Forget the reservation of `upload_id` (its upload completed, expired or was cancelled).

        Pass the session of the transaction that applies the upload's outcome, so the bytes move
        from reserved to used (or to nothing) in one step. Returns whether one was removed.
        """
        result = await self.collection.delete_one({"_id": upload_id, "account_id": account_id}, session=session)
        return result.deleted_count > 0

    # --- reads -----------------------------------------------------------------------

    async def room(self, account_id: str) -> tuple[Usage, int]:
        """The account's usage and its live reserved bytes, read from one snapshot."""

        async def work(session: Session) -> tuple[Usage, int]:
            usage = await self.usage.get(account_id, session)
            return usage, sum(doc["size"] for doc in await self._live(account_id, session))

        return await self.transaction(work)

    async def reserved_by_account(self, account_ids: Iterable[str]) -> dict[str, int]:
        """Live reserved bytes of each of `account_ids` (absent: none), for listings."""
        pipeline = [
            {"$match": {"account_id": {"$in": list(account_ids)}, "expires_at": {"$gt": self._cutoff()}}},
            {"$group": {"_id": "$account_id", "bytes": {"$sum": "$size"}}},
        ]
        return {row["_id"]: row["bytes"] async for row in await self.collection.aggregate(pipeline)}

    # --- cleanup ---------------------------------------------------------------------

    async def purge_expired(self) -> int:
        """Delete reservations that no longer count (grant expired more than `grace` ago).

        They are already ignored by every read; this only keeps the collection small. Safe on
        every replica at once.
        """
        result = await self.collection.delete_many({"expires_at": {"$lte": self._cutoff()}})
        if result.deleted_count:
            log.info("quota_reservations_purged", count=result.deleted_count)
        return result.deleted_count

    async def purge_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.purge_expired()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("quota_reservation_purge_failed")
