"""Where temporary upload credentials come from, and where they are recorded.

- `SeaweedFSIdentities`: the local store. SeaweedFS's embedded IAM API (on the S3 port; the
  server runs with `-s3.iam.readOnly=false`) creates one user per issue with an inline policy
  on the prefix and an access key; deleting the user ends the credentials at once. SeaweedFS
  keys carry no expiry of their own, so upload's sweeper deletes each user when it expires.
- `StsSessions`: AWS. `AssumeRole` on a role upload may assume, with an inline session policy
  that narrows it to the prefix; AWS ends the session at `DurationSeconds` (nothing to delete).
- `CredentialRecords`: one MongoDB row per issue (never the secret), so the sweeper finds every
  identity to delete, even one created by a process that died right after.
- `StagingListing`: the keys under a prefix (the sweeper deletes those no pending upload owns).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from docstore_upload.domain.credentials import (
    SEAWEEDFS_ACTIONS,
    STS_ACTIONS,
    STS_MIN_DURATION,
    CredentialsUnavailable,
    IssuedKeys,
    Scope,
    policy_json,
    session_name,
    session_policy,
)

POLICY_NAME = "docstore-upload-staging"
GONE = ("NoSuchEntity", "NoSuchEntityException", "404")


def _gone(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in GONE


class SeaweedFSIdentities:
    """Identities made with SeaweedFS's IAM API (boto3 `iam` client on the S3 endpoint, signed
    with an identity that holds `Admin`)."""

    name = "seaweedfs"

    def __init__(self, iam: Any) -> None:
        self.iam = iam

    async def issue(
        self, *, identity: str, account_id: str, credential_id: str, scope: Scope, lifetime: timedelta
    ) -> IssuedKeys:
        """Create the user, its prefix policy, then its key (in that order: a key never exists
        without its policy). A failure half-way deletes what was made."""
        policy = policy_json(session_policy(scope.bucket, scope.prefix, SEAWEEDFS_ACTIONS))
        try:
            return await asyncio.to_thread(self._issue, identity, policy)
        except (ClientError, BotoCoreError) as error:
            await self.revoke(identity)
            raise CredentialsUnavailable() from error

    def _issue(self, identity: str, policy: str) -> IssuedKeys:
        try:
            self.iam.create_user(UserName=identity)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "EntityAlreadyExists":
                raise
        self.iam.put_user_policy(UserName=identity, PolicyName=POLICY_NAME, PolicyDocument=policy)
        key = self.iam.create_access_key(UserName=identity)["AccessKey"]
        return IssuedKeys(access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"])

    async def revoke(self, identity: str) -> None:
        """Delete the user with its keys and policy. Idempotent: a user already gone is done."""
        await asyncio.to_thread(self._revoke, identity)

    def _revoke(self, identity: str) -> None:
        try:
            keys = self.iam.list_access_keys(UserName=identity).get("AccessKeyMetadata", [])
            for key in keys:
                self.iam.delete_access_key(UserName=identity, AccessKeyId=key["AccessKeyId"])
        except ClientError as error:
            if not _gone(error):
                raise
        try:
            self.iam.delete_user_policy(UserName=identity, PolicyName=POLICY_NAME)
        except ClientError as error:
            if not _gone(error):
                raise
        try:
            self.iam.delete_user(UserName=identity)
        except ClientError as error:
            if not _gone(error):
                raise


class StsSessions:
    """AWS STS `AssumeRole` with an inline session policy: the credentials may do what both the
    role's policy and the session policy allow, so only `STS_ACTIONS` under the prefix."""

    name = "sts"

    def __init__(self, sts: Any, role_arn: str, *, external_id: str = "") -> None:
        if not role_arn:
            raise ValueError("UPLOAD_CREDENTIALS=sts needs UPLOAD_CREDENTIALS_ROLE_ARN (the role to assume).")
        self.sts = sts
        self.role_arn = role_arn
        self.external_id = external_id

    def request(self, *, account_id: str, credential_id: str, scope: Scope, lifetime: timedelta) -> dict[str, Any]:
        """The `AssumeRole` parameters (a function of its own so tests read the shape)."""
        params: dict[str, Any] = {
            "RoleArn": self.role_arn,
            "RoleSessionName": session_name(account_id, credential_id),
            "Policy": policy_json(session_policy(scope.bucket, scope.prefix, STS_ACTIONS)),
            # AWS's shortest session is 15 minutes; a shorter lifetime is rounded up there.
            "DurationSeconds": int(max(lifetime, STS_MIN_DURATION).total_seconds()),
            # Session tags show in CloudTrail beside every request made with the credentials.
            "Tags": [{"Key": "docstore-account", "Value": account_id}],
        }
        if self.external_id:
            params["ExternalId"] = self.external_id
        return params

    async def issue(
        self, *, identity: str, account_id: str, credential_id: str, scope: Scope, lifetime: timedelta
    ) -> IssuedKeys:
        params = self.request(account_id=account_id, credential_id=credential_id, scope=scope, lifetime=lifetime)
        try:
            answer = await asyncio.to_thread(self.sts.assume_role, **params)
        except (ClientError, BotoCoreError) as error:
            raise CredentialsUnavailable() from error
        found = answer["Credentials"]
        return IssuedKeys(
            access_key_id=found["AccessKeyId"],
            secret_access_key=found["SecretAccessKey"],
            session_token=found["SessionToken"],
            expires_at=found["Expiration"],
        )

    async def revoke(self, identity: str) -> None:
        """Nothing to delete: AWS ends the session at its expiry (an assumed-role session cannot
        be ended one by one; revoking all of a role's sessions is an operator's action)."""


