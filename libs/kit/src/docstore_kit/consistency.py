"""The plumbing of a consistency checker: a background job, in the service that owns some facts,
that compares them with what the services consuming them applied, and repairs what is missing
by publishing the fact's event again, under its original id, through the owner's outbox
(`Outbox.republish`), so the ordinary idempotent consumers apply it once.

Modelled on Dropbox's continuous checkers ("Pocket watch"): it runs all the time, compares what
must agree, repairs through the normal path, and reports each repair (a log line, Prometheus
counters, and an admin route that runs it on demand and answers what it found).

What a service provides is a `Check`: one bounded page of its facts after a watermark, each
compared with the consumers' answers (HTTP between services is read-only: a consumer answers
`POST /internal/processed-events`, "which of these event ids did you apply?", from its
processed-event records; `processed_events_router`). This module runs the checks:

* a `Lease` in the owner's database, so one replica runs them at a time;
* a watermark per check (`consistency_checks`), so each run goes on where the last one stopped,
  `pages_per_run` pages of `page_size` at most; at the end of the facts it starts again from the
  beginning, so history (what older versions left behind) is checked too, not only new facts;
* counters by check and consumer: `docstore_consistency_{scanned,found,repaired,unverifiable}_total`.

The rules of what must agree live in each service's domain (no business rules here).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, Protocol, TypeVar

import httpx
import structlog
from fastapi import APIRouter, Body, Query, Request
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, Field
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from docstore_kit.auth import AdminAccountId, ServiceCaller
from docstore_kit.errors import Unavailable
from docstore_kit.http_transport import async_client
from docstore_kit.settings import ServiceSettings
from docstore_messaging.in_slices import find_in
from docstore_messaging.unit_of_work import PROCESSED_COLLECTION

log = structlog.get_logger(__name__)

LEASES = "leases"
WATERMARKS = "consistency_checks"
MAX_IDS = 1000
"""Event ids one `POST /internal/processed-events` may ask about."""

SCANNED = Counter("docstore_consistency_scanned_total", "Facts a consistency check compared", ["check"])
FOUND = Counter(
    "docstore_consistency_found_total",
    "Facts a consistency check found a consumer had not applied, by check and consumer",
    ["check", "consumer"],
)
REPAIRED = Counter(
    "docstore_consistency_repaired_total",
    "Facts whose event a consistency check published again (original event id), by check and consumer",
    ["check", "consumer"],
)
UNVERIFIABLE = Counter(
    "docstore_consistency_unverifiable_total",
    "Facts a consistency check could not compare (their original event id is unknown)",
    ["check"],
)
LAST_PASS = Gauge(
    "docstore_consistency_last_pass_timestamp_seconds",
    "When a consistency check last went through all its facts (Unix time)",
    ["check"],
)


# --- what a service provides -----------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One fact some consumers did not apply, and what was done about it."""

    fact: str
    """The fact's own id (an upload id, `document:version`)."""
    event_id: str
    event_type: str
    consumers: tuple[str, ...]
    """The consumers that had not applied it."""
    account_id: str
    repaired: bool


@dataclass
class PageResult:
    """One page of a check: what it compared and found, and where the next page starts (None: the
    facts ended; the next run starts from the beginning)."""

    scanned: int
    findings: list[Finding] = field(default_factory=list)
    unverifiable: int = 0
    next_after: Any = None


class Check(Protocol):
    name: str

    async def check_page(self, after: Any, limit: int, *, repair: bool) -> PageResult:
        """Compare the (at most `limit`) facts after the watermark `after` (None: from the first);
        with `repair`, publish again the events of what is missing."""
        ...


@dataclass
class CheckReport:
    check: str
    scanned: int = 0
    found: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    unverifiable: int = 0
    passes_completed: int = 0
    findings: list[Finding] = field(default_factory=list)


# --- what each consumer lacks ------------------------------------------------------------------

F = TypeVar("F")


