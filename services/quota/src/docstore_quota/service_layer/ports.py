"""What the use cases need from storage, as protocols: the Mongo repositories
(`adapters`) and the in-memory ones of the unit tests both fit them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from datetime import datetime
from typing import Protocol

from docstore_quota.domain.reservations import Reservation
from docstore_quota.domain.usage import Delta, DocumentState, Usage


class UsageStore(Protocol):
    async def plan_at(self, account_id: str) -> datetime | None:
        """When the plan was last set; creates the account's record empty if it has none."""

    async def set_plan(self, account_id: str, plan: str, at: datetime) -> Usage: ...

    async def add_to_counters(self, moves: Mapping[str, Delta]) -> dict[str, Usage]:
        """Move each account's counters (creating its record); the accounts after."""

    async def set_flags(self, account_id: str, *, over_quota: bool, warned: frozenset[int]) -> None: ...

    async def document_states(self, document_ids: Iterable[str]) -> dict[str, DocumentState]:
        """The stored state of each document that has one."""

    async def save_document_states(self, states: Mapping[str, tuple[str, DocumentState]]) -> None:
        """Store each document's (account id, state)."""

    async def get(self, account_id: str) -> Usage: ...

    async def top(self, limit: int, *, skip: int = 0) -> list[Usage]: ...

    async def over_quota(self, limit: int, after: str | None = None) -> list[Usage]: ...

    async def all_stored(self) -> dict[str, int]: ...


class PlanSource(Protocol):
    """The account service's view of plans (`docstore_kit.account_plans.AccountPlans`)."""

    async def plan(self, account_id: str) -> str | None:
        """The account's plan; None when it cannot say."""


class ReservationStore(Protocol):
    async def get(self, upload_id: str) -> Reservation | None: ...

    async def live(self, account_id: str, cutoff: datetime) -> list[Reservation]: ...

    async def put(self, reservation: Reservation, *, reserved_at: datetime) -> None: ...

    async def get_many(self, upload_ids: Iterable[str]) -> dict[str, Reservation]: ...

    async def put_many(self, reservations: list[Reservation], *, reserved_at: datetime, stored: Set[str]) -> None:
        """Store `reservations`; `stored` names those of their upload ids that already have a row
        (read in the same transaction), so the new ones go in one insert."""

    async def take_turn(self, account_id: str) -> None:
        """Write the account's grant-turn record, so concurrent grants for it conflict."""

    async def live_bytes(self, account_id: str, cutoff: datetime) -> int: ...

    async def delete(self, account_id: str, upload_id: str) -> bool: ...

    async def delete_each(self, uploads: Iterable[tuple[str, str]]) -> int:
        """Delete the reservations of (account id, upload id) pairs; how many there were."""

    async def reserved_by_account(self, account_ids: Iterable[str], cutoff: datetime) -> dict[str, int]: ...

    async def purge(self, cutoff: datetime) -> int: ...


class Repos(Protocol):
    """The repositories of one transaction (`adapters.repositories.Repositories`)."""

    @property
    def usage(self) -> UsageStore: ...

    @property
    def reservations(self) -> ReservationStore: ...
