from __future__ import annotations

from datetime import UTC, datetime, timedelta

from docstore_indexer.domain.plans import PlanRecord, describe, has_full_text, supersedes
from docstore_indexer.domain.versions import IndexedState, Upload, decide

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def state(upload_id: str, version: int, at: datetime) -> IndexedState:
    return IndexedState("acc", "doc", upload_id, version, at, "indexed")


def test_first_upload_is_version_one() -> None:
    decision = decide(None, Upload("u1", T0))
    assert decision.index and decision.version == 1


def test_later_upload_is_the_next_version() -> None:
    decision = decide(state("u1", 1, T0), Upload("u2", T0 + timedelta(seconds=5)))
    assert decision.index and decision.version == 2


def test_redelivered_upload_changes_nothing() -> None:
    decision = decide(state("u2", 2, T0), Upload("u2", T0))
    assert not decision.index and decision.version == 2


def test_older_upload_arriving_late_does_not_overwrite_newer() -> None:
    decision = decide(state("u2", 2, T0), Upload("u1", T0 - timedelta(seconds=1)))
    assert not decision.index and decision.reason == "older than the indexed version"


def test_same_time_is_ordered_by_upload_id() -> None:
    assert decide(state("u1", 1, T0), Upload("u2", T0)).index
    assert not decide(state("u2", 2, T0), Upload("u1", T0)).index


def test_explicit_version_wins_over_time() -> None:
    assert decide(state("u1", 3, T0), Upload("u2", T0 - timedelta(days=1), version=4)).version == 4
    assert not decide(state("u1", 3, T0), Upload("u2", T0 + timedelta(days=1), version=2)).index
    assert decide(None, Upload("u1", T0, version=7)).version == 7


def test_only_premium_has_full_text() -> None:
    assert has_full_text("premium")
    assert not has_full_text("free")
    assert not has_full_text(None)
    assert describe(None) == "Free" and describe("premium") == "Premium"


def test_later_plan_fact_wins() -> None:
    stored = PlanRecord("acc", "premium", T0)
    assert supersedes(None, T0)
    assert supersedes(stored, T0 + timedelta(seconds=1))
    assert not supersedes(stored, T0 - timedelta(seconds=1))
