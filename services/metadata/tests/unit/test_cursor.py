from datetime import UTC, datetime

import pytest

from docstore_metadata.adapters.repositories import InvalidCursor, decode_cursor, encode_cursor


def test_cursor_round_trips() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, "doc-1")) == (moment, "doc-1")


@pytest.mark.parametrize("cursor", ["garbage", "", "W10", "e30"])
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)
