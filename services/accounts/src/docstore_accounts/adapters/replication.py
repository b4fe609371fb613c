"""Cross-region account replication: the queue in the home region, the relay that drains it,
and the replicas and username claims a region keeps.

Home side: every account change that replicates (sign-up, plan change, deletion, a lost
username) upserts one `replication_outbox` row per peer region, in the same transaction as
the change. The row holds the account's whole minimal state and its `version`, so a newer
change replaces a row not yet sent, and the order of delivery does not matter. The relay
PUTs due rows to the peer's `/internal/replicas/{id}` and deletes a row only if its version
is still the one it sent; a failed write is retried with exponential backoff.

Receiving side: `replicas` holds other regions' accounts (id, username, home region, plan,
status, version; never a password, hash or e-mail); a write with a version not above the
stored one changes nothing, so a resent row is harmless. `usernames` holds, per username,
the account that owns it in this region's view (a local account or a replica): sign-up and
replica writes both write that document, so two of them racing on one name conflict in
MongoDB and one is retried after the other committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from prometheus_client import Counter, Histogram
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from docstore_accounts.domain.accounts import UsernameTaken
from docstore_kit.http_transport import async_client
from docstore_messaging.faults import crashpoint
from docstore_messaging.tracing import propagate_to_request

log = structlog.get_logger(__name__)

Session = AsyncClientSession | None
REPLICA_FIELDS = ("username", "home_region", "plan", "status", "version")
OPTIONAL_REPLICA_FIELDS = {"oidc_identities": list}
"""Fields a sender from before them leaves out (an empty value then)."""
SECRET_HEADER = "X-Replication-Secret"

sent_total = Counter("docstore_replication_sent_total", "Replica writes sent to peer regions", ["target", "outcome"])
send_seconds = Histogram("docstore_replication_send_seconds", "Time of one replica write to a peer region", ["target"])


_sequence = itertools.count()


class ReplicaWrites:
    """The home side's writes into the queue, bound to one session (the account change's transaction)."""

    def __init__(self, db: AsyncDatabase[Any], peers: Mapping[str, str], session: Session = None) -> None:
        self.rows = db["replication_outbox"]
        self.peers = dict(peers)
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.rows.create_index([("next_attempt_at", 1)])

    async def enqueue(self, account_id: str, state: Mapping[str, Any]) -> None:
        """Queue `state` for every peer, inside the transaction (replaces an older unsent state)."""
        now = datetime.now(UTC)
        for target in self.peers:
            await self.rows.update_one(
                {"_id": f"{target}:{account_id}"},
                {
                    "$set": {
                        "target": target,
                        "account_id": account_id,
                        "replica": dict(state),
                        "version": state["version"],
                        "next_attempt_at": now,
                        "attempts": 0,
                        "queued_at": now,
                    },
                    "$setOnInsert": {"seq": (time.time_ns(), next(_sequence))},
                },
                upsert=True,
                session=self.session,
            )


class ReplicationQueue:
    """The relay's side of the home region's queue of replica writes, one row per (peer region,
    account): what is due, what was delivered, what failed. `wake()` after a commit that queued."""

    def __init__(self, db: AsyncDatabase[Any], peers: Mapping[str, str]) -> None:
        self.rows = db["replication_outbox"]
        self.peers = dict(peers)
        self.written = asyncio.Event()

    def wake(self) -> None:
        self.written.set()

    async def due(self, limit: int, *, resting: Collection[str] = ()) -> list[dict[str, Any]]:
        """Rows due now, except those for the regions in `resting`."""
        query: dict[str, Any] = {"next_attempt_at": {"$lte": datetime.now(UTC)}}
        if resting:
            query["target"] = {"$nin": sorted(resting)}
        return await self.rows.find(query).limit(limit).to_list(limit)

    async def done(self, row: Mapping[str, Any]) -> None:
        """Forget a sent row, unless a newer state replaced it meanwhile (that one is sent next)."""
        await self.rows.delete_one({"_id": row["_id"], "version": row["version"]})

    async def failed(self, row: Mapping[str, Any], delay: float, error: str) -> None:
        await self.rows.update_one(
            {"_id": row["_id"], "version": row["version"]},
            {
                "$set": {"next_attempt_at": datetime.now(UTC) + timedelta(seconds=delay), "last_error": error[:500]},
                "$inc": {"attempts": 1},
            },
        )

    async def pending(self) -> int:
        return await self.rows.count_documents({})


class _NotTried:
    """A row of a batch left as it is: its region failed while the batch was sent."""


NOT_TRIED = _NotTried()


class PeerRejected(Exception):
    """The peer answered, but not with success (misconfigured secret, bad row)."""


class ReplicationRelay:
    """Sends queued replica writes to the peer regions, with retries and backoff, until cancelled.

    A region that cannot be reached rests: for a backoff of its own, its rows are not read, and
    the rows of a batch that were not tried are not written. Only the rows tried get their
    `attempts` and `next_attempt_at`. So a region that is down costs one probe per backoff, not
    a write per queued row (a home region queues a row per account change for as long as the
    other is down)."""

    def __init__(
        self,
        queue: ReplicationQueue,
        *,
        secret: str,
        batch_size: int = 200,
        concurrency: int = 16,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        poll_interval: float = 1.0,
        timeout: float = 5.0,
    ) -> None:
        self.queue = queue
        self.secret = secret
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.rest_until: dict[str, float] = {}
        """Region -> the monotonic time before which its rows are not read."""
        self.region_failures: dict[str, int] = {}
        """Region -> connection failures in a row (its backoff)."""

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failures: doubling, capped, with jitter."""
        delay = min(self.retry_max, self.retry_initial * 2.0 ** min(attempts, 30))
        return delay * random.uniform(0.8, 1.0)

    def _client(self, target: str) -> httpx.AsyncClient:
        if target not in self.clients:
            self.clients[target] = async_client(
                base_url=self.queue.peers[target],
                timeout=self.timeout,
                headers={SECRET_HEADER: self.secret},
                event_hooks={"request": [propagate_to_request]},  # the peer joins the current trace
            )
        return self.clients[target]

    async def _send(self, row: Mapping[str, Any]) -> None:
        target = row["target"]
        if target not in self.queue.peers:
            raise PeerRejected(f"region {target} is no longer configured")
        body = {"account_id": row["account_id"], **row["replica"]}
        with send_seconds.labels(target).time():
            response = await self._client(target).put(f"/internal/replicas/{row['account_id']}", json=body)
        if response.status_code != 200:
            raise PeerRejected(f"{response.status_code} {response.text[:200]}")

    async def send_batch(self) -> int:
        """Send one batch of due rows; returns how many were delivered."""
        now = time.monotonic()
        resting = [target for target, until in self.rest_until.items() if until > now]
        rows = await self.queue.due(self.batch_size, resting=resting)
        if not rows:
            return 0
        # A region that was unreachable gets one row, a probe; its other rows wait for the answer.
        probed: set[str] = set()
        batch: list[dict[str, Any]] = []
        for row in rows:
            if self.region_failures.get(row["target"]):
                if row["target"] in probed:
                    continue
                probed.add(row["target"])
            batch.append(row)
        gate = asyncio.Semaphore(self.concurrency)
        down: set[str] = set()

        async def one(row: dict[str, Any]) -> BaseException | None | _NotTried:
            async with gate:
                if row["target"] in down:  # the region just failed: leave the row as it is
                    return NOT_TRIED
                try:
                    await self._send(row)
                    return None
                except (httpx.HTTPError, PeerRejected) as error:
                    if isinstance(error, httpx.TransportError):
                        down.add(row["target"])
                    return error

        results = await asyncio.gather(*(one(row) for row in batch))
        if any(error is None for error in results):
            # A crash here: writes of the batch reached the peer, none is marked done.
            crashpoint("replication.after_send")
        delivered = 0
        failed: set[str] = set()
        for row, error in zip(batch, results, strict=True):
            if error is NOT_TRIED:
                continue
            if error is None:
                await self.queue.done(row)
                sent_total.labels(row["target"], "ok").inc()
                delivered += 1
                if self.region_failures.pop(row["target"], 0):
                    log.info("replication_region_back", target=row["target"])
                    if len(batch) < len(rows):
                        self.queue.wake()  # its rows left out of this batch go at once, not at the next poll
            else:
                await self.queue.failed(row, self.backoff(row.get("attempts", 0)), repr(error))
                sent_total.labels(row["target"], "failed").inc()
                failed.add(row["target"])
        for target in down:
            failures = self.region_failures.get(target, 0)
            self.rest_until[target] = time.monotonic() + self.backoff(failures)
            self.region_failures[target] = failures + 1
            if not failures:
                log.warning("replication_region_unreachable", target=target)
        if failed - down:
            log.warning("replication_retrying", targets=sorted(failed - down))
        return delivered

    async def run(self) -> None:
        if not self.queue.peers:
            return
        try:
            while True:
                self.queue.written.clear()
                sent = 0
                try:
                    sent = await self.send_batch()
                except asyncio.CancelledError:
                    raise
                except Exception:  # MongoDB away: the rows stay, try again
                    log.exception("replication_relay_failed")
                if sent >= self.batch_size:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.queue.written.wait(), timeout=self.poll_interval)
        finally:
            for client in self.clients.values():
                await client.aclose()


