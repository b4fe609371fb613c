"""The consistency checker's running, on the real MongoDB-protocol server: one replica at a time
(the lease), each run going on from the last one's watermark in bounded pages and starting over
at the end of the facts, and the counters of what was found and repaired."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from docstore_kit.consistency import ConsistencyChecker, Finding, Lease, PageResult, RepairBudget

pytestmark = pytest.mark.integration

FACTS = [f"fact-{n:02d}" for n in range(7)]
MISSING = {"fact-03"}


class Facts:
    """Seven facts in order; one a consumer lacks. Records the pages asked for."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.asked: list[Any] = []

    async def check_page(self, after: Any, limit: int, *, repair: bool) -> PageResult:
        self.asked.append(after)
        start = FACTS.index(after) + 1 if after else 0
        page = FACTS[start : start + limit]
        findings = [
            Finding(fact, f"event-{fact}", "test.fact", ("consumer-a",), "acc-1", repaired=repair)
            for fact in page
            if fact in MISSING
        ]
        ended = len(page) < limit or start + limit >= len(FACTS)
        return PageResult(scanned=len(page), findings=findings, next_after=None if ended else page[-1])


@pytest.fixture
async def db(isolated: dict[str, str]) -> AsyncIterator[Any]:
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(isolated["mongodb_url"], tz_aware=True)
    yield mongo[isolated["mongodb_database"]]
    await mongo.close()


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_runs_go_on_from_the_watermark_start_over_at_the_end_and_count(db: Any) -> None:
    name = f"check-{id(db)}"
    check = Facts(name)
    checker = ConsistencyChecker(db, [check], service="kittest", page_size=3, pages_per_run=2)
    found_before = counter("docstore_consistency_found_total", check=name, consumer="consumer-a")

    first = await checker.run_once()
    assert first is not None
    assert (first[0].scanned, first[0].passes_completed, first[0].repaired) == (6, 0, {"consumer-a": 1})
    second = await checker.run_once()  # the last fact, then the end of the facts
    assert second is not None and (second[0].scanned, second[0].passes_completed) == (1, 1)
    third = await checker.run_once()  # from the first fact again: history is checked again
    assert third is not None and third[0].found == {"consumer-a": 1}
    assert check.asked == [None, "fact-02", "fact-05", None, "fact-02"]
    assert counter("docstore_consistency_found_total", check=name, consumer="consumer-a") == found_before + 2
    assert counter("docstore_consistency_repaired_total", check=name, consumer="consumer-a") == found_before + 2
    assert counter("docstore_consistency_scanned_total", check=name) == 13


async def test_one_replica_runs_the_checks_at_a_time(db: Any) -> None:
    holder = Lease(db, "consistency:kittest", "replica-1", timedelta(minutes=5))
    assert await holder.acquire()
    other = ConsistencyChecker(db, [Facts("lease-check")], service="kittest")
    assert await other.run_once() is None  # replica-1 holds it
    await holder.release()
    assert await other.run_once() is not None
    assert await holder.acquire()  # the other let go when it was done


async def test_an_event_is_published_again_at_most_max_repairs_times(db: Any) -> None:
    budget = RepairBudget(db, max_repairs=2)
    assert await budget.allowed(["e1", "e2"]) == {"e1", "e2"}
    await budget.spend("e1")
    assert await budget.allowed(["e1", "e2"]) == {"e1", "e2"}
    await budget.spend("e1")  # a consumer refused it twice: found from now on, never sent again
    assert await budget.allowed(["e1", "e2"]) == {"e2"}