@dataclass(frozen=True)
class Missing(Generic[F]):
    """A fact some consumers never applied: publish `event_id` again."""

    fact: F
    event_id: str
    consumers: tuple[str, ...]


@dataclass(frozen=True)
class Comparison(Generic[F]):
    missing: list[Missing[F]]
    unknown: list[str]
    """Facts whose event id is unknown (recorded before ids were derived, outbox row gone)."""


def compare(
    facts: Sequence[F],
    fact_id: Callable[[F], str],
    event_ids: Mapping[str, str | None],
    applied: Mapping[str, set[str]],
) -> Comparison[F]:
    """Which of `facts` each consumer has not applied: `event_ids` maps each fact's id
    (`fact_id`) to its event id (None or absent: unknown, not judged), `applied` each consumer
    to the event ids it has applied."""
    missing: list[Missing[F]] = []
    unknown: list[str] = []
    for fact in facts:
        event_id = event_ids.get(fact_id(fact))
        if event_id is None:
            unknown.append(fact_id(fact))
            continue
        lacking = tuple(consumer for consumer, done in applied.items() if event_id not in done)
        if lacking:
            missing.append(Missing(fact, event_id, lacking))
    return Comparison(missing, unknown)


# --- event ids ---------------------------------------------------------------------------------


async def outbox_event_ids(
    db: AsyncDatabase[Any],
    topic: str,
    since: datetime,
    until: datetime,
    fact_of: Callable[[Mapping[str, Any]], str | None],
) -> dict[str, str]:
    """{fact: event id} of the events on `topic` the owner's outbox wrote between `since` and
    `until` (rows not pruned yet): the ids of facts recorded before their event ids were derived
    from them. `fact_of` reads the fact from an event's data."""
    found: dict[str, str] = {}
    rows = db["outbox"].find(
        {"topic": topic, "created_at": {"$gte": since, "$lte": until}}, {"value": 1, "republished_at": 1}
    )
    async for row in rows:
        try:
            fact = fact_of(json.loads(row["value"]))
        except (ValueError, KeyError, TypeError):
            continue
        if fact is not None:
            found.setdefault(fact, row["_id"])
    return found


class RepairBudget:
    """How often one event may be published again (`MAX_REPAIRS`): a consumer that refuses it
    every time (its dead letters show why) must not get it again on every pass for ever. Past
    the budget a finding is reported (found, not repaired) and logged, never republished."""

    MAX_REPAIRS = 3

    def __init__(self, db: AsyncDatabase[Any], *, max_repairs: int = MAX_REPAIRS) -> None:
        self.collection = db["consistency_repairs"]
        self.max_repairs = max_repairs

    async def allowed(self, event_ids: Iterable[str]) -> set[str]:
        """Those of `event_ids` still within the budget."""
        ids = set(event_ids)
        spent = {
            row["_id"]
            async for row in find_in(self.collection, "_id", ids, where={"count": {"$gte": self.max_repairs}})
        }
        return ids - spent

    async def spend(self, event_id: str) -> None:
        await self.collection.update_one(
            {"_id": event_id}, {"$inc": {"count": 1}, "$set": {"at": datetime.now(UTC)}}, upsert=True
        )


# --- consumers' answers -------------------------------------------------------------------------


class ConsumerUnavailable(Unavailable):
    """A consumer did not answer a consistency check's question."""

    problem = "consumer-unavailable"


class ProcessedEvents:
    """Asks one consumer service which event ids it applied (`POST /internal/processed-events`)."""

    def __init__(self, consumer: str, http: httpx.AsyncClient) -> None:
        self.consumer = consumer
        self.http = http

    @classmethod
    def at(cls, consumer: str, base_url: str, auth: httpx.Auth) -> ProcessedEvents:
        """Asks the service `consumer` at `base_url`, signed with `auth`."""
        return cls(consumer, async_client(base_url=base_url, timeout=10.0, auth=auth))

    async def processed(self, event_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(event_ids))
        done: set[str] = set()
        for start in range(0, len(ids), MAX_IDS):
            try:
                response = await self.http.post(
                    "/internal/processed-events", json={"event_ids": ids[start : start + MAX_IDS]}
                )
            except httpx.HTTPError as error:
                raise ConsumerUnavailable(f"{self.consumer}: {error}") from error
            if response.status_code != 200:
                raise ConsumerUnavailable(f"{self.consumer} answered {response.status_code}")
            done |= set(response.json()["processed"])
        return done


