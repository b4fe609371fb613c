"""App password use cases (issue 36): create (shown once), list, revoke, and the gateway's check.

Creating and revoking each run in a unit of work with their event (`account.app-password-created`,
`account.app-password-revoked`: the audit trail records them; the gateway stops trusting what it
cached of the account's app passwords on a revocation). The check (`verify`) writes nothing but the
last use, at most once a minute per app password, and emits nothing: a tool syncing every few
seconds must not fill the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from docstore_accounts.adapters.app_passwords import AppPasswordRepositories
from docstore_accounts.domain.accounts import AccountNotFound, HomeElsewhere, normalise_username, status_of
from docstore_accounts.domain.app_passwords import (
    MAX_PER_ACCOUNT,
    AppPasswordNotFound,
    TooManyAppPasswords,
    check_name,
    check_scope,
    digest,
    looks_like,
    new_id,
    new_secret,
)
from docstore_events.credentials import AccountAppPasswordCreated, AccountAppPasswordRevoked
from docstore_messaging.unit_of_work import Transaction, UnitOfWork

Doc = dict[str, Any]
Tx = Transaction[AppPasswordRepositories]


class AccountReads(Protocol):
    """What the check reads of accounts: the home account of a username, and where a name not
    held here lives (`Accounts.reads`' repositories)."""

    async def by_id(self, account_id: str) -> Doc | None: ...

    async def by_username(self, username: str) -> Doc | None: ...


class HomeOf(Protocol):
    async def __call__(self, username: str) -> str | None:
        """The home region of an active account this region holds only a replica of, else None."""
        ...


@dataclass(frozen=True)
class Created:
    row: Doc
    secret: str
    """The app password itself: in this answer only, never stored or logged."""
    username: str
    """What goes beside it (HTTP Basic)."""


@dataclass(frozen=True)
class Verified:
    account: Doc
    app_password_id: str
    scope: str


def _now() -> datetime:
    return datetime.now(UTC)


class AppPasswords:
    def __init__(
        self,
        uow: UnitOfWork[AppPasswordRepositories],
        reads: AppPasswordRepositories,
        accounts: AccountReads,
        home_of: HomeOf,
        *,
        region: str,
    ) -> None:
        self.uow = uow
        self.reads = reads
        self.accounts = accounts
        self.home_of = home_of
        self.region = region

    async def _active(self, account_id: str) -> Doc:
        account = await self.accounts.by_id(account_id)
        if account is None or status_of(account) != "active":
            raise AccountNotFound(account_id)
        return account

    async def create(self, account_id: str, name: str, scope: str) -> Created:
        """A new app password for the account; its secret comes back this once."""
        name, checked_scope = check_name(name), check_scope(scope)
        account = await self._active(account_id)
        secret = new_secret()
        row: Doc = {
            "_id": new_id(),
            "account_id": account_id,
            "name": name,
            "scope": checked_scope,
            "digest": digest(secret),
            "created_at": _now(),
            "last_used_at": None,
        }

        async def work(tx: Tx) -> None:
            if await tx.repos.app_passwords.count(account_id) >= MAX_PER_ACCOUNT:
                raise TooManyAppPasswords()
            await tx.repos.app_passwords.add(row)
            tx.emit(AccountAppPasswordCreated(account_id=account_id, app_id=row["_id"], name=name, scope=checked_scope))

        await self.uow.run(work)
        return Created({key: value for key, value in row.items() if key != "digest"}, secret, account["username"])

    async def list(self, account_id: str) -> list[Doc]:
        return await self.reads.app_passwords.of_account(account_id)

    async def revoke(self, account_id: str, app_password_id: str) -> None:
        """It stops working (the gateway hears of it through `account.app-password-revoked`);
        404 for an id that is not one of the account's."""

        async def work(tx: Tx) -> None:
            if await tx.repos.app_passwords.remove(account_id, app_password_id) is None:
                raise AppPasswordNotFound()
            tx.emit(AccountAppPasswordRevoked(account_id=account_id, app_id=app_password_id))

        await self.uow.run(work)

    async def verify(self, username: str, secret: str) -> Verified | None:
        """The account and app password these are, or None (wrong, revoked, another account's,
        an inactive account). `HomeElsewhere` when the username's home is another region (the
        app password lives there). Records the use (at most once a minute)."""
        name = normalise_username(username)
        account = await self.accounts.by_username(name)
        if account is None:
            if (home := await self.home_of(name)) is not None and home != self.region:
                raise HomeElsewhere(home)
            return None
        if not looks_like(secret) or status_of(account) != "active":
            return None
        row = await self.reads.app_passwords.by_digest(digest(secret))
        if row is None or row["account_id"] != account["_id"]:
            return None
        await self.reads.app_passwords.used(row["_id"], _now())
        return Verified(account, row["_id"], row["scope"])
