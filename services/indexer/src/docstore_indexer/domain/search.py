"""Rules of a search request. Pure."""

from __future__ import annotations

from docstore_kit.errors import Invalid


class PeriodReversed(Invalid):
    """`created_from` after `created_to` (422)."""

    problem = "period-reversed"
    title = "Period ends before it starts"

    def __init__(self) -> None:
        super().__init__("created_from: must not be after created_to")


def check_period(start: int | None, end: int | None) -> None:
    """Unix seconds, either may be open; raises `PeriodReversed` when the start is after the end."""
    if start is not None and end is not None and start > end:
        raise PeriodReversed()
