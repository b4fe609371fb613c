"""The dashboards' reads: a person's usage, their links' downloads, the operators' overview,
the most-downloaded and most-shared documents, and CSV exports recorded for the audit trail.

A person's reads are always by their own account id (the caller's, from the identity token):
there is no parameter that names another account, and a link is found through its owner.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from docstore_analytics.domain import reports
from docstore_analytics.domain.rollups import SYSTEM, average, levels_before, series
from docstore_analytics.service_layer.ports import Repos
from docstore_events.activity import AnalyticsExported
from docstore_messaging.unit_of_work import Transaction, UnitOfWork

Today = Callable[[], date]

TOP_FIELDS = {"most-downloaded": "downloads", "most-shared": "shares"}


def utc_today() -> date:
    return datetime.now(UTC).date()


class Reports:
    def __init__(self, uow: UnitOfWork[Repos], reads: Repos, *, today: Today = utc_today) -> None:
        self.uow = uow
        self.reads = reads
        self.today = today

    def window(self, days: int) -> tuple[date, date]:
        last = self.today()
        return last - timedelta(days=days - 1), last

    async def series(self, scope: str, days: int) -> list[dict[str, Any]]:
        """One point per day over the last `days` days (stocks as levels, flows as counts)."""
        first, last = self.window(days)
        repo = self.reads.analytics
        earlier = await repo.daily(scope, last=(first - timedelta(days=1)).isoformat())
        rows = await repo.daily(scope, first=first.isoformat(), last=last.isoformat())
        return series(rows, first, last, carried=levels_before(earlier.values()))

    async def usage(self, account_id: str, days: int = 90, top: int = 10) -> dict[str, Any]:
        """A person's storage over time and what takes the room."""
        points = await self.series(account_id, days)
        now = points[-1] if points else {}
        repo = self.reads.analytics
        mine = {"owner": account_id, "stored": True}
        fields = {"name": 1, "type": 1, "current_bytes": 1, "old_bytes": 1, "trash_bytes": 1, "versions": 1}
        largest = await repo.documents({**mine, "trashed": False}, "current_bytes", top, fields)
        old = await repo.documents({**mine, "trashed": False, "old_bytes": {"$gt": 0}}, "old_bytes", top, fields)
        trash = await repo.documents({**mine, "trashed": True}, "trash_bytes", top, fields)
        return {
            "days": points,
            "now": {
                "current_bytes": now.get("current_bytes", 0),
                "old_bytes": now.get("old_bytes", 0),
                "trash_bytes": now.get("trash_bytes", 0),
                "stored_bytes": reports.stored_bytes(now),
                "documents": reports.documents(now),
                "by_type": reports.grouped(now, "docs."),
            },
            "largest": [_document(row) for row in largest],
            "old_versions": [_document(row) for row in old],
            "trash": [_document(row) for row in trash],
        }

    async def links(self, account_id: str, days: int = 90, limit: int = 50) -> dict[str, Any]:
        """The account's public links, each with its downloads per day over the window."""
        first, last = self.window(days)
        repo = self.reads.analytics
        links = await repo.links_of(account_id, limit)
        by_link: dict[str, dict[str, int]] = {}
        for row in await repo.link_days([link["_id"] for link in links], first.isoformat()):
            if row.get("owner") == account_id:
                by_link.setdefault(row["link_id"], {})[row["day"]] = int(row.get("downloads", 0))
        day_list = [p["day"] for p in series({}, first, last)]
        return {
            "days": day_list,
            "links": [
                {
                    "link_id": link["_id"],
                    "document_id": link.get("document_id", ""),
                    "name": link.get("name", ""),
                    "created_at": link.get("created_at"),
                    "downloads": int(link.get("downloads", 0)),
                    "by_day": [by_link.get(link["_id"], {}).get(day, 0) for day in day_list],
                }
                for link in links
            ],
        }

    async def overview(self, days: int = 90) -> dict[str, Any]:
        """The operators' charts: system-wide series, today's levels, plans, types, averages."""
        points = await self.series(SYSTEM, days)
        now = points[-1] if points else {}
        docs = reports.documents(now)
        live_bytes = now.get("current_bytes", 0) + now.get("old_bytes", 0)
        return {
            "days": points,
            "now": {
                "current_bytes": now.get("current_bytes", 0),
                "old_bytes": now.get("old_bytes", 0),
                "trash_bytes": now.get("trash_bytes", 0),
                "stored_bytes": reports.stored_bytes(now),
                "documents": docs,
                "average_document_bytes": average(live_bytes, docs),
                "accounts_by_plan": reports.grouped(now, "plans."),
                "documents_by_type": reports.grouped(now, "docs."),
            },
        }

    async def top(self, table: str, limit: int = 20) -> list[dict[str, Any]]:
        """The most-downloaded or most-shared documents: ids, owners and counts, never names."""
        field = TOP_FIELDS.get(table)
        if field is None:
            raise reports.UnknownTable(table)
        repo = self.reads.analytics
        rows = await repo.counts_of(await repo.board(field))
        rows.sort(key=lambda row: (-int(row.get(field, 0)), row["_id"]))
        rows = rows[:limit]
        return [
            {
                "document_id": row["_id"],
                "owner": row.get("owner", ""),
                "downloads": int(row.get("downloads", 0)),
                "link_downloads": int(row.get("link_downloads", 0)),
                "shares": int(row.get("shares", 0)),
                "total_bytes": int(row.get("total_bytes", 0)),
            }
            for row in rows
        ]

    async def export(self, table: str, *, admin_id: str, days: int = 90, limit: int = 1000) -> str:
        """A table as CSV; the export is recorded (`admin.analytics-exported`) before it is handed out."""
        first_day = last_day = None
        if table == "series":
            rows = await self.series(SYSTEM, days)
            first_day, last_day = rows[0]["day"], rows[-1]["day"]
        else:
            rows = await self.top(table, limit)
        text = reports.to_csv(table, rows)
        event = AnalyticsExported(
            account_id=admin_id, table=table, rows=len(rows), first_day=first_day, last_day=last_day
        )

        async def work(tx: Transaction[Repos]) -> None:
            tx.emit(event)

        await self.uow.run(work)
        return text


def _document(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "document_id": row["_id"],
        "name": row.get("name", ""),
        "type": row.get("type", "other"),
        "current_bytes": int(row.get("current_bytes", 0)),
        "old_bytes": int(row.get("old_bytes", 0)),
        "trash_bytes": int(row.get("trash_bytes", 0)),
        "versions": int(row.get("versions", 0)),
    }
