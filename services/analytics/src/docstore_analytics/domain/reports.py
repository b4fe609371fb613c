"""What the dashboards show, from roll-up rows (pure): series, current levels, CSV tables."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from docstore_analytics.domain.errors import UnknownTable

__all__ = ["TABLES", "UnknownTable", "to_csv"]

SERIES_COLUMNS = (
    "day",
    "current_bytes",
    "old_bytes",
    "trash_bytes",
    "uploads",
    "upload_bytes",
    "downloads",
    "link_downloads",
    "shares",
    "links_created",
    "index_failures",
    "preview_failures",
)
"""The fixed columns of a series (plans and document types follow, as they occur)."""

TOP_COLUMNS = ("document_id", "owner", "downloads", "link_downloads", "shares", "total_bytes")
"""The most-downloaded and most-shared tables: ids and counts, never names or content."""

TABLES = ("series", "most-downloaded", "most-shared")


def stored_bytes(level: Mapping[str, int]) -> int:
    return sum(level.get(name, 0) for name in ("current_bytes", "old_bytes", "trash_bytes"))


def documents(level: Mapping[str, int]) -> int:
    return sum(value for name, value in level.items() if name.startswith("docs."))


def grouped(level: Mapping[str, int], prefix: str) -> dict[str, int]:
    return {name[len(prefix) :]: value for name, value in sorted(level.items()) if name.startswith(prefix) and value}


def series_columns(points: Sequence[Mapping[str, Any]]) -> list[str]:
    extra = sorted({name for point in points for name in point if name.startswith(("plans.", "docs."))})
    return [*SERIES_COLUMNS, *extra]


def to_csv(table: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """A table as CSV (RFC 4180, a header row); a cell that starts with = + - @ is quoted with a
    leading ' so a spreadsheet never runs it as a formula."""
    if table == "series":
        columns = series_columns(rows)
    elif table in ("most-downloaded", "most-shared"):
        columns = list(TOP_COLUMNS)
    else:
        raise UnknownTable(table)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column, 0)) for column in columns])
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
