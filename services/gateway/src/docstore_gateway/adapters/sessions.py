"""Login sessions in MongoDB: access tokens in `sessions`, refresh tokens in `refresh_tokens`;
the gateway process keeps no session state.

Only a SHA-256 of each token is stored (as `_id`), so a database leak reveals no usable token.
Logging in and refreshing are single-document writes, atomic on their own. Ending sessions
(logout, logout everywhere, a reused refresh token) runs in a unit of work with the
`session.ended` event it emits: the repository is then bound to that transaction (`session`).
Spending a refresh token is one conditional update (`used_at: null` -> now), so of two
concurrent refreshes with the same token only one wins.

Access tokens are signed and not stored (issue 36): every removal also writes its entry of the
revocation list (`revocations`: a family ended, or an account's logins before a moment), in the
same transaction; each gateway process reads the entries since its last read about once a second
(`MongoRevocations.revocations_since`). A TTL index forgets an entry once no access token it
refuses can be alive (`keep`: an access token's lifetime and a margin).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_gateway.adapters.devices import FAMILIES, MongoDevices
from docstore_gateway.domain.sessions import RefreshOutcome, RefreshToken, Revocation, Session

COLLECTION = "sessions"
REFRESH_COLLECTION = "refresh_tokens"
REVOCATIONS = "revocations"
DEFAULT_KEEP = timedelta(hours=1)


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime | None) -> datetime | None:
    # MongoDB hands datetimes back naive (UTC); the domain compares aware ones.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _refresh(token: str, row: dict[str, Any]) -> RefreshToken:
    expires_at = _aware(row["expires_at"])
    assert expires_at is not None
    return RefreshToken(
        token=token,
        family_id=row["family_id"],
        account_id=row["account_id"],
        role=row.get("role", "user"),
        expires_at=expires_at,
        used_at=_aware(row.get("used_at")),
        signed_in_at=_aware(row.get("signed_in_at")),
        revoked=row.get("revoked_at") is not None,
    )


class MongoSessions:
    def __init__(
        self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None, *, keep: timedelta = DEFAULT_KEEP
    ) -> None:
        """`session`: the MongoDB transaction the removals run in (None: each write on its own).
        `keep`: how long a revocation entry is kept (longer than an access token lives)."""
        self.collection = db[COLLECTION]
        self.refresh_tokens = db[REFRESH_COLLECTION]
        self.families = db[FAMILIES]
        self.revocations = db[REVOCATIONS]
        self.session = session
        self.keep = keep

    async def _family_ended(self, family_id: str) -> None:
        now = datetime.now(UTC)
        await self.revocations.update_one(
            {"_id": f"family:{family_id}"},
            {"$set": {"kind": "family", "key": family_id, "at": now, "expires_at": now + self.keep}},
            upsert=True,
            session=self.session,
        )

    async def _account_signed_out(self, account_id: str, before: datetime) -> None:
        now = datetime.now(UTC)
        await self.revocations.update_one(
            {"_id": f"account:{account_id}"},
            {
                "$set": {"kind": "account", "key": account_id, "at": now, "expires_at": now + self.keep},
                "$max": {"before": before},
            },
            upsert=True,
            session=self.session,
        )

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("account_id")
        await self.collection.create_index("family_id")
        await self.refresh_tokens.create_index("account_id")
        await self.refresh_tokens.create_index("family_id")
        await self.revocations.create_index("at")
        await self.revocations.create_index("expires_at", expireAfterSeconds=0)

    async def add(self, session: Session) -> None:
        await self.collection.insert_one(
            {
                "_id": _token_id(session.token),
                "account_id": session.account_id,
                "role": session.role,
                "family_id": session.family_id,
                "signed_in_at": session.signed_in_at,
                "created_at": session.created_at,
                "expires_at": session.expires_at,
            }
        )

    async def get(self, token: str) -> Session | None:
        row = await self.collection.find_one({"_id": _token_id(token)})
        if row is None:
            return None
        created_at, expires_at = _aware(row["created_at"]), _aware(row["expires_at"])
        assert created_at is not None and expires_at is not None
        return Session(
            token,
            row["account_id"],
            row.get("role", "user"),
            created_at,
            expires_at,
            row.get("family_id", ""),
            _aware(row.get("signed_in_at")),
            revoked=row.get("revoked_at") is not None,
        )

    async def remove(self, token: str) -> None:
        await self.collection.delete_one({"_id": _token_id(token)}, session=self.session)

    async def remove_account(self, account_id: str) -> None:
        await self.collection.delete_many({"account_id": account_id}, session=self.session)
        await self.refresh_tokens.delete_many({"account_id": account_id}, session=self.session)
        await self.families.delete_many({"account_id": account_id}, session=self.session)
        await self._account_signed_out(account_id, datetime.now(UTC))

    async def remove_logins_before(self, account_id: str, moment: datetime) -> None:
        """The refresh tokens and device rows of the account's logins before `moment` (refresh
        tokens without a login time are older than this rule: removed too). Their access tokens
        stay until they expire (minutes), refused by the Authenticator by their login time, so a
        client hears "signed out" rather than an unexplained 401."""
        older = {"account_id": account_id, "$or": [{"signed_in_at": {"$lt": moment}}, {"signed_in_at": None}]}
        await self.refresh_tokens.delete_many(older, session=self.session)
        await self.families.delete_many({"account_id": account_id, "created_at": {"$lt": moment}}, session=self.session)
        await self._account_signed_out(account_id, moment)

    async def remove_family(self, family_id: str) -> None:
        if not family_id:
            return  # a session from before families: it has no relatives to revoke
        await self.refresh_tokens.delete_many({"family_id": family_id}, session=self.session)
        await self.collection.delete_many({"family_id": family_id}, session=self.session)
        await self.families.delete_one({"_id": family_id}, session=self.session)
        await self._family_ended(family_id)

    async def revoke_family(self, family_id: str, at: datetime) -> None:
        if not family_id:
            return
        revoked = {"family_id": family_id, "revoked_at": None}
        await self.refresh_tokens.update_many(revoked, {"$set": {"revoked_at": at}}, session=self.session)
        await self.collection.update_many(revoked, {"$set": {"revoked_at": at}}, session=self.session)
        await self.families.delete_one({"_id": family_id}, session=self.session)
        await self._family_ended(family_id)

    async def add_refresh(self, token: RefreshToken) -> None:
        await self.refresh_tokens.insert_one(
            {
                "_id": _token_id(token.token),
                "family_id": token.family_id,
                "account_id": token.account_id,
                "role": token.role,
                "expires_at": token.expires_at,
                "used_at": token.used_at,
                "signed_in_at": token.signed_in_at,
            }
        )

    async def find_refresh(self, token: str) -> RefreshToken | None:
        row = await self.refresh_tokens.find_one({"_id": _token_id(token)})
        return None if row is None else _refresh(token, row)

    async def use_refresh(self, token: str, now: datetime) -> tuple[str, RefreshToken | None]:
        spent = await self.refresh_tokens.find_one_and_update(
            {"_id": _token_id(token), "used_at": None},
            {"$set": {"used_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if spent is not None:
            return RefreshOutcome.SPENT, _refresh(token, spent)
        found = await self.find_refresh(token)
        return (RefreshOutcome.REUSED, found) if found is not None else (RefreshOutcome.UNKNOWN, None)


class MongoRevocations:
    """The revocation list as stored, read by every gateway process (`RevocationList`)."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db[REVOCATIONS]

    async def revocations_since(self, moment: datetime) -> list[Revocation]:
        rows = self.collection.find({"at": {"$gte": moment}}).sort("at", 1)
        return [
            Revocation(
                kind=row["kind"], key=row["key"], at=_aware(row["at"]) or moment, before=_aware(row.get("before"))
            )
            async for row in rows
        ]


@dataclass(frozen=True)
class SessionRepositories:
    """What the gateway's unit of work hands its use cases: the session store, bound to one transaction."""

    sessions: MongoSessions
    devices: MongoDevices


def repositories(
    db: AsyncDatabase[Any], *, keep: timedelta = DEFAULT_KEEP
) -> Callable[[AsyncClientSession | None], SessionRepositories]:
    """The factory `EventRuntime.unit_of_work` takes: repositories bound to a session (None: none)."""
    return lambda session: SessionRepositories(MongoSessions(db, session, keep=keep), MongoDevices(db, session))
