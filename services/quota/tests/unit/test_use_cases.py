"""Use cases on `FakeUnitOfWork` and in-memory repositories: no servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from quota_fakes import InMemoryRepos, fake_uow

from docstore_events.notifications import QuotaWarningReached
from docstore_events.quota import QuotaExceeded, QuotaRestored
from docstore_messaging.unit_of_work import FakeUnitOfWork
from docstore_quota.domain.reservations import DuplicateUploadIds, GrantExpired, Reservation, UploadIdTaken
from docstore_quota.service_layer.accounts import Accounts
from docstore_quota.service_layer.ledger import AccountClosed, DocumentChanged, Ledger, PlanSet, ReservationReleased
from docstore_quota.service_layer.reservations import Reservations, Wanted

CAPS = {"free": 1000, "premium": 10_000}
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
GRACE = timedelta(minutes=10)
LATER = NOW + timedelta(minutes=15)


def clock() -> datetime:
    return NOW


def world() -> tuple[FakeUnitOfWork[InMemoryRepos], Ledger, Reservations, Accounts]:
    uow = fake_uow()
    ledger = Ledger(uow, CAPS)
    reservations = Reservations(uow, CAPS, GRACE, clock)

    async def no_totals() -> dict[str, dict[str, float]]:
        return {}

    accounts = Accounts(uow, uow.repos, reservations, no_totals)
    return uow, ledger, reservations, accounts


def repos(uow: FakeUnitOfWork[InMemoryRepos]) -> InMemoryRepos:
    return uow.repos


async def test_an_upload_counts_once_however_often_it_is_delivered() -> None:
    uow, ledger, _, accounts = world()
    assert await ledger.uploaded("e1", "a", "up1", "d1", 300, None)
    assert not await ledger.uploaded("e1", "a", "up1", "d1", 300, None)
    assert uow.commits == 1
    usage = (await accounts.usage("a")).usage
    assert (usage.used_bytes, usage.stored_bytes, usage.documents) == (300, 300, 1)


async def test_a_warning_is_emitted_once_at_the_threshold() -> None:
    uow, ledger, _, _ = world()
    await ledger.uploaded("e1", "a", "up1", "d1", 799, None)
    assert uow.emitted == []
    await ledger.uploaded("e2", "a", "up2", "d2", 1, None)
    [warning] = uow.emitted
    assert isinstance(warning, QuotaWarningReached) and warning.percent == 80
    await ledger.uploaded("e3", "a", "up3", "d3", 10, None)
    assert len(uow.emitted) == 1


async def test_going_past_the_cap_flags_once_and_freeing_space_restores() -> None:
    uow, ledger, _, _ = world()
    await ledger.uploaded("e1", "a", "up1", "d1", 1200, None)
    await ledger.uploaded("e2", "a", "up2", "d2", 10, None)
    assert [type(e) for e in uow.emitted] == [QuotaExceeded]
    assert (await repos(uow).usage.get("a")).over_quota
    await ledger.deleted("e3", "a", "d1", 1200)
    assert [type(e) for e in uow.emitted] == [QuotaExceeded, QuotaRestored]
    assert not (await repos(uow).usage.get("a")).over_quota


async def test_an_older_plan_event_arriving_late_changes_nothing() -> None:
    uow, ledger, _, _ = world()
    await ledger.set_plan("e1", "a", "premium", NOW)
    await ledger.set_plan("e2", "a", "free", NOW - timedelta(seconds=1))
    assert (await repos(uow).usage.get("a")).plan == "premium"


async def test_a_completed_upload_moves_its_bytes_from_reserved_to_used_in_one_step() -> None:
    uow, ledger, reservations, accounts = world()
    assert (await reservations.reserve("a", "up1", 400, LATER)).decision.granted
    assert (await accounts.usage("a")).reserved_bytes == 400
    await ledger.uploaded("e1", "a", "up1", "d1", 400, None)
    after = await accounts.usage("a")
    assert (after.usage.used_bytes, after.reserved_bytes) == (400, 0)


async def test_a_reservation_is_refused_when_there_is_no_room_and_stores_nothing() -> None:
    uow, _, reservations, _ = world()
    assert (await reservations.reserve("a", "up1", 600, LATER)).decision.granted
    refused = (await reservations.reserve("a", "up2", 600, LATER)).decision
    assert not refused.granted and refused.room_bytes == 400 and refused.reserved_bytes == 600
    assert set(repos(uow).reservations.rows) == {"up1"}
    assert repos(uow).reservations.turns == {"a": 1}  # only a stored grant takes a turn


async def test_a_repeated_grant_is_not_counted_twice() -> None:
    _, _, reservations, _ = world()
    first = (await reservations.reserve("a", "up1", 600, LATER)).decision
    again = (await reservations.reserve("a", "up1", 600, LATER)).decision
    assert first.granted and again.granted and again.reserved_bytes == 600


async def test_an_upload_id_of_another_account_or_an_expired_grant_is_refused() -> None:
    _, _, reservations, _ = world()
    await reservations.reserve("a", "up1", 10, LATER)
    with pytest.raises(UploadIdTaken):
        await reservations.reserve("b", "up1", 10, LATER)
    with pytest.raises(GrantExpired):
        await reservations.reserve("a", "up2", 10, NOW - GRACE - timedelta(seconds=1))


async def test_upload_expired_releases_once_and_the_purge_drops_dead_reservations() -> None:
    uow, ledger, reservations, _ = world()
    await reservations.reserve("a", "up1", 10, LATER)
    assert await ledger.apply([ReservationReleased("e1", "a", "up1")]) == {"e1"}
    assert await ledger.apply([ReservationReleased("e1", "a", "up1")]) == frozenset()
    assert "up1" not in repos(uow).reservations.rows
    repos(uow).reservations.rows["old"] = Reservation("old", "a", 5, NOW - GRACE)
    assert await reservations.purge_expired() == 1 and repos(uow).reservations.rows == {}


async def test_a_batch_reservation_never_holds_more_than_the_room_in_total_and_commits_once() -> None:
    uow, _, reservations, accounts = world()
    await reservations.reserve("a", "up0", 100, LATER)
    commits = uow.commits
    batch = await reservations.reserve_many(
        "a", [Wanted("up1", 500, LATER), Wanted("up2", 500, LATER), Wanted("up3", 400, LATER)]
    )
    assert [batch.decisions[u].granted for u in ("up1", "up2", "up3")] == [True, False, True]
    assert uow.commits == commits + 1
    assert set(repos(uow).reservations.rows) == {"up0", "up1", "up3"}
    assert (await accounts.usage("a")).reserved_bytes == 1000


async def test_a_batch_refuses_only_the_item_whose_upload_id_another_account_holds() -> None:
    _, _, reservations, _ = world()
    await reservations.reserve("b", "theirs", 10, LATER)
    batch = await reservations.reserve_many("a", [Wanted("theirs", 10, LATER), Wanted("mine", 10, LATER)])
    assert batch.taken == {"theirs"} and "theirs" not in batch.decisions
    assert batch.decisions["mine"].granted
    assert repos(uow_of(reservations)).reservations.rows["theirs"].account_id == "b"


async def test_a_repeated_batch_is_not_counted_twice_and_bad_batches_are_refused_whole() -> None:
    _, _, reservations, _ = world()
    items = [Wanted("up1", 400, LATER), Wanted("up2", 400, LATER)]
    await reservations.reserve_many("a", items)
    again = await reservations.reserve_many("a", items)
    assert all(d.granted for d in again.decisions.values())
    assert again.decisions["up2"].reserved_bytes == 800
    with pytest.raises(DuplicateUploadIds):
        await reservations.reserve_many("a", [Wanted("up3", 1, LATER), Wanted("up3", 1, LATER)])
    with pytest.raises(GrantExpired):
        await reservations.reserve_many("a", [Wanted("up4", 1, NOW - GRACE - timedelta(seconds=1))])


def uow_of(reservations: Reservations) -> FakeUnitOfWork[InMemoryRepos]:
    uow: FakeUnitOfWork[InMemoryRepos] = reservations.uow  # type: ignore[assignment]
    return uow


async def test_a_batch_leaves_the_ledger_that_its_events_one_by_one_leave() -> None:
    entries = [
        DocumentChanged.uploaded("e1", "a", "up1", "d1", 300, None),
        DocumentChanged.uploaded("e2", "a", "up2", "d2", 500, None),
        DocumentChanged.uploaded("e3", "b", "up3", "d3", 70, None),
        DocumentChanged.deleted("e4", "a", "d1", 300),
        DocumentChanged.trashed("e5", "b", "d3", True, NOW),
        PlanSet("e6", "b", "premium", NOW),
        DocumentChanged.uploaded("e1", "a", "up1", "d1", 300, None),  # the same event twice in one batch
        ReservationReleased("e7", "a", "up9"),
    ]
    one_by_one_uow, one_by_one, _, _ = world()
    for entry in entries:
        await one_by_one.apply([entry])
    batched_uow, batched, _, _ = world()

    assert await batched.apply(entries) == {f"e{i}" for i in range(1, 8)}
    assert await batched.apply(entries) == frozenset()  # a redelivered batch changes nothing
    assert batched_uow.commits == 1
    assert repos(batched_uow).usage.accounts == repos(one_by_one_uow).usage.accounts
    assert repos(batched_uow).usage.documents == repos(one_by_one_uow).usage.documents
    assert (await repos(batched_uow).usage.get("a")).used_bytes == 500


async def test_a_batch_past_two_warning_levels_announces_the_highest_once() -> None:
    sizes = [300, 300, 260, 100]  # one by one: 86 % (80 announced), then 96 % (95 announced)
    uow, ledger, _, _ = world()
    await ledger.apply(
        [DocumentChanged.uploaded(f"e{i}", "a", f"up{i}", f"d{i}", n, None) for i, n in enumerate(sizes)]
    )
    assert [(type(e).__name__, e.percent) for e in uow.emitted] == [("QuotaWarningReached", 95)]


class MetadataPlans:
    """What `metadata` answers about plans, and how often it was asked."""

    def __init__(self, plans: dict[str, str]) -> None:
        self.plans = plans
        self.asked: list[str] = []

    async def plan(self, account_id: str) -> str | None:
        self.asked.append(account_id)
        return self.plans.get(account_id)


async def test_a_refused_grant_is_decided_again_on_the_plan_metadata_already_holds() -> None:
    # A Premium sign-up uploads before quota heard account.created: its record still says Free.
    uow = fake_uow()
    metadata = MetadataPlans({"a": "premium"})
    reservations = Reservations(uow, CAPS, GRACE, clock, plans=metadata)
    grant = await reservations.reserve("a", "up1", 5000, LATER)
    assert grant.decision.granted and grant.usage.plan == "premium"
    assert metadata.asked == ["a"]
    batch = await reservations.reserve_many("a", [Wanted("up2", 3000, LATER), Wanted("up3", 3000, LATER)])
    assert [d.granted for d in batch.decisions.values()] == [True, False]  # 5000 + 3000 of 10,000
    assert (await repos(uow).usage.get("a")).plan == "free"  # only the plan event records the plan


async def test_metadata_is_asked_only_before_a_refusal_and_a_smaller_or_unknown_plan_changes_nothing() -> None:
    uow = fake_uow()
    metadata = MetadataPlans({"a": "free"})
    reservations = Reservations(uow, CAPS, GRACE, clock, plans=metadata)
    assert (await reservations.reserve("a", "up1", 900, LATER)).decision.granted
    assert metadata.asked == []
    assert not (await reservations.reserve("a", "up2", 200, LATER)).decision.granted
    assert not (await reservations.reserve("b", "up3", 2000, LATER)).decision.granted  # metadata can't say
    assert metadata.asked == ["a", "b"]


async def test_a_deleted_account_releases_every_reservation_once() -> None:
    """Issue 33, finding 8: `account.deleted` frees the account's held room at once (its used bytes
    leave with the purge's `file.deleted`); another account's reservations stay."""
    uow, ledger, reservations, _ = world()
    for upload_id in ("up1", "up2"):
        await reservations.reserve("a", upload_id, 10, LATER)
    await reservations.reserve("b", "up3", 10, LATER)
    assert await ledger.apply([AccountClosed("e1", "a")]) == {"e1"}
    assert set(repos(uow).reservations.rows) == {"up3"}
    assert await ledger.apply([AccountClosed("e1", "a")]) == frozenset()
