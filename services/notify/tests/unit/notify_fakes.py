"""In-memory repositories and a mail sender for notify's use cases (no servers).

They keep the rules of their MongoDB counterparts that the use cases rely on: the lease of a
claim (`attempts`, `next_attempt_at`), the statuses a row moves through, the latest follow by
event time, preference defaults; for webhooks, the endpoints' query (`$in` on accounts and
types, enabled only) and the delivery queue keyed by `webhook-id`, upserted. Each webhook fake
counts the commands its MongoDB counterpart would send (`commands`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from docstore_messaging.unit_of_work import FakeUnitOfWork
from docstore_notify.adapters.notification_log import (
    DIGEST_QUEUED,
    DIGESTED,
    FAILED,
    PENDING,
    SENT,
    WAITING,
    Page,
    decode_cursor,
    encode_cursor,
)
from docstore_notify.adapters.repositories import Repositories
from docstore_notify.domain.mail import KINDS, Mail
from docstore_notify.domain.notices import DEFAULT_MODE
from docstore_notify.domain.unsubscribe import UnsubscribeLinks
from docstore_notify.service_layer.notifier import Notifier
from docstore_notify.service_layer.subscriptions import Subscriptions
from docstore_notify.service_layer.webhooks import Webhooks

Row = dict[str, Any]


class InMemoryRecipients:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    async def remember(self, account_id: str, email: str, username: str = "") -> None:
        self.rows.setdefault(account_id, {}).update(email=email, username=username)

    async def username(self, account_id: str) -> str | None:
        return self.rows.get(account_id, {}).get("username") or None

    async def address(self, account_id: str) -> str | None:
        return self.rows.get(account_id, {}).get("email")

    async def touch(self, account_id: str) -> None:
        self.rows.setdefault(account_id, {})["touched"] = True

    async def mark_unverified(self, account_id: str) -> None:
        row = self.rows.setdefault(account_id, {})
        if "verified_at" not in row:
            row["email_verified"] = False

    async def mark_verified(self, account_id: str, email: str | None = None) -> None:
        row = self.rows.setdefault(account_id, {})
        row.update(email_verified=True, verified_at=True)
        if email:
            row["email"] = email

    async def may_mail(self, account_id: str) -> bool:
        return self.rows.get(account_id, {}).get("email_verified", True) is not False


class InMemoryNotifications:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    async def insert_pending(
        self,
        *,
        notification_id: str,
        account_id: str,
        kind: str,
        params: dict[str, Any],
        subject: str,
        resend_after: timedelta,
        waiting: bool,
        digest: bool = False,
        hold: timedelta | None = None,
        coalesce_key: str | None = None,
    ) -> None:
        assert notification_id not in self.rows, "duplicate key"
        now = datetime.now(UTC)
        row: Row = {
            "_id": notification_id,
            "account_id": account_id,
            "kind": kind,
            "params": dict(params),
            "subject": subject,
            "status": DIGEST_QUEUED if digest else WAITING if waiting else PENDING,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": None if waiting or digest else now + (hold or resend_after),
        }
        if coalesce_key:
            row["coalesce_key"] = coalesce_key
            row["hold_until"] = now + (hold or timedelta(0))
        self.rows[notification_id] = row

    async def merge(self, coalesce_key: str, set_params: dict[str, Any]) -> bool:
        now = datetime.now(UTC)
        for row in self.rows.values():
            if (
                row.get("coalesce_key") == coalesce_key
                and row["status"] in (PENDING, WAITING, DIGEST_QUEUED)
                and row["attempts"] == 0
                and row["hold_until"] > now
            ):
                row["params"].update(set_params)
                row["params"]["changes"] = row["params"].get("changes", 0) + 1
                return True
        return False

    async def accounts_with_digest_items(self, limit: int = 1000) -> list[str]:
        return sorted({row["account_id"] for row in self.rows.values() if row["status"] == DIGEST_QUEUED})[:limit]

    async def digest_items(self, account_id: str, limit: int = 200) -> list[Row]:
        rows = [r for r in self.rows.values() if r["account_id"] == account_id and r["status"] == DIGEST_QUEUED]
        return sorted(rows, key=lambda r: (r["created_at"], r["_id"]))[:limit]

    async def mark_digested(self, ids: list[str], digest_id: str) -> None:
        for notification_id in ids:
            if self.rows[notification_id]["status"] == DIGEST_QUEUED:
                self.rows[notification_id].update(status=DIGESTED, digest_id=digest_id)

    async def release_waiting(self, account_id: str, resend_after: timedelta) -> int:
        released = [r for r in self.rows.values() if r["account_id"] == account_id and r["status"] == WAITING]
        for row in released:
            row.update(status=PENDING, next_attempt_at=datetime.now(UTC) + resend_after)
        return len(released)

    async def claim_new(self, notification_id: str, lease: timedelta) -> Row | None:
        row = self.rows.get(notification_id)
        return self._claim(row, lease) if row and row["status"] == PENDING and row["attempts"] == 0 else None

    async def claim_new_of_account(self, account_id: str, lease: timedelta) -> Row | None:
        now = datetime.now(UTC)
        for row in self.rows.values():
            if (
                row["account_id"] == account_id
                and row["status"] == PENDING
                and row["attempts"] == 0
                and row.get("hold_until", now) <= now
            ):
                return self._claim(row, lease)
        return None

    async def claim_due(self, lease: timedelta) -> Row | None:
        now = datetime.now(UTC)
        due = [r for r in self.rows.values() if r["status"] == PENDING and r["next_attempt_at"] <= now]
        return self._claim(min(due, key=lambda r: r["next_attempt_at"]), lease) if due else None

    def _claim(self, row: Row, lease: timedelta) -> Row:
        now = datetime.now(UTC)
        row.update(next_attempt_at=now + lease, last_attempt_at=now, attempts=row["attempts"] + 1)
        return dict(row)

    async def mark_sent(self, notification_id: str, message_id: str) -> None:
        row = self.rows[notification_id]
        if row["status"] == PENDING:
            row.update(status=SENT, message_id=message_id, sent_at=datetime.now(UTC))
            row.pop("last_error", None)

    async def mark_failed_attempt(self, notification_id: str, error: str, *, final: bool) -> None:
        row = self.rows[notification_id]
        if row["status"] == PENDING:
            row["last_error"] = error[:500]
            if final:
                row["status"] = FAILED

    async def page(self, account_id: str, *, limit: int, cursor: str | None = None) -> Page:
        rows = sorted(
            (r for r in self.rows.values() if r["account_id"] == account_id),
            key=lambda r: (r["created_at"], r["_id"]),
            reverse=True,
        )
        if cursor:
            after = decode_cursor(cursor)
            rows = [r for r in rows if (r["created_at"], r["_id"]) < after]
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, encode_cursor(rows[-1]["created_at"], rows[-1]["_id"]) if more else None)


class InMemoryPreferences:
    def __init__(self) -> None:
        self.chosen: dict[str, dict[str, str]] = {}

    async def of(self, account_id: str) -> dict[str, str]:
        return {kind: self.chosen.get(account_id, {}).get(kind, DEFAULT_MODE) for kind in KINDS}

    async def mode(self, account_id: str, kind: str) -> str:
        return (await self.of(account_id)).get(kind, DEFAULT_MODE)

    async def set(self, account_id: str, changes: dict[str, str]) -> dict[str, str]:
        self.chosen.setdefault(account_id, {}).update({k: m for k, m in changes.items() if k in KINDS})
        return await self.of(account_id)


class InMemoryFollows:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[bool, datetime]] = {}

    async def set(self, document_id: str, follower_id: str, following: bool, at: datetime) -> None:
        current = self.rows.get((document_id, follower_id))
        if current is None or current[1] <= at:
            self.rows[(document_id, follower_id)] = (following, at)

    async def followers(self, document_id: str) -> list[str]:
        return sorted(f for (d, f), (following, _) in self.rows.items() if d == document_id and following)


class InMemoryUnsubscribeTokens:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str]] = {}

    async def remember(self, token: str, account_id: str, kind: str) -> None:
        self.rows[token] = (account_id, kind)

    async def find(self, token: str) -> tuple[str, str] | None:
        return self.rows.get(token)


class InMemoryWebhooks:
    """The endpoints (`webhooks`), as many as a test adds; only what the fan-out and the loop read."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.commands = 0

    def add(self, webhook_id: str, account_id: str, events: list[str], *, enabled: bool = True) -> None:
        self.rows[webhook_id] = {
            "_id": webhook_id,
            "account_id": account_id,
            "events": events,
            "enabled": enabled,
            "url": "https://receiver.example/hook",
        }

    async def subscribed(self, account_ids: list[str], event_types: list[str]) -> list[Row]:
        self.commands += 1
        return [
            {key: row[key] for key in ("_id", "account_id", "events", "enabled")}
            for row in self.rows.values()
            if row["account_id"] in account_ids and row["enabled"] and set(row["events"]) & set(event_types)
        ]

    async def by_id(self, webhook_id: str) -> Row | None:
        self.commands += 1
        return self.rows.get(webhook_id)


