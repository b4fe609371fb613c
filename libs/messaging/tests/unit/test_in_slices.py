"""`slices`: a batch's ids in lists of at most `IN_SLICE`, none lost, none repeated, in order."""

from __future__ import annotations

from docstore_messaging.in_slices import IN_SLICE, slices


def test_values_come_in_order_in_lists_of_at_most_the_slice() -> None:
    values = list(range(2 * IN_SLICE + 7))
    parts = list(slices(iter(values)))
    assert [len(part) for part in parts] == [IN_SLICE, IN_SLICE, 7]
    assert [value for part in parts for value in part] == values


def test_an_exact_multiple_ends_without_an_empty_list_and_nothing_gives_nothing() -> None:
    assert [len(part) for part in slices(range(2 * IN_SLICE))] == [IN_SLICE, IN_SLICE]
    assert list(slices([])) == []
    assert list(slices("abc", size=2)) == [["a", "b"], ["c"]]
