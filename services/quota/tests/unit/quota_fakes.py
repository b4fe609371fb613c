"""In-memory repositories for use-case tests on `FakeUnitOfWork` (the shape of
`service_layer.ports`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import datetime

from docstore_messaging.unit_of_work import FakeUnitOfWork
from docstore_quota.domain.reservations import Reservation
from docstore_quota.domain.usage import DEFAULT_PLAN, Delta, DocumentState, Usage


@dataclass
class Account:
    usage: Usage
    plan_at: datetime | None = None


class InMemoryUsage:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.documents: dict[str, tuple[str, DocumentState]] = {}

    def _account(self, account_id: str) -> Account:
        return self.accounts.setdefault(account_id, Account(Usage(account_id, DEFAULT_PLAN, 0, False)))

    async def plan_at(self, account_id: str) -> datetime | None:
        return self._account(account_id).plan_at

    async def set_plan(self, account_id: str, plan: str, at: datetime) -> Usage:
        account = self._account(account_id)
        account.usage, account.plan_at = replace(account.usage, plan=plan), at
        return account.usage

    async def add_to_counters(self, moves: Mapping[str, Delta]) -> dict[str, Usage]:
        for account_id, move in moves.items():
            account = self._account(account_id)
            u = account.usage
            account.usage = replace(
                u,
                used_bytes=u.used_bytes + move.used,
                stored_bytes=u.stored_bytes + move.stored,
                documents=u.documents + move.documents,
            )
        return {account_id: self.accounts[account_id].usage for account_id in moves}

    async def set_flags(self, account_id: str, *, over_quota: bool, warned: frozenset[int]) -> None:
        account = self._account(account_id)
        account.usage = replace(account.usage, over_quota=over_quota, warned=warned)

    async def document_states(self, document_ids: Iterable[str]) -> dict[str, DocumentState]:
        return {d: self.documents[d][1] for d in document_ids if d in self.documents}

    async def save_document_states(self, states: Mapping[str, tuple[str, DocumentState]]) -> None:
        self.documents.update(states)

    async def get(self, account_id: str) -> Usage:
        found = self.accounts.get(account_id)
        return found.usage if found else Usage(account_id, DEFAULT_PLAN, 0, False)

    async def top(self, limit: int, *, skip: int = 0) -> list[Usage]:
        rows = sorted((a.usage for a in self.accounts.values()), key=lambda u: (-u.used_bytes, u.account_id))
        return rows[skip : skip + limit]

    async def over_quota(self, limit: int, after: str | None = None) -> list[Usage]:
        rows = sorted((a.usage for a in self.accounts.values() if a.usage.over_quota), key=lambda u: u.account_id)
        return [u for u in rows if after is None or u.account_id > after][:limit]

    async def all_stored(self) -> dict[str, int]:
        return {a: account.usage.stored_bytes for a, account in self.accounts.items()}


class InMemoryReservations:
    def __init__(self) -> None:
        self.rows: dict[str, Reservation] = {}
        self.turns: dict[str, int] = {}

    async def take_turn(self, account_id: str) -> None:
        self.turns[account_id] = self.turns.get(account_id, 0) + 1

    async def get(self, upload_id: str) -> Reservation | None:
        return self.rows.get(upload_id)

    async def live(self, account_id: str, cutoff: datetime) -> list[Reservation]:
        return [r for r in self.rows.values() if r.account_id == account_id and r.expires_at > cutoff]

    async def put(self, reservation: Reservation, *, reserved_at: datetime) -> None:
        self.rows[reservation.upload_id] = reservation

    async def get_many(self, upload_ids: Iterable[str]) -> dict[str, Reservation]:
        return {u: self.rows[u] for u in upload_ids if u in self.rows}

    async def live_bytes(self, account_id: str, cutoff: datetime) -> int:
        return sum(r.size for r in await self.live(account_id, cutoff))

    async def put_many(self, reservations: list[Reservation], *, reserved_at: datetime, stored: Set[str]) -> None:
        for reservation in reservations:
            self.rows[reservation.upload_id] = reservation

    async def delete(self, account_id: str, upload_id: str) -> bool:
        found = self.rows.get(upload_id)
        if found is None or found.account_id != account_id:
            return False
        del self.rows[upload_id]
        return True

    async def delete_each(self, uploads: Iterable[tuple[str, str]]) -> int:
        return sum([await self.delete(account_id, upload_id) for account_id, upload_id in uploads])

    async def reserved_by_account(self, account_ids: Iterable[str], cutoff: datetime) -> dict[str, int]:
        wanted, result = set(account_ids), {}
        for r in self.rows.values():
            if r.account_id in wanted and r.expires_at > cutoff:
                result[r.account_id] = result.get(r.account_id, 0) + r.size
        return result

    async def purge(self, cutoff: datetime) -> int:
        dead = [k for k, r in self.rows.items() if r.expires_at <= cutoff]
        for k in dead:
            del self.rows[k]
        return len(dead)


@dataclass
class InMemoryRepos:
    usage: InMemoryUsage = field(default_factory=InMemoryUsage)
    reservations: InMemoryReservations = field(default_factory=InMemoryReservations)


def fake_uow() -> FakeUnitOfWork[InMemoryRepos]:
    return FakeUnitOfWork(InMemoryRepos())
