"""Byte counts for people: "6.4 GB", "20 GB", "512 bytes".

Decimal units (1 KB = 1,000 bytes), as the web app shows them, so a message and the usage
panel beside it agree. The numbers themselves stay in the API's machine fields; this is only
for the words in `detail`.
"""

from __future__ import annotations

import humanize

__all__ = ["size_text"]


def size_text(size_bytes: int) -> str:
    """`size_bytes` in B, KB, MB, GB or TB with one decimal ("6.4 GB"), the decimal dropped
    when the size is a whole number of that unit ("20 GB", a plan's cap) — so a rounded
    "5.0 GB" still shows it is not exactly 5 GB. Below 1 KB: "1 byte", "999 bytes"."""
    if abs(size_bytes) < 1000:
        return f"{size_bytes} byte" if abs(size_bytes) == 1 else f"{size_bytes} bytes"
    text = humanize.naturalsize(size_bytes, format="%.1f")
    value, unit = text.split(" ")
    exponent = {"kB": 1, "MB": 2, "GB": 3, "TB": 4, "PB": 5, "EB": 6, "ZB": 7, "YB": 8}.get(unit, 0)
    if exponent and size_bytes % 1000**exponent == 0:
        value = value.removesuffix(".0")
    # humanize writes the SI "kB"; the web app (and most people) write "KB".
    return f"{value} {'KB' if unit == 'kB' else unit}"