class ProcessedQuery(BaseModel):
    event_ids: list[str] = Field(max_length=MAX_IDS, description="CloudEvents ids to look up")


class ProcessedOut(BaseModel):
    processed: list[str] = Field(description="Those of the ids this service's consumer has applied")


def _service_db(request: Request) -> AsyncDatabase[Any]:
    db: AsyncDatabase[Any] = request.app.state.services.runtime.db
    return db


def processed_events_router(
    *, consumer: str, db_of: Callable[[Request], AsyncDatabase[Any]] = _service_db
) -> APIRouter:
    """`POST /internal/processed-events` for a consumer service: which of these event ids its
    consumer `consumer` applied (its processed-event records, written with each effect).
    Read-only; services only (a producer's consistency check asks). `db_of`: the service's
    database (by default `app.state.services.runtime.db`, where every service keeps it)."""
    router = APIRouter(tags=["internal"])

    @router.post(
        "/internal/processed-events",
        summary="Which of these event ids this service has applied (a producer's consistency check asks)",
    )
    async def processed_events(
        request: Request, body: Annotated[ProcessedQuery, Body()], _caller: ServiceCaller
    ) -> ProcessedOut:
        keys = {f"{consumer}:{event_id}": event_id for event_id in body.event_ids}
        found = find_in(db_of(request)[PROCESSED_COLLECTION], "_id", keys, projection={"_id": 1})
        return ProcessedOut(processed=sorted({keys[row["_id"]] async for row in found}))

    return router


# --- a producer's outbox against its consumers ----------------------------------------------------


class OutboxRowsCheck:
    """The events a service published, as its outbox still holds them (rows are the facts here:
    a deletion leaves no state to rebuild its event from), against the processed-event records
    of the services that consume each topic. A row a consumer never applied is published again
    as it was (`Outbox.requeue`: same id, same content). Rows published less than
    `settle_seconds` ago are not judged; rows pruned are out of reach (the state-based checks
    cover the facts that have state)."""

    def __init__(
        self,
        name: str,
        outbox: Any,
        consumers: Mapping[str, Sequence[ProcessedEvents]],
        budget: RepairBudget,
        *,
        settle_seconds: float,
    ) -> None:
        self.name = name
        self.outbox = outbox
        self.consumers = {topic: list(asked) for topic, asked in consumers.items()}
        self.budget = budget
        self.settle_seconds = settle_seconds

    async def check_page(self, after: Any, limit: int, *, repair: bool) -> PageResult:
        before = datetime.now(UTC) - timedelta(seconds=self.settle_seconds)
        where: dict[str, Any] = {
            "status": "published",
            "topic": {"$in": list(self.consumers)},
            "created_at": {"$lt": before},
        }
        if after:
            where["_id"] = {"$gt": after}
        # In id order (the unique index): a row too recent for this pass is judged in a later one.
        found = self.outbox.collection.find(where, {"value": 0}).sort("_id", 1).limit(limit)
        page: list[Mapping[str, Any]] = [row async for row in found]
        ended = len(page) < limit
        applied: dict[str, set[str]] = {}
        for topic, asked in self.consumers.items():
            ids = [row["_id"] for row in page if row["topic"] == topic]
            for consumer in asked:
                if ids:
                    applied.setdefault(consumer.consumer, set()).update(await consumer.processed(ids))
        lacking: list[tuple[Mapping[str, Any], tuple[str, ...]]] = []
        for row in page:
            missing = tuple(
                c.consumer for c in self.consumers[row["topic"]] if row["_id"] not in applied.get(c.consumer, set())
            )
            if missing:
                lacking.append((row, missing))
        allowed = await self.budget.allowed(row["_id"] for row, _ in lacking) if repair else set()
        findings = []
        for row, missing in lacking:
            repaired = row["_id"] in allowed
            if repaired:
                await self.outbox.requeue(row["_id"])
                await self.budget.spend(row["_id"])
            findings.append(
                Finding(
                    fact=row["_id"],
                    event_id=row["_id"],
                    event_type=row["headers"].get("ce_type", row["topic"]),
                    consumers=missing,
                    account_id=row["key"].decode() if isinstance(row["key"], bytes) else str(row["key"]),
                    repaired=repaired,
                )
            )
        if allowed:
            self.outbox.wake_relay()
        return PageResult(scanned=len(page), findings=findings, next_after=None if ended else page[-1]["_id"])


