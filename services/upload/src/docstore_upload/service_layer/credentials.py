"""Temporary upload credentials: issue them for the caller's staging prefix, and end them.

Issuing records the credential first (so a process that dies right after creating an identity
still leaves the sweeper something to delete), then asks the identity store, then notes the
access key id. The sweeper (`sweep_forever`) takes each expired credential once (leased, so
replicas share the work), deletes its identity (idempotent), deletes what was written under
the prefix that no pending upload owns, aborts unfinished multipart uploads there, and marks it
revoked. Both steps emit their event through the outbox (`upload.credentials-issued`,
`upload.credentials-expired`). The secret is answered once and never stored, logged or put in an event.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from docstore_events.uploads import UploadCredentialsExpired, UploadCredentialsIssued
from docstore_messaging.unit_of_work import Transaction, UnitOfWork
from docstore_upload.domain.credentials import (
    CredentialsOff,
    IssuedKeys,
    Scope,
    TooManyCredentials,
    check_lifetime,
    identity_name,
    stray_keys,
    upload_prefix,
)
from docstore_upload.domain.sessions import PENDING

log = structlog.get_logger(__name__)


class IdentityStore(Protocol):
    """Makes and ends credentials (`adapters.credentials.SeaweedFSIdentities`, `StsSessions`)."""

    name: str

    async def issue(
        self, *, identity: str, account_id: str, credential_id: str, scope: Scope, lifetime: timedelta
    ) -> IssuedKeys: ...
    async def revoke(self, identity: str) -> None: ...


class Records(Protocol):
    """The credentials' rows; `session` is the unit of work's transaction (None outside one)."""

    async def add(self, row: dict[str, Any], *, session: Any = None) -> None: ...
    async def set(self, credential_id: str, *, session: Any = None, **fields: Any) -> None: ...
    async def live(self, account_id: str, now: datetime) -> int: ...
    async def claim_due(self, now: datetime, lease: timedelta) -> dict[str, Any] | None: ...


class Staging(Protocol):
    """The bucket, as the sweeper needs it."""

    async def keys(self, prefix: str) -> list[str]: ...
    async def multipart_uploads(self, prefix: str) -> list[tuple[str, str]]: ...
    async def abort(self, key: str, s3_upload_id: str) -> None: ...
    async def delete_many(self, keys: list[str]) -> None: ...


class PendingLookup(Protocol):
    async def by_key(self, key: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class IssuedCredentials:
    credential_id: str
    keys: IssuedKeys
    scope: Scope
    expires_at: datetime
    endpoint: str
    required_headers: dict[str, str] = field(default_factory=dict)
    """Headers every write with these credentials must carry: the server-side encryption
    (`x-amz-server-side-encryption`...). The bucket refuses a PUT under the staging prefix
    without it (tools/devplatform `staging_encryption_policy`; on AWS the bucket policy in
    upload's README), so an object written with the credentials is never stored in the clear."""


class UploadCredentials:
    def __init__(
        self,
        uow: UnitOfWork[Any],
        store: IdentityStore | None,
        records: Records,
        staging: Staging,
        sessions: PendingLookup,
        *,
        bucket: str,
        region: str,
        endpoint: str,
        lifetime: timedelta,
        max_live: int = 5,
        required_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.uow = uow
        self.store = store
        self.records = records
        self.staging = staging
        self.sessions = sessions
        self.bucket = bucket
        self.region = region
        self.endpoint = endpoint
        self.lifetime = check_lifetime(lifetime)
        self.max_live = max_live
        self.required_headers = dict(required_headers or {})

    async def issue(self, account_id: str) -> IssuedCredentials:
        """Credentials that may write only under the account's staging prefix, for `lifetime`.
        404 when this deployment hands none out; 429 when the account holds `max_live` already."""
        if self.store is None:
            raise CredentialsOff("This server hands out no temporary upload credentials: upload with forms.")
        now = datetime.now(UTC)
        if await self.records.live(account_id, now) >= self.max_live:
            raise TooManyCredentials(
                f"You already hold {self.max_live} sets of upload credentials that have not expired. "
                "Use one of them, or wait until one expires."
            )
        credential_id = uuid.uuid4().hex
        scope = Scope(
            bucket=self.bucket, prefix=upload_prefix(region=self.region, account_id=account_id), region=self.region
        )
        identity = identity_name(credential_id)
        row = {
            "_id": credential_id,
            "account_id": account_id,
            "identity": identity,
            "adapter": self.store.name,
            "bucket": scope.bucket,
            "prefix": scope.prefix,
            "issued_at": now,
            # Until the store answers, the latest it can end: the sweeper deletes the identity then.
            "expires_at": now + self.lifetime,
            "revoked_at": None,
        }

        async def record(tx: Transaction[Any]) -> None:
            await self.records.add(row, session=tx.session)

        await self.uow.run(record)
        keys = await self.store.issue(
            identity=identity, account_id=account_id, credential_id=credential_id, scope=scope, lifetime=self.lifetime
        )
        # STS ends a session itself, no sooner than its 15-minute minimum: that is when it ends.
        expires_at = keys.expires_at or now + self.lifetime
        store = self.store.name

        async def issued(tx: Transaction[Any]) -> None:
            await self.records.set(
                credential_id, session=tx.session, access_key_id=keys.access_key_id, expires_at=expires_at
            )
            tx.emit(
                UploadCredentialsIssued(
                    account_id=account_id,
                    credential_id=credential_id,
                    access_key_id=keys.access_key_id,
                    bucket=scope.bucket,
                    prefix=scope.prefix,
                    expires_at=expires_at,
                    store=store,
                )
            )

        await self.uow.run(issued)
        log.info(
            "upload_credentials_issued",
            account_id=account_id,
            credential_id=credential_id,
            access_key_id=keys.access_key_id,
            prefix=scope.prefix,
            expires_at=expires_at.isoformat(),
        )
        return IssuedCredentials(
            credential_id=credential_id,
            keys=keys,
            scope=scope,
            expires_at=expires_at,
            endpoint=self.endpoint,
            required_headers=dict(self.required_headers),
        )

    async def sweep_once(self, lease: timedelta) -> bool:
        """End one expired credential; False when none is due."""
        now = datetime.now(UTC)
        row = await self.records.claim_due(now, lease)
        if row is None:
            return False
        if self.store is not None and row.get("adapter") == self.store.name:
            await self.store.revoke(row["identity"])
        # While the account holds other live credentials, a write under the prefix may be theirs
        # in progress: the last of them to expire cleans up.
        strays = 0 if await self.records.live(row["account_id"], now) else await self.clean_prefix(row["prefix"])

        async def ended(tx: Transaction[Any]) -> None:
            await self.records.set(row["_id"], session=tx.session, revoked_at=now, strays_deleted=strays)
            tx.emit(
                UploadCredentialsExpired(
                    account_id=row["account_id"],
                    credential_id=row["_id"],
                    access_key_id=row.get("access_key_id"),
                    strays_deleted=strays,
                )
            )

        await self.uow.run(ended)
        log.info(
            "upload_credentials_expired",
            account_id=row["account_id"],
            credential_id=row["_id"],
            strays_deleted=strays,
        )
        return True

    async def clean_prefix(self, prefix: str) -> int:
        """Delete what sits under `prefix` that no pending upload owns (a write outside any grant,
        or after its upload finished), and abort unfinished multipart uploads to such keys. What a
        pending upload owns stays: its completion checks size and sha256 against the grant."""
        keys = await self.staging.keys(prefix)
        pending = {key for key in keys if await self._pending(key)}
        strays = stray_keys(keys, pending)
        if strays:
            await self.staging.delete_many(strays)
            log.warning("upload_credentials_strays_deleted", prefix=prefix, count=len(strays))
        for key, s3_upload_id in await self.staging.multipart_uploads(prefix):
            if not await self._pending(key):
                await self.staging.abort(key, s3_upload_id)
        return len(strays)

    async def _pending(self, key: str) -> bool:
        row = await self.sessions.by_key(key)
        return row is not None and row.get("status") == PENDING and row.get("staging_key") == key


async def sweep_forever(credentials: UploadCredentials, interval: float) -> None:
    """Until cancelled: end every credential whose time is up."""
    lease = timedelta(seconds=max(30.0, interval * 3))
    while True:
        try:
            while await credentials.sweep_once(lease):
                pass
            await asyncio.sleep(interval)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("upload_credentials_sweep_failed")
            await asyncio.sleep(interval)
