"""Account use cases: sign-up, log-in, plan changes, deletion, and replicas from other regions.

Every change runs in one transaction (`uow.run`) with its events and, for a home account, its
replica queued for every other region; the replication relay is woken after commit.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from docstore_accounts.adapters.repositories import Repositories
from docstore_accounts.domain.accounts import (
    Account,
    AccountNotFound,
    HomeElsewhere,
    InvalidReplica,
    UsernameLost,
    new_account,
    new_account_id,
    normalise_username,
    replica_state,
    status_of,
    username_winner,
)
from docstore_events import (
    AccountCreated,
    AccountDeleted,
    AccountPlanChanged,
    AccountReplicated,
    AccountUsernameConflicted,
)
from docstore_events.activity import AccountLoggedIn, AccountLoginFailed
from docstore_events.credentials import AccountAppPasswordRevoked
from docstore_kit.passwords import burn_verification, password_matches
from docstore_messaging.unit_of_work import Transaction, UnitOfWork

Tx = Transaction[Repositories]


class Accounts:
    def __init__(
        self,
        uow: UnitOfWork[Repositories],
        reads: Repositories,
        region: str,
        *,
        replication_written: Callable[[], None] = lambda: None,
        on_sign_up: Callable[[Tx, str, str, str], Awaitable[None]] | None = None,
        end_access: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """`reads`: repositories outside any transaction; `replication_written`: wakes the relay;
        `on_sign_up(tx, account_id, username, email)`: more work in the sign-up's transaction (the
        e-mail verification token, `account_security.py`); with it the address starts unverified.
        `end_access(account_id)`: after a deletion committed, has metadata end the account's links,
        shares and follows at once (`adapters/metadata_client.py`)."""
        self.uow = uow
        self.reads = reads
        self.region = region
        self.replication_written = replication_written
        self.on_sign_up = on_sign_up
        self.end_access = end_access

    async def account(self, account_id: str) -> dict[str, Any]:
        account = await self.reads.accounts.by_id(account_id)
        if account is None:
            raise AccountNotFound(account_id)
        return account

    async def by_username(self, username: str) -> dict[str, Any]:
        """The account of this region holding `username` (normalised)."""
        account = await self.reads.accounts.by_username(normalise_username(username))
        if account is None:
            raise AccountNotFound(username)
        return account

    async def sign_up(self, *, username: str, email: str, password: str, plan: str) -> Account:
        """Store the account and emit `account.created` (without any secret) in one transaction,
        claim its username here and queue its replica for every other region.

        A username held here by anyone, a local account or another region's replica, is taken.
        """
        # argon2 takes ~100 ms of CPU: off the event loop, so the relays and other requests keep going.
        account = await asyncio.to_thread(
            new_account, username=username, email=email, password=password, plan=plan, region=self.region
        )

        async def work(tx: Tx) -> None:
            await tx.repos.replicas.claim_new(account.username, account.id, self.region)
            await tx.repos.accounts.add(account)
            tx.emit(
                AccountCreated(
                    account_id=account.id,
                    username=account.username,
                    email=account.email,
                    plan=cast(Any, plan),  # checked by the route's schema (a Literal there too)
                    home_region=account.home_region,
                    email_verified=self.on_sign_up is None,
                )
            )
            if self.on_sign_up is not None:
                await self.on_sign_up(tx, account.id, account.username, account.email)
            state = {
                "username": account.username,
                "home_region": self.region,
                "plan": plan,
                "status": "active",
                "version": 1,
            }
            await tx.repos.replication.enqueue(account.id, state)
            tx.after_commit(self.replication_written)

        await self.uow.run(work)
        return account

    async def sign_up_verified(
        self, *, username: str, email: str, plan: str, also: Callable[[Tx, Account], Awaitable[None]]
    ) -> Account:
        """An account whose address someone else vouched for (an OpenID provider's verified
        e-mail): no password (password sign-in never matches it), the address verified, and
        `also(tx, account)` (the address's claim, the provider link) in the same transaction.
        `UsernameTaken` when the name is held here by anyone."""
        account = Account(
            id=new_account_id(),
            username=normalise_username(username),
            email=email.strip(),
            plan=plan,
            home_region=self.region,
            password_hash="",
            created_at=datetime.now(UTC),
        )

        async def work(tx: Tx) -> None:
            await tx.repos.replicas.claim_new(account.username, account.id, self.region)
            await tx.repos.accounts.add(account)
            await tx.repos.accounts.update(account.id, {"email_verified": True})
            tx.emit(
                AccountCreated(
                    account_id=account.id,
                    username=account.username,
                    email=account.email,
                    plan=cast(Any, plan),
                    home_region=account.home_region,
                    email_verified=True,
                )
            )
            await also(tx, account)
            # Its state as it now is (with the identity `also` linked: its replica carries it).
            await tx.repos.replication.enqueue(
                account.id, replica_state(await tx.repos.accounts.by_id(account.id) or {})
            )
            tx.after_commit(self.replication_written)

        await self.uow.run(work)
        return account

    async def authenticate(self, username: str, password: str) -> dict[str, Any] | None:
        """The account whose credentials these are, or None.

        `HomeElsewhere` when the name belongs to another region's account (a replica here:
        it has no password, the home region checks it); `UsernameLost` when the password is
        right but the account lost its name to a simultaneous sign-up in another region.
        """
        name = normalise_username(username)
        account = await self.reads.accounts.by_username(name)
        if account is None:
            # Nobody holds the name here: no account to record a failure on (the audit trail is per account).
            await asyncio.to_thread(burn_verification, password)
        elif await asyncio.to_thread(password_matches, account["password_hash"], password):
            status = status_of(account)
            if status == "username_conflict":
                raise UsernameLost(account)
            if status == "active":
                await self._record_login(AccountLoggedIn(account_id=account["_id"], username=account["username"]))
                return account
            await self._record_login(
                AccountLoginFailed(account_id=account["_id"], username=account["username"], reason="account-inactive")
            )
            return None
        else:
            await self._record_login(AccountLoginFailed(account_id=account["_id"], username=account["username"]))
        if (home := await self.home_of(name)) is not None:
            raise HomeElsewhere(home)
        return None

    async def home_of(self, username: str) -> str | None:
        """The home region of the active account holding `username` (normalised) when it is
        another region's (this one holds its replica); None otherwise."""
        owner = await self.reads.replicas.owner_of(username)
        if owner is not None and owner["home_region"] != self.region:
            replica = await self.reads.replicas.replica(owner["account_id"])
            if replica is not None and status_of(replica) == "active":
                return str(owner["home_region"])
        return None

    async def _record_login(self, event: AccountLoggedIn | AccountLoginFailed) -> None:
        """Emit a login's outcome (for the audit trail) in a unit of work of its own: a login
        changes no state here, so the event is the whole of it."""

        async def work(tx: Tx) -> None:
            tx.emit(event)

        await self.uow.run(work)

    async def replicate(self, tx: Tx, account_id: str) -> dict[str, Any]:
        """For a use case of another module that changed what the account's replica carries (its
        linked identities) in `tx`."""
        return await self._replicate(tx, account_id)

    async def _replicate(self, tx: Tx, account_id: str) -> dict[str, Any]:
        """Bump the account's replica version and queue its new state for every other region."""
        account = await tx.repos.accounts.next_replica_version(account_id)
        await tx.repos.replication.enqueue(account_id, replica_state(account))
        tx.after_commit(self.replication_written)
        return account

    async def change_plan(self, account_id: str, plan: str) -> dict[str, Any]:
        async def work(tx: Tx) -> dict[str, Any]:
            account = await tx.repos.accounts.by_id(account_id)
            if account is None:
                raise AccountNotFound(account_id)
            if account["plan"] != plan:
                await tx.repos.accounts.update(account_id, {"plan": plan})
                tx.emit(AccountPlanChanged(account_id=account_id, old_plan=account["plan"], new_plan=cast(Any, plan)))
                account = await self._replicate(tx, account_id)
            return account

        return await self.uow.run(work)

    async def delete_account(self, account_id: str) -> None:
        """Mark the account deleted (its username stays reserved), emit `account.deleted` and
        replicate the deletion. Deleting a deleted account changes nothing.

        In the same transaction its verified address is free again and its app passwords go. Its
        links, shares and follows end at once (issue 33): metadata is told after the commit
        (`end_access`), and does it again, idempotently, on `account.deleted`. Its documents, versions, previews, index
        entries and objects go after the grace period, through the `account.deleted` consumers
        (metadata's, the indexer's, quota's and upload's)."""

        async def work(tx: Tx) -> None:
            account = await tx.repos.accounts.by_id(account_id)
            if account is None:
                raise AccountNotFound(account_id)
            if status_of(account) == "deleted":
                return
            await tx.repos.accounts.update(account_id, {"status": "deleted", "deleted_at": datetime.now(UTC)})
            await self._end_access(tx, account_id)
            tx.emit(
                AccountDeleted(account_id=account_id, username=account["username"], home_region=account["home_region"])
            )
            await self._replicate(tx, account_id)

        await self.uow.run(work)
        if self.end_access is not None:
            await self.end_access(account_id)

    async def _end_access(self, tx: Tx, account_id: str) -> None:
        """What of identity a deleted account leaves ends in its deletion's transaction: its verified
        address is free again, its app passwords go (the gateway stops trusting what it remembered of
        them). Its links, shares and follows end in metadata, on `account.deleted`."""
        await tx.repos.accounts.release_email(account_id)
        for app_id in await tx.repos.accounts.remove_app_passwords(account_id):
            tx.emit(AccountAppPasswordRevoked(account_id=account_id, app_id=app_id, reason="account-deleted"))

    async def receive_replica(self, account_id: str, state: Mapping[str, Any]) -> bool:
        """Store another region's account (minimal state), once per version; emit `account.replicated`.

        A version not above the one held changes nothing (a resent write, or one that arrives
        after a newer one). Username conflicts are settled by `username_winner`: if a local
        account loses, it is marked `username_conflict`, told at login, and that replicates too.
        Returns whether anything changed.
        """
        if state["home_region"] == self.region:
            raise InvalidReplica(f"account {account_id} has its home here, in {self.region}")

        async def work(tx: Tx) -> bool:
            held = await tx.repos.replicas.replica(account_id)
            if held is not None and int(held["version"]) >= int(state["version"]):
                return False
            await tx.repos.replicas.put_replica(account_id, state)
            username = state["username"]
            owner = await tx.repos.replicas.owner_of(username)
            local = await tx.repos.accounts.by_username(username)
            contenders = {account_id: state["home_region"]}
            if owner is not None:
                contenders[owner["account_id"]] = owner["home_region"]
            if local is not None and status_of(local) != "username_conflict":
                contenders[local["_id"]] = self.region
            winner = functools.reduce(username_winner, contenders)
            if local is not None and local["_id"] != winner and status_of(local) != "username_conflict":
                await self._lose_username(tx, local, winner, contenders[winner])
            await tx.repos.replicas.claim(username, winner, contenders[winner])
            tx.emit(
                AccountReplicated(
                    account_id=account_id,
                    username=username,
                    home_region=state["home_region"],
                    replica_region=self.region,
                    version=int(state["version"]),
                    status=state["status"],
                )
            )
            return True

        return await self.uow.run(work)

    async def _lose_username(self, tx: Tx, local: Mapping[str, Any], winner_id: str, winner_region: str) -> None:
        await tx.repos.accounts.update(
            local["_id"],
            {
                "status": "username_conflict",
                "conflict_with": {"account_id": winner_id, "home_region": winner_region, "at": datetime.now(UTC)},
            },
        )
        tx.emit(
            AccountUsernameConflicted(
                account_id=local["_id"],
                username=local["username"],
                home_region=self.region,
                winner_account_id=winner_id,
                winner_region=winner_region,
            )
        )
        await self._replicate(tx, local["_id"])