def outbox_checker(
    name: str,
    db: AsyncDatabase[Any],
    outbox: Any,
    consumers: Mapping[str, Sequence[ProcessedEvents]],
    settings: ServiceSettings,
) -> ConsistencyChecker:
    """A service's checker with one `OutboxRowsCheck` named `name`: its outbox's published rows
    on each topic of `consumers` against the processed-event records of that topic's consumers
    (what a service with no state-based check of its own runs)."""
    check = OutboxRowsCheck(
        name, outbox, consumers, RepairBudget(db), settle_seconds=settings.consistency_settle_seconds
    )
    return ConsistencyChecker(
        db,
        [check],
        service=settings.service,
        page_size=settings.consistency_page_size,
        pages_per_run=settings.consistency_pages_per_run,
    )


# --- running the checks ------------------------------------------------------------------------


class Lease:
    """A named lease in MongoDB: one holder at a time, until it lets go or `ttl` passes."""

    def __init__(self, db: AsyncDatabase[Any], name: str, holder: str, ttl: timedelta) -> None:
        self.collection = db[LEASES]
        self.name = name
        self.holder = holder
        self.ttl = ttl

    async def acquire(self) -> bool:
        now = datetime.now(UTC)
        try:
            row = await self.collection.find_one_and_update(
                {"_id": self.name, "$or": [{"until": {"$lt": now}}, {"holder": self.holder}]},
                {"$set": {"holder": self.holder, "until": now + self.ttl}},
                upsert=True,
                return_document=True,
            )
        except DuplicateKeyError:  # another holder's lease is live (the upsert met its row)
            return False
        return row is not None and row["holder"] == self.holder

    async def release(self) -> None:
        await self.collection.update_one(
            {"_id": self.name, "holder": self.holder}, {"$set": {"until": datetime.now(UTC)}}
        )