class ReplicaRepository:
    """Other regions' accounts (`replicas`) and who holds each username here (`usernames`)."""

    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.replicas = db["replicas"]
        self.usernames = db["usernames"]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.replicas.create_index("username")
        await self.replicas.create_index("oidc_identities")

    async def home_of_identity(self, identity_id: str) -> str | None:
        """The home region of the active account (replica) an OpenID identity is linked to there."""
        replica = await self.replicas.find_one(
            {"oidc_identities": identity_id, "status": "active"}, {"home_region": 1}, session=self.session
        )
        return str(replica["home_region"]) if replica is not None else None

    async def replica(self, account_id: str) -> dict[str, Any] | None:
        return await self.replicas.find_one({"_id": account_id}, session=self.session)

    async def put_replica(self, account_id: str, state: Mapping[str, Any]) -> None:
        await self.replicas.update_one(
            {"_id": account_id},
            {
                "$set": {
                    **{name: state[name] for name in REPLICA_FIELDS},
                    **{name: state.get(name) or empty() for name, empty in OPTIONAL_REPLICA_FIELDS.items()},
                    "replicated_at": datetime.now(UTC),
                }
            },
            upsert=True,
            session=self.session,
        )

    async def owner_of(self, username: str) -> dict[str, Any] | None:
        """`{account_id, home_region}` holding `username` in this region, or None."""
        return await self.usernames.find_one({"_id": username}, session=self.session)

    async def claim(self, username: str, account_id: str, home_region: str) -> None:
        """Record the owner of `username` (upsert; the write every racer on this name makes)."""
        await self.usernames.update_one(
            {"_id": username},
            {
                "$set": {"account_id": account_id, "home_region": home_region, "at": datetime.now(UTC)},
                "$inc": {"writes": 1},
            },
            upsert=True,
            session=self.session,
        )

    async def claim_new(self, username: str, account_id: str, home_region: str) -> None:
        """Claim a username nobody holds here; `UsernameTaken` if somebody does."""
        try:
            await self.usernames.insert_one(
                {
                    "_id": username,
                    "account_id": account_id,
                    "home_region": home_region,
                    "at": datetime.now(UTC),
                    "writes": 1,
                },
                session=self.session,
            )
        except DuplicateKeyError as error:
            raise UsernameTaken(username) from error
