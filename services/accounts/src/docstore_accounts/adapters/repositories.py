"""MongoDB collections of the accounts service: home accounts (`AccountRepository`), and, from
`adapters/replication.py`, replicas, usernames and the replication queue.

Every repository is bound to one session (`Repo(db, session)`; None: outside any transaction),
so its methods take none: the unit of work (`Repositories`, below) builds them per transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from docstore_accounts.adapters.replication import ReplicaRepository, ReplicaWrites
from docstore_accounts.domain.accounts import Account, UsernameTaken

Session = AsyncClientSession | None
Doc = dict[str, Any]


class AccountRepository:
    """Accounts with their home in this region."""

    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.collection = db["accounts"]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("username", unique=True)

    async def add(self, account: Account) -> None:
        try:
            await self.collection.insert_one(
                {
                    "_id": account.id,
                    "username": account.username,
                    "email": account.email,
                    "plan": account.plan,
                    "home_region": account.home_region,
                    "password_hash": account.password_hash,
                    "created_at": account.created_at,
                    "status": "active",
                    "replica_version": 1,
                },
                session=self.session,
            )
        except DuplicateKeyError as error:
            raise UsernameTaken(account.username) from error

    async def by_username(self, username: str) -> Doc | None:
        """The account with its home in this region that has `username` (replicas live elsewhere)."""
        return await self.collection.find_one({"username": username}, session=self.session)

    async def by_id(self, account_id: str) -> Doc | None:
        return await self.collection.find_one({"_id": account_id}, session=self.session)

    async def plan_of(self, account_id: str) -> str:
        """The account's plan; an account this region does not know (a replica, say) counts as free."""
        account = await self.collection.find_one({"_id": account_id}, {"plan": 1}, session=self.session)
        return str((account or {}).get("plan") or "free")

    async def update(self, account_id: str, changes: Mapping[str, Any]) -> None:
        await self.collection.update_one({"_id": account_id}, {"$set": dict(changes)}, session=self.session)

    async def next_replica_version(self, account_id: str) -> Doc:
        """Bump the account's replica version; the account as it now is."""
        account = await self.collection.find_one_and_update(
            {"_id": account_id},
            {"$inc": {"replica_version": 1}},
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
        if account is None:
            raise LookupError(account_id)
        return dict(account)

    async def release_email(self, account_id: str) -> None:
        """The account's verified address is free again (another account may verify it)."""
        await self.collection.database["verified_emails"].delete_many({"account_id": account_id}, session=self.session)

    async def remove_app_passwords(self, account_id: str) -> list[str]:
        """The account's app passwords (issue 36) are deleted; their ids."""
        rows = (
            await self.collection.database["app_passwords"]
            .find({"account_id": account_id}, {"_id": 1}, session=self.session)
            .to_list(None)
        )
        await self.collection.database["app_passwords"].delete_many({"account_id": account_id}, session=self.session)
        return [str(row["_id"]) for row in rows]


@dataclass(frozen=True)
class Repositories:
    """The account repositories, all bound to one session (one transaction), as the unit of work
    hands them to a use case (`tx.repos`)."""

    accounts: AccountRepository
    replicas: ReplicaRepository
    replication: ReplicaWrites


def repositories(db: AsyncDatabase[Any], peers: Mapping[str, str]) -> Callable[[Session], Repositories]:
    """What `EventRuntime.unit_of_work` calls per transaction: the repositories bound to `session`."""

    def bound(session: Session) -> Repositories:
        return Repositories(
            accounts=AccountRepository(db, session),
            replicas=ReplicaRepository(db, session),
            replication=ReplicaWrites(db, peers, session),
        )

    return bound


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    """Every index the account queries rely on (idempotent; run at start)."""
    repos = repositories(db, {})(None)
    await repos.accounts.ensure_indexes()
    await repos.replicas.ensure_indexes()
    await repos.replication.ensure_indexes()
