"""MongoDB side of account security: the account's credential fields, single-use mail tokens and
per-account send counters, bound to one session like `repositories.py`.

- `accounts` (the same collection as `repositories.AccountRepository`) gains `email_verified`
  (False until verified; absent on accounts from before verification: they count as verified),
  `pending_email`, `password_changed_at` and `mfa` {`enabled`, `secret` (Fernet ciphertext),
  `pending_secret`, `last_step`, `recovery` (SHA-256 digests)}.
- `account_tokens`: `_id` = SHA-256 of the token (never the token), `account_id`, `purpose`,
  `expires_at`, `used_at`, `email` (the requested address, for `change-email`). A TTL index
  removes them a day after they expire.
- `account_counters`: fixed one-hour windows of mails sent per account and kind (TTL-removed).
- `verified_emails`: `_id` = a verified address, case-folded (`email_key`) -> `account_id`: one
  account per verified address in this region (issue 33). Inserted in the transaction that
  verifies the address, so two verifications racing for one address cannot both commit (the
  unique `_id` decides); released when the address changes or the account is deleted.
- `account_notices`: notice mails that carry no token ("your password was changed", "your
  address is being changed"), written in the transaction of the change they tell of and sent by
  a relay until notify takes them (`NoticeQueue`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from docstore_accounts.domain.credentials import AddressInUse, IssuedToken

Session = AsyncClientSession | None
Doc = dict[str, Any]


class CredentialAccounts:
    """The credential fields of home accounts."""

    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.collection = db["accounts"]
        self.session = session

    async def by_id(self, account_id: str) -> Doc | None:
        return await self.collection.find_one({"_id": account_id}, session=self.session)

    async def by_username_or_email(self, name: str) -> Doc | None:
        """The home account whose username is `name` (lower-cased), else the one account whose
        verified address it is (any case; `verified_emails`), else, for accounts verified before
        addresses were claimed, a verified account with exactly that address. Never an account
        whose address is unverified: anyone can type any address at sign-up."""
        found = await self.collection.find_one({"username": name.strip().lower()}, session=self.session)
        if found is None and "@" in name:
            holder = await EmailClaims(self.collection.database, self.session).holder(name)
            if holder is not None:
                return await self.by_id(holder)
            found = await self.collection.find_one(
                {"email": name.strip(), "email_verified": {"$ne": False}}, session=self.session
            )
        return found

    async def set(self, account_id: str, changes: Mapping[str, Any]) -> None:
        await self.collection.update_one({"_id": account_id}, {"$set": dict(changes)}, session=self.session)

    async def unset(self, account_id: str, *fields: str) -> None:
        await self.collection.update_one(
            {"_id": account_id}, {"$unset": dict.fromkeys(fields, "")}, session=self.session
        )

    async def advance_totp_step(self, account_id: str, step: int) -> bool:
        """Record `step` as the last TOTP step used, only if it is later than the one held: of two
        requests with the same code, exactly one moves it (the other is a replay)."""
        moved = await self.collection.find_one_and_update(
            {
                "_id": account_id,
                "$or": [{"mfa.last_step": {"$lt": step}}, {"mfa.last_step": None}],
            },
            {"$set": {"mfa.last_step": step}},
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
        return moved is not None

    async def spend_recovery_code(self, account_id: str, digest: str) -> bool:
        """Remove one recovery code; True only for the request that removed it (each works once)."""
        result = await self.collection.update_one(
            {"_id": account_id, "mfa.recovery": digest}, {"$pull": {"mfa.recovery": digest}}, session=self.session
        )
        return result.modified_count == 1


def email_key(address: str) -> str:
    """The form an address is unique in: trimmed and case-folded (`Ann@Example.com` is `ann@example.com`)."""
    return address.strip().casefold()


class EmailClaims:
    """`verified_emails`: which account holds each verified address (one each, in this region)."""

    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.collection = db["verified_emails"]
        self.accounts = db["accounts"]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("account_id")

    async def holder(self, address: str) -> str | None:
        """The account holding `address`, verified, in this region; else None. Accounts verified
        before claims existed hold theirs too (an exact match, verified and not deleted)."""
        claim = await self.collection.find_one({"_id": email_key(address)}, session=self.session)
        if claim is not None:
            return str(claim["account_id"])
        legacy = await self.accounts.find_one(
            {"email": address.strip(), "email_verified": {"$ne": False}, "status": {"$ne": "deleted"}},
            {"_id": 1},
            session=self.session,
        )
        return str(legacy["_id"]) if legacy is not None else None

    async def claim(self, address: str, account_id: str) -> bool:
        """Make `account_id` the holder of `address`; False when another account holds it.

        Read first, then insert only when nobody holds it: inside a transaction a failed insert
        would abort the whole transaction. Two claims racing for one address conflict in MongoDB
        (a write conflict, retried by the unit of work, whose retry reads the winner's claim); an
        insert that still meets a committed claim raises `AddressInUse` (the transaction is over)."""
        claimed = await self.collection.find_one({"_id": email_key(address)}, session=self.session)
        if claimed is not None:
            return bool(claimed["account_id"] == account_id)
        holder = await self.holder(address)  # an account verified before claims existed
        if holder is not None and holder != account_id:
            return False
        try:
            await self.collection.insert_one(
                {"_id": email_key(address), "account_id": account_id, "at": datetime.now(UTC)}, session=self.session
            )
        except DuplicateKeyError as error:
            raise AddressInUse() from error
        return True

    async def release(self, account_id: str, address: str | None = None) -> None:
        """`account_id` no longer holds `address` (None: any address it holds)."""
        query: Doc = {"account_id": account_id}
        if address is not None:
            query["_id"] = email_key(address)
        await self.collection.delete_many(query, session=self.session)


class TokenRepository:
    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.collection = db["account_tokens"]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("expires_at", expireAfterSeconds=24 * 3600)
        await self.collection.create_index([("account_id", 1), ("purpose", 1)])

    async def add(self, account_id: str, issued: IssuedToken, *, email: str | None = None) -> None:
        doc: Doc = {
            "_id": issued.digest,
            "account_id": account_id,
            "purpose": issued.purpose,
            "created_at": datetime.now(UTC),
            "expires_at": issued.expires_at,
            "used_at": None,
        }
        if email is not None:
            doc["email"] = email
        await self.collection.insert_one(doc, session=self.session)

    async def get(self, digest: str) -> Doc | None:
        return await self.collection.find_one({"_id": digest}, session=self.session)

    async def spend(self, digest: str, now: datetime) -> bool:
        """Mark the token used; True only for the one request that did (single use under races)."""
        result = await self.collection.update_one(
            {"_id": digest, "used_at": None}, {"$set": {"used_at": now}}, session=self.session
        )
        return result.modified_count == 1

    async def retire_all(self, account_id: str, now: datetime) -> int:
        """Every unused token of the account, whatever its purpose, stops working (the address they
        were mailed to is no longer the account's). How many."""
        result = await self.collection.update_many(
            {"account_id": account_id, "used_at": None},
            {"$set": {"used_at": now, "retired": True}},
            session=self.session,
        )
        return result.modified_count

    async def retire(self, account_id: str, purpose: str, now: datetime) -> None:
        """Every unused token of the account for `purpose` stops working (a newer one was sent, or
        the password changed)."""
        await self.collection.update_many(
            {"account_id": account_id, "purpose": purpose, "used_at": None},
            {"$set": {"used_at": now, "retired": True}},
            session=self.session,
        )


class CounterRepository:
    """Fixed one-hour windows per (account, kind): enough to stop a mail flood, one write each."""

    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.collection = db["account_counters"]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("expires_at", expireAfterSeconds=0)

    async def count(self, account_id: str, kind: str, now: datetime) -> int:
        """How many `kind` the account used in this hour."""
        window = now.replace(minute=0, second=0, microsecond=0)
        doc = await self.collection.find_one({"_id": f"{account_id}:{kind}:{window.isoformat()}"}, session=self.session)
        return int(doc["count"]) if doc else 0

    async def take(self, account_id: str, kind: str, now: datetime, limit: int) -> bool:
        """Count one more `kind` for the account in this hour; False when the hour's `limit` is spent."""
        window = now.replace(minute=0, second=0, microsecond=0)
        doc = await self.collection.find_one_and_update(
            {"_id": f"{account_id}:{kind}:{window.isoformat()}"},
            {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": window + timedelta(hours=2)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
        return doc is not None and int(doc["count"]) <= limit


class NoticeQueue:
    """Notice mails waiting for notify: `{_id, kind, account_id, to, fields, created_at, attempts,
    next_attempt_at, last_error}`. A row is inserted in the change's transaction (so a notice is
    never lost to a process that dies after the commit), claimed by one sender at a time (a lease:
    `next_attempt_at` moved ahead), deleted once notify took it, and otherwise tried again later.
    Rows never hold a token or a link: only the notices without one go this way."""

    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.collection = db["account_notices"]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("next_attempt_at")

    async def add(
        self, notice_id: str, kind: str, account_id: str, to: str, fields: Mapping[str, Any], now: datetime
    ) -> None:
        await self.collection.insert_one(
            {
                "_id": notice_id,
                "kind": kind,
                "account_id": account_id,
                "to": to,
                "fields": dict(fields),
                "created_at": now,
                "attempts": 0,
                "next_attempt_at": now,
            },
            session=self.session,
        )

    async def due(self, now: datetime, limit: int) -> list[Doc]:
        found = self.collection.find({"next_attempt_at": {"$lte": now}}, session=self.session)
        return await found.sort("next_attempt_at", 1).limit(limit).to_list(None)

    async def claim(self, row: Doc, now: datetime, lease: timedelta) -> bool:
        """True for the one sender that moved the row's next attempt past the lease (two replicas
        never send one notice at once; a sender that died lets it come due again)."""
        result = await self.collection.update_one(
            {"_id": row["_id"], "next_attempt_at": row["next_attempt_at"]},
            {"$set": {"next_attempt_at": now + lease}},
            session=self.session,
        )
        return result.modified_count == 1

    async def sent(self, notice_id: str) -> None:
        await self.collection.delete_one({"_id": notice_id}, session=self.session)

    async def retry_at(self, notice_id: str, at: datetime, error: str) -> None:
        await self.collection.update_one(
            {"_id": notice_id},
            {"$set": {"next_attempt_at": at, "last_error": error}, "$inc": {"attempts": 1}},
            session=self.session,
        )


@dataclass(frozen=True)
class CredentialRepositories:
    """What the account-security unit of work hands a use case."""

    accounts: CredentialAccounts
    tokens: TokenRepository
    counters: CounterRepository
    notices: NoticeQueue
    emails: EmailClaims


def credential_repositories(db: AsyncDatabase[Any]) -> Callable[[Session], CredentialRepositories]:
    def bound(session: Session) -> CredentialRepositories:
        return CredentialRepositories(
            CredentialAccounts(db, session),
            TokenRepository(db, session),
            CounterRepository(db, session),
            NoticeQueue(db, session),
            EmailClaims(db, session),
        )

    return bound


async def ensure_credential_indexes(db: AsyncDatabase[Any]) -> None:
    await db["accounts"].create_index("email")  # password reset by address
    await TokenRepository(db).ensure_indexes()
    await CounterRepository(db).ensure_indexes()
    await NoticeQueue(db).ensure_indexes()
    await EmailClaims(db).ensure_indexes()
