"""Pure ledger rules: warnings, counting rule, order independence of a document's state."""

import itertools
import random
from datetime import UTC, datetime, timedelta

from docstore_quota.adapters.metrics import totals_by_plan
from docstore_quota.domain.reconciliation import compare
from docstore_quota.domain.usage import CountingRule, DocumentState, delta, warning_levels

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_each_warning_level_is_announced_once_going_up() -> None:
    warned, announce = warning_levels(79, 100, frozenset())
    assert (warned, announce) == (frozenset(), None)
    warned, announce = warning_levels(80, 100, warned)
    assert (warned, announce) == (frozenset({80}), 80)
    warned, announce = warning_levels(90, 100, warned)
    assert announce is None
    warned, announce = warning_levels(95, 100, warned)
    assert (warned, announce) == (frozenset({80, 95}), 95)
    assert warning_levels(99, 100, warned)[1] is None


def test_a_level_is_rearmed_when_usage_drops_below_it() -> None:
    warned, _ = warning_levels(96, 100, frozenset({80, 95}))
    warned, announce = warning_levels(85, 100, warned)
    assert (warned, announce) == (frozenset({80}), None)
    assert warning_levels(95, 100, warned) == (frozenset({80, 95}), 95)


def test_jumping_past_several_levels_announces_the_highest_and_past_the_cap_none() -> None:
    assert warning_levels(97, 100, frozenset()) == (frozenset({80, 95}), 95)
    assert warning_levels(150, 100, frozenset()) == (frozenset({80, 95}), None)


def test_trash_and_old_versions_count_by_default_and_can_be_excluded() -> None:
    doc = DocumentState().add(100).version(1, 100).add(40).version(2, 40).trash(True, T0)
    assert doc.counted(CountingRule()) == 140
    assert doc.counted(CountingRule(count_trash=False)) == 0
    assert doc.trash(False, T0 + timedelta(seconds=1)).counted(CountingRule(count_old_versions=False)) == 40


def test_an_older_trash_event_arriving_late_changes_nothing() -> None:
    doc = DocumentState().add(10).trash(False, T0 + timedelta(seconds=5)).trash(True, T0)
    assert not doc.trashed


def test_a_deletion_before_its_upload_nets_out() -> None:
    rule = CountingRule()
    early = DocumentState().remove(70)
    assert early.counted(rule) == 0 and not early.live()
    done = early.add(70)
    assert done.bytes == 0 and delta(early, done, rule).stored == 70 and delta(early, done, rule).used == 0


def test_any_order_of_the_same_events_gives_the_same_account_counters() -> None:
    ops = [
        ("add", 100),
        ("version", (1, 100)),
        ("add", 30),
        ("version", (2, 30)),
        ("remove", 100),
        ("trash", (True, T0)),
        ("trash", (False, T0 + timedelta(1))),
        ("version", (3, 7)),
        ("add", 7),
    ]
    for rule in (CountingRule(), CountingRule(False, False), CountingRule(count_trash=False)):
        results = set()
        orders = list(itertools.permutations(ops))
        for order in random.Random(4).sample(orders, 300):
            state, used, stored, docs = DocumentState(), 0, 0, 0
            for name, arg in order:
                after = getattr(state, name)(*arg) if isinstance(arg, tuple) else getattr(state, name)(arg)
                moved = delta(state, after, rule)
                used, stored, docs, state = used + moved.used, stored + moved.stored, docs + moved.documents, after
            assert used == state.counted(rule) and docs == int(state.live())
            results.add((used, stored, docs))
        assert len(results) == 1, results


def test_totals_per_plan_have_an_average_document_size() -> None:
    totals = totals_by_plan(
        [{"_id": "free", "accounts": 2, "documents": 4, "stored_bytes": 1000, "used_bytes": 1000, "over_quota": 1}]
    )
    assert totals["free"]["average_document_bytes"] == 250
    assert totals["premium"] == {
        "accounts": 0,
        "documents": 0,
        "stored_bytes": 0,
        "used_bytes": 0,
        "over_quota": 0,
        "average_document_bytes": 0,
    }


def test_reconciliation_reports_every_difference_biggest_first() -> None:
    drifts = compare({"a": 10, "b": 5, "c": 0}, {"a": 10, "b": 7, "d": 100})
    assert [d["account_id"] for d in drifts] == ["d", "b"]
    assert drifts[1] == {"account_id": "b", "ledger_bytes": 5, "s3_bytes": 7, "drift_bytes": -2}
