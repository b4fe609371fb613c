"""What the gateway keeps about sessions beside their tokens, in MongoDB:

- `session_families`: one row per session (a refresh-token family) for the list of devices:
  client (short form), address, region, created, last seen; gone when the session ends (and by
  a TTL index when it expires unused);
- `known_devices`: a digest per account, client family and address seen signing in (the
  "new sign-in" rule); forgotten a year after it was last seen;
- `sign_outs`: per account, the instant before which every login was revoked
  (`account.sessions-revoked`);
- `app_password_revocations`: per account, the instant before which the gateway's checks of
  its app passwords no longer stand (`account.app-password-revoked`);
- `mfa_tickets_spent`: the ids of spent second-step tickets, until they expire (TTL index).

Bound to a unit of work's transaction when `session` is given.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from docstore_gateway.domain.devices import Device

FAMILIES = "session_families"
KNOWN_DEVICES = "known_devices"
SIGN_OUTS = "sign_outs"
SPENT_TICKETS = "mfa_tickets_spent"
APP_PASSWORD_REVOCATIONS = "app_password_revocations"
KNOWN_DEVICE_DAYS = 365


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _device(row: dict[str, Any]) -> Device:
    return Device(
        session_id=row["_id"],
        account_id=row["account_id"],
        client=row.get("client", ""),
        address=row.get("address", ""),
        region=row.get("region", ""),
        created_at=_aware(row["created_at"]),
        last_seen_at=_aware(row.get("last_seen_at") or row["created_at"]),
        expires_at=_aware(row["expires_at"]),
    )


class MongoDevices:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None) -> None:
        self.families = db[FAMILIES]
        self.known = db[KNOWN_DEVICES]
        self.sign_outs = db[SIGN_OUTS]
        self.tickets = db[SPENT_TICKETS]
        self.app_password_revocations = db[APP_PASSWORD_REVOCATIONS]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.families.create_index([("account_id", 1), ("created_at", -1)])
        await self.families.create_index("expires_at", expireAfterSeconds=0)
        await self.known.create_index("account_id")
        await self.known.create_index("last_seen_at", expireAfterSeconds=KNOWN_DEVICE_DAYS * 24 * 3600)
        await self.tickets.create_index("expires_at", expireAfterSeconds=0)

    # --- sessions as devices ---

    async def add_family(self, device: Device) -> None:
        await self.families.insert_one(
            {
                "_id": device.session_id,
                "account_id": device.account_id,
                "client": device.client,
                "address": device.address,
                "region": device.region,
                "created_at": device.created_at,
                "last_seen_at": device.last_seen_at,
                "expires_at": device.expires_at,
            },
            session=self.session,
        )

    async def touch_family(self, family_id: str, *, seen_at: datetime, expires_at: datetime, address: str) -> None:
        """A refresh: the session was seen now, from `address`, and lives until `expires_at`."""
        await self.families.update_one(
            {"_id": family_id},
            {"$set": {"last_seen_at": seen_at, "expires_at": expires_at} | ({"address": address} if address else {})},
            session=self.session,
        )

    async def list_families(self, account_id: str, *, now: datetime, offset: int, limit: int) -> list[Device]:
        """The account's live sessions, newest login first."""
        rows = (
            self.families.find({"account_id": account_id, "expires_at": {"$gt": now}}, session=self.session)
            .sort([("created_at", -1), ("_id", 1)])
            .skip(offset)
            .limit(limit)
        )
        return [_device(row) async for row in rows]

    async def family(self, account_id: str, family_id: str) -> Device | None:
        row = await self.families.find_one({"_id": family_id, "account_id": account_id}, session=self.session)
        return None if row is None else _device(row)

    async def family_ids(self, account_id: str) -> list[str]:
        rows = self.families.find({"account_id": account_id}, {"_id": 1}, session=self.session)
        return [row["_id"] async for row in rows]

    # --- the "new sign-in" rule ---

    async def remember(self, account_id: str, key: str, now: datetime) -> tuple[bool, int]:
        """Record that `key` (a digest of account, client family and address) signed in now:
        (whether it had before, how many devices the account had before this one)."""
        known = await self.known.count_documents({"account_id": account_id}, session=self.session)
        result = await self.known.update_one(
            {"_id": key},
            {"$set": {"last_seen_at": now}, "$setOnInsert": {"account_id": account_id, "first_seen_at": now}},
            upsert=True,
            session=self.session,
        )
        return result.upserted_id is None, known

    # --- revocations of every session ---

    async def sign_out_before(self, account_id: str, moment: datetime) -> None:
        """Logins of the account before `moment` are revoked (the latest such moment wins)."""
        await self.sign_outs.update_one(
            {"_id": account_id}, {"$max": {"valid_after": moment}}, upsert=True, session=self.session
        )

    async def valid_after(self, account_id: str) -> datetime | None:
        row = await self.sign_outs.find_one({"_id": account_id}, session=self.session)
        return None if row is None else _aware(row["valid_after"])

    # --- second-step tickets ---

    async def app_passwords_revoked(self, account_id: str, moment: datetime) -> None:
        await self.app_password_revocations.update_one(
            {"_id": account_id}, {"$max": {"after": moment}}, upsert=True, session=self.session
        )

    async def app_passwords_revoked_at(self, account_id: str) -> datetime | None:
        row = await self.app_password_revocations.find_one({"_id": account_id}, session=self.session)
        return None if row is None else _aware(row["after"])

    async def ticket_spent(self, ticket_id: str) -> bool:
        return await self.tickets.find_one({"_id": ticket_id}, {"_id": 1}, session=self.session) is not None

    async def spend_ticket(self, ticket_id: str, expires_at: datetime) -> bool:
        """True the first time a ticket id is spent, False ever after (until it has expired)."""
        try:
            await self.tickets.insert_one({"_id": ticket_id, "expires_at": expires_at}, session=self.session)
        except DuplicateKeyError:
            return False
        return True
