"""The fake unit of work keeps the contract use cases rely on: events leave only with a
commit, after-commit callbacks run only then, and `run_once` runs a consumer's work once."""

from __future__ import annotations

import pytest

from docstore_events import QuotaExceeded
from docstore_messaging.unit_of_work import FakeUnitOfWork, Transaction


def exceeded(account_id: str = "acct") -> QuotaExceeded:
    return QuotaExceeded(account_id=account_id, used_bytes=2, cap_bytes=1, plan="free")


async def test_events_and_callbacks_leave_with_the_commit() -> None:
    uow: FakeUnitOfWork[dict[str, int]] = FakeUnitOfWork({})
    after: list[str] = []

    async def work(tx: Transaction[dict[str, int]]) -> str:
        tx.repos["n"] = 1
        tx.emit(exceeded())
        tx.after_commit(lambda: after.append("sync"))

        async def later() -> None:
            after.append("async")

        tx.after_commit(later)
        return "done"

    assert await uow.run(work) == "done"
    assert uow.emitted == [exceeded()] and uow.commits == 1 and after == ["sync", "async"]


async def test_a_failing_use_case_emits_nothing() -> None:
    uow: FakeUnitOfWork[dict[str, int]] = FakeUnitOfWork({})
    after: list[str] = []

    async def work(tx: Transaction[dict[str, int]]) -> None:
        tx.emit(exceeded())
        tx.after_commit(lambda: after.append("x"))
        raise LookupError("no such document")

    with pytest.raises(LookupError):
        await uow.run(work)
    assert uow.emitted == [] and uow.commits == 0 and after == []


async def test_run_once_skips_an_event_already_processed() -> None:
    uow: FakeUnitOfWork[list[str]] = FakeUnitOfWork([])

    async def work(tx: Transaction[list[str]]) -> None:
        tx.repos.append("effect")

    assert await uow.run_once(consumer="quota", event_id="e1", work=work) is True
    assert await uow.run_once(consumer="quota", event_id="e1", work=work) is False
    assert await uow.run_once(consumer="notify", event_id="e1", work=work) is True
    assert uow.repos == ["effect", "effect"]
