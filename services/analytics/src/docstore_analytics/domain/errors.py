"""Analytics' domain errors (problem details through `docstore_kit.errors`)."""

from __future__ import annotations

from typing import Any

from docstore_kit.errors import DomainError, NotFound


class UnknownTable(NotFound):
    """An export of a table the dashboard does not have."""

    problem = "unknown-table"
    title = "No such table"

    def __init__(self, table: str) -> None:
        super().__init__(table)
        self.table = table

    def detail(self) -> Any:
        return f"there is no table {self.table!r} to export (tables: series, most-downloaded, most-shared)"


__all__ = ["DomainError", "UnknownTable"]
