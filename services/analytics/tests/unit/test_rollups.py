"""The roll-up arithmetic: stocks by event time in any arrival order, flows once per fact,
incremental application equal to a fold of the whole ledger."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from docstore_analytics.domain import reports
from docstore_analytics.domain.rollups import (
    SYSTEM,
    Fact,
    document_timeline,
    document_type,
    effects,
    fold,
    levels_before,
    merge,
    series,
)

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def at(day: int, hour: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


def version(n: int, doc: str, v: int, size: int, when: datetime, owner: str = "alice") -> Fact:
    return Fact(f"e{n}", "version", owner, doc, when, version=v, size=size, label="pdf", name=f"{doc}.pdf")


def day(offset: int) -> str:
    return (T0 + timedelta(days=offset)).date().isoformat()


def test_versions_move_bytes_from_current_to_old_and_the_trash_takes_all():
    facts = [
        version(1, "d", 1, 100, at(0)),
        version(2, "d", 2, 30, at(1)),
        Fact("e3", "trashed", "alice", "d", at(2)),
        Fact("e4", "restored", "alice", "d", at(3)),
        Fact("e5", "deleted", "alice", "d", at(4), versions=(1,), whole=False, size=100),
        Fact("e6", "deleted", "alice", "d", at(5), versions=(2,), size=30),
    ]
    t = document_timeline(facts)
    assert t[day(0)] == {"current_bytes": 100, "docs.pdf": 1}
    assert t[day(1)] == {"current_bytes": -70, "old_bytes": 100}
    assert t[day(2)] == {"current_bytes": -30, "old_bytes": -100, "trash_bytes": 130, "docs.pdf": -1}
    assert t[day(3)] == {"current_bytes": 30, "old_bytes": 100, "trash_bytes": -130, "docs.pdf": 1}
    assert t[day(4)] == {"old_bytes": -100}
    assert t[day(5)] == {"current_bytes": -30, "docs.pdf": -1}
    points = series(t, T0.date(), T0.date() + timedelta(days=5))
    assert [p.get("current_bytes", 0) for p in points] == [100, 30, 0, 30, 30, 0]
    assert [p.get("old_bytes", 0) for p in points] == [100 * 0, 100, 0, 100, 0, 0]
    assert [p.get("trash_bytes", 0) for p in points] == [0, 0, 130, 0, 0, 0]


def test_a_trash_that_arrives_before_its_version_lands_on_its_own_day():
    v = version(1, "d", 1, 50, at(0))
    trash = Fact("e2", "trashed", "alice", "d", at(1))
    in_order = effects([v], [trash]).daily
    reversed_order = effects([trash], [v]).daily
    total_a, total_b = {}, {}
    merge(total_a, {d: f for (s, d), f in effects([], [v]).daily.items() if s == "alice"})
    merge(total_a, {d: f for (s, d), f in in_order.items() if s == "alice"})
    merge(total_b, {d: f for (s, d), f in effects([], [trash]).daily.items() if s == "alice"})
    merge(total_b, {d: f for (s, d), f in reversed_order.items() if s == "alice"})
    clean = lambda t: {d: {k: v for k, v in f.items() if v} for d, f in t.items() if any(f.values())}  # noqa: E731
    assert (
        clean(total_a)
        == clean(total_b)
        == {
            day(0): {"current_bytes": 50, "docs.pdf": 1},
            day(1): {"current_bytes": -50, "trash_bytes": 50, "docs.pdf": -1},
        }
    )


def _ledger() -> list[Fact]:
    facts = [
        Fact("p1", "plan", "alice", "alice", at(0), label="free"),
        Fact("p2", "plan", "bob", "bob", at(0, 1), label="free"),
        Fact("p3", "plan", "alice", "alice", at(2), label="premium"),
        Fact("p4", "closed", "bob", "bob", at(3)),
        version(10, "d1", 1, 1000, at(0, 2)),
        version(11, "d1", 2, 1500, at(1)),
        version(12, "d2", 1, 300, at(1, 3), owner="bob"),
        Fact("t1", "trashed", "bob", "d2", at(2)),
        Fact("x1", "deleted", "bob", "d2", at(3), versions=(1,), size=300),
        Fact("u1", "upload", "alice", "d1", at(0, 2), size=1000, document_id="d1"),
        Fact("u2", "upload", "alice", "d1", at(1), size=1500, document_id="d1"),
        Fact("dl1", "download", "alice", "d1", at(1, 5), document_id="d1"),
        Fact("dl2", "download", "alice", "d1", at(2, 5), document_id="d1"),
        Fact("lc", "link-created", "alice", "L1", at(1), document_id="d1", name="d1.pdf"),
        Fact("lu1", "link-used", "alice", "L1", at(1, 6), document_id="d1"),
        Fact("lu2", "link-used", "alice", "L1", at(2, 6), document_id="d1"),
        Fact("sh", "shared", "alice", "d1", at(1), document_id="d1"),
        Fact("if", "index-failed", "bob", "d2", at(1, 4), document_id="d2"),
    ]
    return facts


def _apply_one_by_one(order: list[Fact]) -> dict[tuple[str, str], dict[str, int]]:
    seen: list[Fact] = []
    out: dict[tuple[str, str], dict[str, int]] = {}
    for fact in order:
        change = effects([f for f in seen if f.subject == fact.subject], [fact])
        for key, figures in change.daily.items():
            into = out.setdefault(key, {})
            for name, value in figures.items():
                into[name] = into.get(name, 0) + value
        seen.append(fact)
    return {k: {n: v for n, v in f.items() if v} for k, f in out.items() if any(f.values())}


@pytest.mark.parametrize("seed", range(20))
def test_any_arrival_order_gives_the_fold_of_the_whole_ledger(seed: int):
    facts = _ledger()
    random.Random(seed).shuffle(facts)
    incremental = _apply_one_by_one(facts)
    rebuilt = effects([], facts).daily
    assert incremental == rebuilt
    # the system-wide figures are the sum of the accounts' (plans are system-wide only)
    system = {d: f for (s, d), f in rebuilt.items() if s == SYSTEM}
    assert system[day(0)]["plans.free"] == 2
    assert system[day(2)]["plans.free"] == -1 and system[day(2)]["plans.premium"] == 1
    assert system[day(3)]["plans.free"] == -1
    assert fold([f for f in facts if f.owner == "alice" and f.kind != "plan"]) == {
        d: f for (s, d), f in rebuilt.items() if s == "alice"
    }


def test_flows_count_once_per_fact_on_the_events_day():
    change = effects([], _ledger())
    alice = {d: f for (s, d), f in change.daily.items() if s == "alice"}
    assert alice[day(0)]["uploads"] == 1 and alice[day(0)]["upload_bytes"] == 1000
    assert alice[day(1)]["downloads"] == 1 and alice[day(1)]["link_downloads"] == 1 and alice[day(1)]["shares"] == 1
    assert alice[day(2)]["downloads"] == 1 and alice[day(2)]["link_downloads"] == 1
    assert change.link_days == {("L1", "alice", day(1)): 1, ("L1", "alice", day(2)): 1}
    assert change.document_counts["d1"] == {"downloads": 2, "link_downloads": 2, "shares": 1}
    bob = {d: f for (s, d), f in change.daily.items() if s == "bob"}
    assert bob[day(1)]["index_failures"] == 1


def test_a_days_series_carries_the_level_from_before_the_window():
    rows = fold(_ledger())
    first = T0.date() + timedelta(days=2)
    before = [f for d, f in rows.items() if d < first.isoformat()]
    points = series(
        {d: f for d, f in rows.items() if d >= first.isoformat()},
        first,
        first + timedelta(days=1),
        carried=levels_before(before),
    )
    full = series(rows, T0.date(), first + timedelta(days=1))
    assert points == full[-2:]


def test_document_types():
    assert document_type("application/pdf") == "pdf"
    assert document_type("image/png") == "image"
    assert document_type("application/vnd.openxmlformats-officedocument.wordprocessingml.document") == "office"
    assert document_type("text/plain; charset=utf-8") == "text"
    assert document_type("application/octet-stream", "x.PDF") == "pdf"
    assert document_type("application/octet-stream") == "other"


def test_csv_quotes_formulas_and_names_no_content():
    text = reports.to_csv("most-downloaded", [{"document_id": "=cmd", "owner": "a", "downloads": 3}])
    assert text.splitlines()[0] == "document_id,owner,downloads,link_downloads,shares,total_bytes"
    assert text.splitlines()[1] == "'=cmd,a,3,0,0,0"
    with pytest.raises(reports.UnknownTable):
        reports.to_csv("accounts", [])


def test_all_permutations_of_a_small_document_agree():
    facts = [
        version(1, "d", 1, 10, at(0)),
        version(2, "d", 2, 20, at(0, 1)),
        Fact("t", "trashed", "alice", "d", at(1)),
        Fact("x", "deleted", "alice", "d", at(2), versions=(1, 2), size=30),
    ]
    expected = _apply_one_by_one(facts)
    for order in itertools.permutations(facts):
        assert _apply_one_by_one(list(order)) == expected
    assert date.fromisoformat(day(0))
