"""In-memory repositories for the account use-case tests on `FakeUnitOfWork` (no servers).

Each keeps what MongoDB would, in dicts, and answers the same methods as its adapter in
`docstore_accounts.adapters` (only those the use cases call)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from docstore_accounts.adapters.repositories import Repositories
from docstore_accounts.domain.accounts import Account, UsernameTaken
from docstore_accounts.service_layer.accounts import Accounts
from docstore_messaging.unit_of_work import FakeUnitOfWork

Doc = dict[str, Any]


class InMemoryAccounts:
    def __init__(self) -> None:
        self.rows: dict[str, Doc] = {}

    async def add(self, account: Account) -> None:
        if any(row["username"] == account.username for row in self.rows.values()):
            raise UsernameTaken(account.username)
        self.rows[account.id] = {
            "_id": account.id,
            "username": account.username,
            "email": account.email,
            "plan": account.plan,
            "home_region": account.home_region,
            "password_hash": account.password_hash,
            "created_at": account.created_at,
            "status": "active",
            "replica_version": 1,
        }

    async def by_username(self, username: str) -> Doc | None:
        return next((copy.deepcopy(r) for r in self.rows.values() if r["username"] == username), None)

    async def by_id(self, account_id: str) -> Doc | None:
        return copy.deepcopy(self.rows.get(account_id))

    async def plan_of(self, account_id: str) -> str:
        return str(self.rows.get(account_id, {}).get("plan") or "free")

    async def update(self, account_id: str, changes: Mapping[str, Any]) -> None:
        self.rows[account_id].update(changes)

    async def next_replica_version(self, account_id: str) -> Doc:
        self.rows[account_id]["replica_version"] += 1
        return copy.deepcopy(self.rows[account_id])

    async def release_email(self, account_id: str) -> None:
        return None

    async def remove_app_passwords(self, account_id: str) -> list[str]:
        return []


class InMemoryReplicas:
    def __init__(self) -> None:
        self.replicas: dict[str, Doc] = {}
        self.usernames: dict[str, Doc] = {}

    async def replica(self, account_id: str) -> Doc | None:
        return self.replicas.get(account_id)

    async def put_replica(self, account_id: str, state: Mapping[str, Any]) -> None:
        self.replicas[account_id] = {"_id": account_id, **state}

    async def owner_of(self, username: str) -> Doc | None:
        return self.usernames.get(username)

    async def claim(self, username: str, account_id: str, home_region: str) -> None:
        self.usernames[username] = {"_id": username, "account_id": account_id, "home_region": home_region}

    async def claim_new(self, username: str, account_id: str, home_region: str) -> None:
        if username in self.usernames:
            raise UsernameTaken(username)
        await self.claim(username, account_id, home_region)


class InMemoryReplicationQueue:
    def __init__(self, peers: list[str]) -> None:
        self.peers = peers
        self.rows: dict[str, Doc] = {}

    async def enqueue(self, account_id: str, state: Mapping[str, Any]) -> None:
        for target in self.peers:
            self.rows[f"{target}:{account_id}"] = dict(state)


@dataclass
class World:
    """The account use cases of one region ("here") on in-memory repositories, and what they signalled."""

    uow: FakeUnitOfWork[Repositories]
    repos: Any
    accounts: Accounts
    woken: list[str] = field(default_factory=list)


@pytest.fixture
def world() -> World:
    repos: Any = Repositories(
        accounts=InMemoryAccounts(),  # type: ignore[arg-type]
        replicas=InMemoryReplicas(),  # type: ignore[arg-type]
        replication=InMemoryReplicationQueue(["there"]),  # type: ignore[arg-type]
    )
    uow: FakeUnitOfWork[Repositories] = FakeUnitOfWork(repos)
    woken: list[str] = []
    return World(
        uow=uow,
        repos=repos,
        accounts=Accounts(uow, repos, "here", replication_written=lambda: woken.append("replication")),
        woken=woken,
    )
