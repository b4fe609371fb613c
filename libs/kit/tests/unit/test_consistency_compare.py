"""What each consumer lacks (`docstore_kit.consistency.compare`): the comparison every
consistency check makes, whatever its facts (issue 32)."""

from __future__ import annotations

from typing import Any

from docstore_kit.consistency import compare


def fact(fact_id: str) -> dict[str, Any]:
    return {"_id": fact_id}


def fact_id(row: dict[str, Any]) -> str:
    return str(row["_id"])


def test_what_a_consumer_never_applied_is_missing_for_that_consumer_only() -> None:
    facts = [fact("f1"), fact("f2"), fact("f3"), fact("f4")]
    ids = {"f1": "e1", "f2": "e2", "f3": "e3", "f4": None}
    applied = {"metadata": {"e1", "e3"}, "quota": {"e1", "e2", "e3"}}
    result = compare(facts, fact_id, ids, applied)
    assert [(fact_id(m.fact), m.event_id, m.consumers) for m in result.missing] == [("f2", "e2", ("metadata",))]
    assert result.unknown == ["f4"]  # no id to ask for nor to publish under


def test_missing_everywhere_names_every_consumer_and_an_absent_id_is_unknown() -> None:
    result = compare([fact("f1"), fact("f2")], fact_id, {"f1": "e1"}, {"metadata": set(), "quota": set()})
    assert [(m.event_id, m.consumers) for m in result.missing] == [("e1", ("metadata", "quota"))]
    assert result.unknown == ["f2"]
