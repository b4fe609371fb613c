"""The production adapter's `AssumeRole` request, as the real STS API shape (moto's STS server)
receives and answers it: the role, a session policy allowing only the upload actions on the
prefix, the lifetime as `DurationSeconds`, the account as a session tag."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest

from docstore_upload.adapters.credentials import StsSessions
from docstore_upload.domain.credentials import Scope

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/docstore-upload-staging"
SCOPE = Scope(bucket="docstore-us-west-2", prefix="staging/us-west-2/acct-1/", region="us-west-2")


@pytest.fixture
def sent(endpoints) -> tuple[Any, list[dict[str, list[str]]]]:
    """An STS client on moto, and every form it sent (read off the wire, after signing)."""
    sts = boto3.client("sts", endpoint_url=endpoints.aws_endpoint, region_name="us-west-2")
    bodies: list[dict[str, list[str]]] = []

    def capture(request: Any, **_: Any) -> None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        bodies.append(parse_qs(body))

    sts.meta.events.register("before-send.sts.AssumeRole", capture)
    return sts, bodies


async def test_assume_role_carries_the_session_policy_and_lifetime(sent) -> None:
    sts, bodies = sent
    before = datetime.now(UTC)
    keys = await StsSessions(sts, ROLE, external_id="docstore").issue(
        identity="docstore-upload-c1",
        account_id="acct-1",
        credential_id="c1",
        scope=SCOPE,
        lifetime=timedelta(minutes=20),
    )
    [form] = bodies
    assert form["Action"] == ["AssumeRole"] and form["RoleArn"] == [ROLE]
    assert form["DurationSeconds"] == ["1200"] and form["ExternalId"] == ["docstore"]
    assert form["RoleSessionName"] == ["upl-acct-1-c1"]
    assert form["Tags.member.1.Key"] == ["docstore-account"] and form["Tags.member.1.Value"] == ["acct-1"]
    policy = json.loads(form["Policy"][0])
    assert policy["Statement"] == [
        {
            "Sid": "DocStoreUploadStaging",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            "Resource": ["arn:aws:s3:::docstore-us-west-2/staging/us-west-2/acct-1/*"],
        }
    ]
    # STS's answer: a session (token), ending about DurationSeconds from now.
    assert keys.access_key_id and keys.secret_access_key and keys.session_token
    assert keys.expires_at is not None
    assert before + timedelta(minutes=19) < keys.expires_at <= datetime.now(UTC) + timedelta(minutes=21)
    assert keys.secret_access_key not in repr(keys) and keys.session_token not in repr(keys)  # never logged


async def test_a_lifetime_under_stss_minimum_is_rounded_up(sent) -> None:
    sts, bodies = sent
    await StsSessions(sts, ROLE).issue(
        identity="i", account_id="acct-1", credential_id="c2", scope=SCOPE, lifetime=timedelta(minutes=5)
    )
    assert bodies[0]["DurationSeconds"] == ["900"] and "ExternalId" not in bodies[0]