class InMemoryDeliveries:
    """The delivery queue (`webhook_deliveries`): one row per `webhook-id`, an upsert."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.commands = 0
        self.claims = 0

    async def enqueue(
        self, *, delivery_id: str, webhook_id: str, account_id: str, event_type: str, event_id: str, body: str
    ) -> bool:
        self.commands += 1
        if delivery_id in self.rows:
            return False
        now = datetime.now(UTC)
        self.rows[delivery_id] = {
            "_id": delivery_id,
            "webhook_id": webhook_id,
            "account_id": account_id,
            "event_type": event_type,
            "event_id": event_id,
            "body": body,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
            "history": [],
        }
        return True

    async def claim_due(self, lease: timedelta) -> Row | None:
        self.commands += 1
        self.claims += 1
        now = datetime.now(UTC)
        due = [r for r in self.rows.values() if r["status"] == "pending" and r["next_attempt_at"] <= now]
        if not due:
            return None
        row = min(due, key=lambda r: r["next_attempt_at"])
        row.update(next_attempt_at=now + lease, last_attempt_at=now, attempts=row["attempts"] + 1)
        return dict(row)

    async def next_due(self) -> datetime | None:
        self.commands += 1
        pending = [r["next_attempt_at"] for r in self.rows.values() if r["status"] == "pending"]
        return min(pending, default=None)

    async def record(
        self, row: Row, *, status: str, attempt: dict[str, Any], next_attempt_at: datetime | None = None
    ) -> bool:
        self.commands += 1
        current = self.rows[row["_id"]]
        if current["status"] != "pending" or current["attempts"] != row["attempts"]:
            return False
        current.update(status=status, next_attempt_at=next_attempt_at, last_error=attempt.get("error"))
        return True


@dataclass
class FakeMailer:
    """Records what it sent; `refuse` makes it raise (`MailRejected` or another exception) once per call."""

    sent: list[Mail] = field(default_factory=list)
    refuse: list[Exception] = field(default_factory=list)

    async def send(self, mail: Mail) -> str:
        if self.refuse:
            raise self.refuse.pop(0)
        self.sent.append(mail)
        return f"msg-{len(self.sent)}"

    def to(self, address: str) -> list[Mail]:
        return [mail for mail in self.sent if mail.to == address]


async def _no_resolver(host: str, port: int) -> list[str]:
    raise AssertionError(f"the use case under test resolves no host ({host})")


@dataclass
class World:
    """The use cases over in-memory state, and that state, for one test."""

    repos: Repositories
    uow: FakeUnitOfWork[Repositories]
    mailer: FakeMailer
    notifier: Notifier
    subscriptions: Subscriptions

    def rows(self) -> dict[str, Row]:
        return self.repos.notifications.rows

    @property
    def endpoints(self) -> InMemoryWebhooks:
        return cast(InMemoryWebhooks, self.repos.webhooks)

    @property
    def deliveries(self) -> InMemoryDeliveries:
        return cast(InMemoryDeliveries, self.repos.deliveries)

    def webhooks(self, *, schedule: tuple[float, ...] = (5.0,)) -> Webhooks:
        """The webhook use cases over these repositories; nothing is POSTed (no client)."""
        return Webhooks(
            self.uow,
            self.repos,
            cast(Any, None),
            cast(Any, None),
            self.notifier,
            allow_private=False,
            schedule=schedule,
            lease=timedelta(seconds=30),
            disable_after=15,
            resolve=_no_resolver,
        )

    @classmethod
    def build(cls, *, coalesce_window: timedelta = timedelta(seconds=60), max_attempts: int = 3) -> World:
        repos = Repositories(
            recipients=InMemoryRecipients(),
            notifications=InMemoryNotifications(),
            preferences=InMemoryPreferences(),
            follows=InMemoryFollows(),
            unsubscribe_tokens=InMemoryUnsubscribeTokens(),
            webhooks=cast(Any, InMemoryWebhooks()),  # the fan-out and the loop; the rest against MongoDB
            deliveries=cast(Any, InMemoryDeliveries()),
        )
        uow = FakeUnitOfWork(repos)
        mailer = FakeMailer()
        links = UnsubscribeLinks(secret="s3cret", base_url="https://docstore.example/")
        notifier = Notifier(
            uow,
            repos,
            mailer,
            links,
            resend_after=timedelta(seconds=60),
            max_attempts=max_attempts,
            coalesce_window=coalesce_window,
        )
        return cls(repos, uow, mailer, notifier, Subscriptions(uow, repos, links))
