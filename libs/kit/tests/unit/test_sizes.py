"""Sizes in the words people read: decimal units as the web app shows them, one decimal,
whole numbers without a trailing ".0"."""

import pytest

from docstore_kit.sizes import size_text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (999, "999 bytes"),
        (1000, "1 KB"),
        (1500, "1.5 KB"),
        (12_345_678, "12.3 MB"),
        (250_000_000, "250 MB"),
        (999_999_999, "1.0 GB"),  # rounded up: the ".0" says it is not exactly 1 GB
        (4_999_997_022, "5.0 GB"),
        (5_000_000_000, "5 GB"),
        (6_442_450_944, "6.4 GB"),
        (20_000_000_000, "20 GB"),
        (1_000_000_000_000, "1 TB"),
    ],
)
def test_sizes_read_as_the_web_app_shows_them(size: int, text: str) -> None:
    assert size_text(size) == text