class ConsistencyChecker:
    """Runs `checks` for the service whose database is `db` (see the module)."""

    def __init__(
        self,
        db: AsyncDatabase[Any],
        checks: Sequence[Check],
        *,
        service: str,
        page_size: int = 200,
        pages_per_run: int = 10,
        lease: timedelta = timedelta(minutes=5),
        repair: bool = True,
    ) -> None:
        self.db = db
        self.checks = list(checks)
        self.page_size = page_size
        self.pages_per_run = pages_per_run
        self.repair = repair
        self.lease = Lease(db, f"consistency:{service}", f"{service}:{uuid.uuid4().hex[:12]}", lease)
        self._lock = asyncio.Lock()

    async def run_once(self, *, pages: int | None = None) -> list[CheckReport] | None:
        """One run of every check, `pages` (default `pages_per_run`) pages each from its watermark;
        None when another replica holds the lease."""
        async with self._lock:
            if not await self.lease.acquire():
                return None
            try:
                return [await self._run(check, pages or self.pages_per_run) for check in self.checks]
            finally:
                await self.lease.release()

    async def _run(self, check: Check, pages: int) -> CheckReport:
        report = CheckReport(check.name)
        marks = self.db[WATERMARKS]
        row = await marks.find_one({"_id": check.name})
        after = row.get("after") if row else None
        for _ in range(pages):
            page = await check.check_page(after, self.page_size, repair=self.repair)
            self._record(check.name, page, report)
            after = page.next_after
            await marks.update_one(
                {"_id": check.name}, {"$set": {"after": after, "at": datetime.now(UTC)}}, upsert=True
            )
            if after is None:  # through all the facts: the next run starts again from the first
                report.passes_completed += 1
                LAST_PASS.labels(check.name).set_to_current_time()
                break
        return report

    @staticmethod
    def _record(name: str, page: PageResult, report: CheckReport) -> None:
        SCANNED.labels(name).inc(page.scanned)
        UNVERIFIABLE.labels(name).inc(page.unverifiable)
        report.scanned += page.scanned
        report.unverifiable += page.unverifiable
        for finding in page.findings:
            report.findings.append(finding)
            for consumer in finding.consumers:
                FOUND.labels(name, consumer).inc()
                report.found[consumer] = report.found.get(consumer, 0) + 1
                if finding.repaired:
                    REPAIRED.labels(name, consumer).inc()
                    report.repaired[consumer] = report.repaired.get(consumer, 0) + 1
            log.warning(
                "consistency_repaired" if finding.repaired else "consistency_found",
                check=name,
                fact=finding.fact,
                event_id=finding.event_id,
                event_type=finding.event_type,
                consumers=list(finding.consumers),
                account_id=finding.account_id,
            )

    async def run_forever(self, period: float) -> None:
        """Run every `period` seconds until cancelled (a failed run, e.g. a consumer away, is
        logged and tried again next period)."""
        while True:
            await asyncio.sleep(period)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("consistency_check_failed", error=f"{type(error).__name__}: {error}"[:300])


# --- the admin route ---------------------------------------------------------------------------


class FindingOut(BaseModel):
    fact: str
    event_id: str
    event_type: str
    consumers: list[str]
    account_id: str
    repaired: bool


class CheckReportOut(BaseModel):
    check: str
    scanned: int
    found: dict[str, int] = Field(description="facts missing, by consumer")
    repaired: dict[str, int] = Field(description="facts whose event was published again, by consumer")
    unverifiable: int
    passes_completed: int = Field(description="1 when this run reached the end of the facts (the next starts over)")
    findings: list[FindingOut]


class ConsistencyRunOut(BaseModel):
    ran: bool = Field(description="false when another replica was running the checks")
    checks: list[CheckReportOut]


def consistency_admin_router(path: str, checker_of: Callable[[Request], ConsistencyChecker], *, name: str) -> APIRouter:
    """`POST <path>` (admins): run the service's consistency checks now, through up to `pages`
    pages each, and answer what they found and repaired. `name`: the operation's id (unique in
    the gateway's merged API document)."""
    router = APIRouter(tags=["admin"])

    @router.post(
        path, name=name, summary="Run the consistency checks now: what was missing, and what was published again"
    )
    async def run_consistency_checks(
        request: Request, _: AdminAccountId, pages: Annotated[int, Query(ge=1, le=1000)] = 10
    ) -> ConsistencyRunOut:
        reports = await checker_of(request).run_once(pages=pages)
        if reports is None:
            return ConsistencyRunOut(ran=False, checks=[])
        return ConsistencyRunOut(
            ran=True,
            checks=[
                CheckReportOut(
                    check=r.check,
                    scanned=r.scanned,
                    found=r.found,
                    repaired=r.repaired,
                    unverifiable=r.unverifiable,
                    passes_completed=r.passes_completed,
                    findings=[FindingOut(**{**f.__dict__, "consumers": list(f.consumers)}) for f in r.findings],
                )
                for r in reports
            ],
        )

    return router
