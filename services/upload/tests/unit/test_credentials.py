"""Temporary upload credentials: the policy they carry, the prefix they may write, and the use
case's rules (off, how many at once, recorded before made, strays deleted, the pending kept)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from docstore_events.uploads import UploadCredentialsExpired, UploadCredentialsIssued
from docstore_messaging.unit_of_work import FakeUnitOfWork
from docstore_upload.domain.credentials import (
    SEAWEEDFS_ACTIONS,
    CredentialsOff,
    IssuedKeys,
    Scope,
    TooManyCredentials,
    check_lifetime,
    object_arn,
    policy_json,
    session_name,
    session_policy,
    stray_keys,
    upload_prefix,
)
from docstore_upload.domain.grants import object_key, staging_key
from docstore_upload.service_layer.credentials import UploadCredentials


def test_the_prefix_is_the_accounts_staging_keys_and_ends_with_a_slash() -> None:
    prefix = upload_prefix(region="us-west-2", account_id="acct-1")
    assert prefix == "staging/us-west-2/acct-1/"
    # Every staging key a form of this account writes is under it; no other account's is.
    key = staging_key(object_key(region="us-west-2", account_id="acct-1", document_id="d", upload_id="u"))
    assert key.startswith(prefix)
    other = staging_key(object_key(region="us-west-2", account_id="acct-10", document_id="d", upload_id="u"))
    assert not other.startswith(prefix)


@pytest.mark.parametrize("account", ["", "a/b", "..", "*", "acct*", "a b", "é", "x" * 65])
def test_an_account_id_that_could_widen_the_prefix_is_refused(account: str) -> None:
    with pytest.raises(ValueError):
        upload_prefix(region="us-west-2", account_id=account)


def test_the_session_policy_allows_only_uploads_under_the_prefix() -> None:
    policy = session_policy("docstore-us-west-2", "staging/us-west-2/acct-1/")
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    assert statement["Resource"] == ["arn:aws:s3:::docstore-us-west-2/staging/us-west-2/acct-1/*"]
    assert not any(
        a.startswith(("s3:Get", "s3:Delete", "s3:List")) and a != "s3:ListMultipartUploadParts"
        for a in statement["Action"]
    )
    assert json.loads(policy_json(policy)) == policy and " " not in policy_json(policy)


def test_seaweedfs_gets_its_own_name_for_list_parts() -> None:
    policy = session_policy("b", "p/", SEAWEEDFS_ACTIONS)
    assert policy["Statement"][0]["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListParts"]
    assert object_arn("b", "p/") == "arn:aws:s3:::b/p/*"


def test_session_names_fit_sts() -> None:
    name = session_name("a" * 80, "c" * 32)
    assert len(name) <= 64 and name.startswith("upl-")


@pytest.mark.parametrize("lifetime", [timedelta(0), timedelta(minutes=61)])
def test_a_lifetime_beyond_an_hour_or_none_is_refused(lifetime: timedelta) -> None:
    with pytest.raises(ValueError):
        check_lifetime(lifetime)


def test_strays_are_the_keys_no_pending_upload_owns() -> None:
    assert stray_keys(["p/a", "p/b", "p/c"], {"p/b"}) == ["p/a", "p/c"]


def test_the_secret_stays_out_of_repr() -> None:
    keys = IssuedKeys("AKIA1", "very-secret", "token-xyz")
    assert "very-secret" not in repr(keys) and "token-xyz" not in repr(keys) and "AKIA1" in repr(keys)


# --- the use case, on fakes -------------------------------------------------------------


class FakeStore:
    name = "fake"

    def __init__(self, records: FakeRecords) -> None:
        self.records = records
        self.live: set[str] = set()
        self.revoked: list[str] = []

    async def issue(self, *, identity: str, account_id: str, credential_id: str, scope: Scope, lifetime: timedelta):
        # Recorded before it is made: a crash now still leaves the sweeper a row to end it by.
        assert credential_id in self.records.rows
        self.live.add(identity)
        return IssuedKeys(f"AK{credential_id[:6]}", "s3cr3t")

    async def revoke(self, identity: str) -> None:
        self.live.discard(identity)
        self.revoked.append(identity)


class FakeRecords:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    async def add(self, row: dict[str, Any], *, session: Any = None) -> None:
        self.rows[row["_id"]] = dict(row)

    async def set(self, credential_id: str, *, session: Any = None, **fields: Any) -> None:
        self.rows[credential_id].update(fields)

    async def live(self, account_id: str, now: datetime) -> int:
        return sum(
            1
            for r in self.rows.values()
            if r["account_id"] == account_id and r["expires_at"] > now and r["revoked_at"] is None
        )

    async def claim_due(self, now: datetime, lease: timedelta) -> dict[str, Any] | None:
        for row in self.rows.values():
            if row["expires_at"] <= now and row["revoked_at"] is None and row.get("lease_until", now) <= now:
                row["lease_until"] = now + lease
                return row
        return None


class FakeStaging:
    def __init__(self, keys: list[str], uploads: list[tuple[str, str]] = ()) -> None:
        self.objects = set(keys)
        self.uploads = list(uploads)
        self.aborted: list[str] = []

    async def keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    async def multipart_uploads(self, prefix: str) -> list[tuple[str, str]]:
        return [u for u in self.uploads if u[0].startswith(prefix)]

    async def abort(self, key: str, s3_upload_id: str) -> None:
        self.aborted.append(key)

    async def delete_many(self, keys: list[str]) -> None:
        self.objects -= set(keys)


class FakeSessions:
    def __init__(self, rows: dict[str, dict[str, Any]]) -> None:
        self.rows = rows

    async def by_key(self, key: str) -> dict[str, Any] | None:
        return self.rows.get(key)


def world(*, store: bool = True, staging: FakeStaging | None = None, sessions: dict | None = None, max_live: int = 5):
    records = FakeRecords()
    fake = FakeStore(records) if store else None
    uow = FakeUnitOfWork(None)
    credentials = UploadCredentials(
        uow,
        fake,
        records,
        staging or FakeStaging([]),
        FakeSessions(sessions or {}),
        bucket="docstore-us-west-2",
        region="us-west-2",
        endpoint="http://s3",
        lifetime=timedelta(minutes=15),
        max_live=max_live,
    )
    credentials.emitted = uow.emitted  # type: ignore[attr-defined]  (the tests read the events here)
    return credentials, records, fake


async def test_off_answers_that_there_are_none() -> None:
    credentials, _, _ = world(store=False)
    with pytest.raises(CredentialsOff):
        await credentials.issue("acct-1")


async def test_issued_credentials_name_the_prefix_and_record_no_secret() -> None:
    credentials, records, _ = world()
    issued = await credentials.issue("acct-1")
    assert issued.scope == Scope("docstore-us-west-2", "staging/us-west-2/acct-1/", "us-west-2")
    assert timedelta(minutes=14) < issued.expires_at - datetime.now(UTC) <= timedelta(minutes=15)
    [row] = records.rows.values()
    assert row["access_key_id"] == issued.keys.access_key_id and "s3cr3t" not in repr(row)
    [event] = credentials.emitted
    assert isinstance(event, UploadCredentialsIssued)
    assert (event.account_id, event.access_key_id, event.prefix) == (
        "acct-1",
        issued.keys.access_key_id,
        issued.scope.prefix,
    )
    assert event.store == "fake" and "s3cr3t" not in event.model_dump_json()


async def test_an_account_holds_at_most_max_live_credentials() -> None:
    credentials, _, _ = world(max_live=2)
    await credentials.issue("acct-1")
    await credentials.issue("acct-1")
    with pytest.raises(TooManyCredentials) as refused:
        await credentials.issue("acct-1")
    assert refused.value.status == 429
    await credentials.issue("acct-2")  # others are not held back


async def test_the_sweeper_ends_expired_credentials_and_deletes_strays_but_not_pending_uploads() -> None:
    prefix = "staging/us-west-2/acct-1/"
    pending, finished, stray = f"{prefix}d1/u1", f"{prefix}d2/u2", f"{prefix}anything"
    staging = FakeStaging([pending, finished, stray, "staging/us-west-2/acct-2/x"], [(stray, "m1"), (pending, "m2")])
    sessions = {
        pending: {"status": "pending", "staging_key": pending},
        finished: {"status": "completed", "staging_key": finished},
    }
    credentials, records, store = world(staging=staging, sessions=sessions)
    issued = await credentials.issue("acct-1")
    assert not await credentials.sweep_once(timedelta(seconds=30))  # not yet due
    records.rows[issued.credential_id]["expires_at"] = datetime.now(UTC) - timedelta(seconds=1)

    assert await credentials.sweep_once(timedelta(seconds=30))
    assert store.revoked == [f"docstore-upload-{issued.credential_id}"] and not store.live
    assert staging.objects == {pending, "staging/us-west-2/acct-2/x"}
    assert staging.aborted == [stray]
    assert records.rows[issued.credential_id]["revoked_at"] is not None
    ended = credentials.emitted[-1]
    assert isinstance(ended, UploadCredentialsExpired) and ended.strays_deleted == 2  # stray, finished
    assert ended.credential_id == issued.credential_id and ended.account_id == "acct-1"
    assert not await credentials.sweep_once(timedelta(seconds=30))  # once


async def test_strays_wait_while_the_account_holds_other_live_credentials() -> None:
    stray = "staging/us-west-2/acct-1/anything"
    staging = FakeStaging([stray])
    credentials, records, store = world(staging=staging)
    first = await credentials.issue("acct-1")
    await credentials.issue("acct-1")
    records.rows[first.credential_id]["expires_at"] = datetime.now(UTC) - timedelta(seconds=1)
    assert await credentials.sweep_once(timedelta(seconds=30))
    assert store.revoked == [f"docstore-upload-{first.credential_id}"]
    assert staging.objects == {stray}  # the other credentials may be writing it: their expiry cleans
