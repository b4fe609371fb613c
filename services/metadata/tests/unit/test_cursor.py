from datetime import UTC, datetime

import pytest

from docstore_metadata.domain.cursors import Cursor, InvalidCursor, decode_cursor, encode_cursor, listing_kind

MOMENT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sort", "value"), [("modified", MOMENT), ("created", MOMENT), ("name", "report.pdf"), ("size", 12345)]
)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_cursor_round_trips_per_sort(sort: str, order: str, value: object) -> None:
    kind = listing_kind(sort, order, trashed=False, path=None)
    cursor = Cursor(kind, value, "doc-1", 120.0 if sort in ("modified", "created") else None)
    assert decode_cursor(encode_cursor(cursor), kind) == cursor


def test_a_cursor_from_another_sort_order_view_or_folder_is_refused() -> None:
    kind = listing_kind("modified", "desc", trashed=False, path=None)
    text = encode_cursor(Cursor(kind, MOMENT, "doc-1"))
    for other in (
        listing_kind("name", "desc", trashed=False, path=None),
        listing_kind("modified", "asc", trashed=False, path=None),
        listing_kind("modified", "desc", trashed=True, path=None),
        listing_kind("modified", "desc", trashed=False, path="/a"),
        "search:abc",
    ):
        with pytest.raises(InvalidCursor, match="another"):
            decode_cursor(text, other)


@pytest.mark.parametrize("cursor", ["garbage", "", "W10", "e30", "eyJrIjoxfQ"])
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, "list:modified:desc:live:*")


def test_cursor_is_opaque_and_short() -> None:
    text = encode_cursor(Cursor(listing_kind("name", "asc", trashed=False, path="/" + "x" * 1000), "n" * 255, "d" * 36))
    assert "/" not in text and len(text) < 1024