class CredentialRecords:
    """The `upload_credentials` collection: one row per issue, the secret never stored."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db["upload_credentials"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("account_id", 1), ("expires_at", 1)])
        await self.collection.create_index([("revoked_at", 1), ("expires_at", 1)])

    async def add(self, row: dict[str, Any], *, session: Any = None) -> None:
        """Insert `row`, inside the caller's transaction when `session` is given."""
        await self.collection.insert_one(row, session=session)

    async def set(self, credential_id: str, *, session: Any = None, **fields: Any) -> None:
        await self.collection.update_one({"_id": credential_id}, {"$set": fields}, session=session)

    async def live(self, account_id: str, now: datetime) -> int:
        """How many of the account's credentials are not yet expired nor revoked."""
        return await self.collection.count_documents(
            {"account_id": account_id, "expires_at": {"$gt": now}, "revoked_at": None}
        )

    async def claim_due(self, now: datetime, lease: timedelta) -> dict[str, Any] | None:
        """An expired credential not yet revoked, leased so two sweepers do not take it at once
        (a lease that runs out lets another take it over: revoking is idempotent)."""
        return await self.collection.find_one_and_update(
            {
                "expires_at": {"$lte": now},
                "revoked_at": None,
                "$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}],
            },
            {"$set": {"lease_until": now + lease}},
            return_document=ReturnDocument.AFTER,
        )

    async def get(self, credential_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": credential_id})


class StagingListing:
    """Keys under a prefix of the bucket (boto3 S3 client, paginated)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    async def keys(self, prefix: str) -> list[str]:
        return await asyncio.to_thread(self._keys, prefix)

    def _keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend(item["Key"] for item in page.get("Contents", []))
        return found

    async def multipart_uploads(self, prefix: str) -> list[tuple[str, str]]:
        """Unfinished multipart uploads under `prefix`: (key, S3 upload id) each."""
        return await asyncio.to_thread(self._multipart_uploads, prefix)

    def _multipart_uploads(self, prefix: str) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend((item["Key"], item["UploadId"]) for item in page.get("Uploads", []))
        return found

    async def abort(self, key: str, s3_upload_id: str) -> None:
        try:
            await asyncio.to_thread(
                self.client.abort_multipart_upload, Bucket=self.bucket, Key=key, UploadId=s3_upload_id
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("NoSuchUpload", "404"):
                raise

    async def delete_many(self, keys: list[str]) -> None:
        """Delete `keys`, 1,000 per `DeleteObjects` (S3's most); a key already gone is fine."""
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            await asyncio.to_thread(
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True},
            )
