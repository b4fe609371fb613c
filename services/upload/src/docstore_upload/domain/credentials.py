"""Temporary upload credentials: what they may write, for how long, and the policy that says so.
Pure rules; the identity store (SeaweedFS's IAM API, or AWS STS) is an adapter.

Credentials never widen what a grant allows. They let a client PUT bytes only under its own
account's staging prefix (`staging/{region}/{account}/`), where signed forms write too; a file
still needs a grant (quota's reservation, the key) and a completion (size and sha256 read back
from S3 and checked against the grant). Anything else written under the prefix is deleted when
the credentials expire (`stray_keys`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from docstore_kit import errors
from docstore_upload.domain.grants import STAGING_PREFIX

MAX_LIFETIME = timedelta(minutes=60)
DEFAULT_LIFETIME = timedelta(minutes=15)

STS_MIN_DURATION = timedelta(minutes=15)
"""AWS STS's shortest `DurationSeconds` (900 s): shorter lifetimes are rounded up on AWS."""

STS_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
"""The session policy's actions on AWS: `s3:PutObject` covers PutObject and the multipart
CreateMultipartUpload, UploadPart and CompleteMultipartUpload; abort and list-parts let a client
resume or give up. Nothing reads, lists the bucket or deletes."""

SEAWEEDFS_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListParts")
"""The same on SeaweedFS, which names list-parts `s3:ListParts` (and folds all three into its
`Write` action on the resource)."""

# Ids DocStore hands out are UUIDs; a prefix built from anything else could reach another's keys.
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class TooManyCredentials(errors.DomainError):
    """The account holds as many live credentials as it may (each is an identity in the store)."""

    status = 429
    problem = "too-many-credentials"
    title = "Too many credentials"


class CredentialsOff(errors.DomainError):
    """This deployment hands out no temporary credentials (`UPLOAD_CREDENTIALS=off`)."""

    status = 404
    problem = "credentials-off"
    title = "Temporary credentials are not available"


class CredentialsUnavailable(errors.Unavailable):
    """The identity store (SeaweedFS IAM, AWS STS) did not answer or refused to issue."""

    problem = "credentials-unavailable"

    def detail(self) -> Any:
        return "Temporary upload credentials can't be issued right now; try again in a moment, or upload with forms."


def check_lifetime(lifetime: timedelta) -> timedelta:
    """A lifetime between one second and `MAX_LIFETIME` (a deployment setting, checked at start)."""
    if not timedelta(seconds=1) <= lifetime <= MAX_LIFETIME:
        raise ValueError(f"Upload credentials last at most {MAX_LIFETIME.seconds // 60} minutes.")
    return lifetime


def upload_prefix(*, region: str, account_id: str) -> str:
    """The key prefix an account's credentials may write: its staging keys, which signed forms
    write too (`grants.staging_key`). Ends with '/', so `acct1` never matches `acct10/...`."""
    for name, value in (("region", region), ("account_id", account_id)):
        if not _ID.match(value):
            raise ValueError(f"{name} {value!r} can't name a key prefix")
    return f"{STAGING_PREFIX}{region}/{account_id}/"


def object_arn(bucket: str, prefix: str) -> str:
    """The ARN of every object under `prefix` in `bucket`."""
    return f"arn:aws:s3:::{bucket}/{prefix}*"


def session_policy(bucket: str, prefix: str, actions: tuple[str, ...] = STS_ACTIONS) -> dict[str, Any]:
    """The IAM policy document the credentials carry: `actions` on objects under `prefix`, nothing
    else (no bucket-level action, no read, no delete)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DocStoreUploadStaging",
                "Effect": "Allow",
                "Action": list(actions),
                "Resource": [object_arn(bucket, prefix)],
            }
        ],
    }


def policy_json(policy: dict[str, Any]) -> str:
    """The policy as sent: compact (AWS counts a session policy's packed size)."""
    return json.dumps(policy, separators=(",", ":"), sort_keys=True)


def identity_name(credential_id: str) -> str:
    """The name of the store's identity for one credential (SeaweedFS user name, STS session name)."""
    return f"docstore-upload-{credential_id}"


def session_name(account_id: str, credential_id: str) -> str:
    """An STS `RoleSessionName` (2-64 of `[\\w+=,.@-]`): CloudTrail shows it beside each request,
    so it names the account and the credential."""
    return f"upl-{account_id[:36]}-{credential_id[:16]}"[:64]


@dataclass(frozen=True)
class Scope:
    """Where credentials may write."""

    bucket: str
    prefix: str
    region: str


@dataclass(frozen=True)
class IssuedKeys:
    """What the identity store answered. The secret is kept out of `repr` (and so out of logs)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    """When the store itself ends them (STS); None when upload's sweeper has to (SeaweedFS)."""


def stray_keys(keys: list[str], pending: set[str]) -> list[str]:
    """Keys under a credential's prefix that no pending upload owns: a client wrote them outside
    any grant (or after its upload finished), so they are deleted and never counted or served."""
    return [key for key in keys if key not in pending]
