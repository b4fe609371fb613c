"""Access ends when the right to it ends (issue 33, findings 7 and 8), on the running system.

- A public link made by an editor stops working when the editor's share is removed or made
  view-only, or the owner stops letting editors make links; the ex-editor can no longer see,
  extend or revoke it; and a link whose creator cannot read the document any more (a share row
  gone by any path) gives nothing at resolve or redeem. On main the link kept serving the
  document and the ex-editor extended it by 90 days (200).
- Deleting an account ends its links and shares at once (on main the links still served the
  bytes and grantees still listed and downloaded the documents).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from docstore_devplatform.e2e import REGION_A, User, sign_up, upload
from docstore_devplatform.testing import eventually

pytestmark = [pytest.mark.e2e]


def metadata_db(endpoints: Any) -> tuple[AsyncMongoClient[Any], Any]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(endpoints.mongo_url)
    return client, client[f"docstore_metadata_{REGION_A.replace('-', '_')}"]


async def owned_document(api: httpx.AsyncClient, owner: User, name: str) -> str:
    document_id = (await upload(api, owner, name, b"only for those allowed"))["document_id"]

    async def visible() -> bool:
        return (await api.get(f"/v1/documents/{document_id}", headers=owner.auth)).status_code == 200

    await eventually(visible)
    return document_id


async def share(api: httpx.AsyncClient, owner: User, document_id: str, user: User, permission: str) -> None:
    shared = await api.post(
        f"/v1/documents/{document_id}/shares",
        headers=owner.auth,
        json={"username": user.username, "permission": permission},
    )
    assert shared.status_code in (200, 201), shared.text


async def allow_editors(api: httpx.AsyncClient, owner: User, document_id: str, allowed: bool) -> None:
    policy = await api.put(
        f"/v1/documents/{document_id}/link-policy", headers=owner.auth, json={"editors_may_create_links": allowed}
    )
    assert policy.status_code == 200, policy.text


async def editor_link(api: httpx.AsyncClient, editor: User, document_id: str) -> dict[str, Any]:
    created = await api.post(f"/v1/documents/{document_id}/links", headers=editor.auth, json={})
    assert created.status_code == 201, created.text
    return created.json()


async def served(link: dict[str, Any], base: str) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=40.0) as anonymous:
        page = await anonymous.get(link["url"])
        redeemed = await anonymous.post(link["url"], data={})
    assert (page.status_code == 200) == (redeemed.status_code == 303), (page.status_code, redeemed.status_code)
    return redeemed.status_code


async def test_an_editors_link_ends_with_the_editors_right(api: httpx.AsyncClient, endpoints: Any) -> None:
    owner, editor, other_editor, demoted = [await sign_up(api) for _ in range(4)]
    document_id = await owned_document(api, owner, "rights.txt")
    for user in (editor, other_editor, demoted):
        await share(api, owner, document_id, user, "edit")
    await allow_editors(api, owner, document_id, True)
    removed, disallowed, downgraded = (
        await editor_link(api, editor, document_id),
        await editor_link(api, other_editor, document_id),
        await editor_link(api, demoted, document_id),
    )
    base = str(api.base_url)
    assert await served(removed, base) == 303

    # The owner removes the editor's share: the link dies, the ex-editor manages nothing.
    unshared = await api.delete(f"/v1/documents/{document_id}/shares/{editor.account_id}", headers=owner.auth)
    assert unshared.status_code == 204, unshared.text
    assert await served(removed, base) == 410
    extended = await api.patch(f"/v1/links/{removed['id']}", headers=editor.auth, json={"expires_in_days": 90})
    assert extended.status_code == 404, extended.text
    assert removed["id"] not in {
        item["id"] for item in (await api.get("/v1/links", headers=editor.auth)).json()["items"]
    }
    assert (await api.delete(f"/v1/links/{removed['id']}", headers=editor.auth)).status_code == 404

    # A share made view-only ends that editor's links; turning editors' links off ends the rest.
    await share(api, owner, document_id, demoted, "view")
    assert await served(downgraded, base) == 410
    assert await served(disallowed, base) == 303
    await allow_editors(api, owner, document_id, False)
    assert await served(disallowed, base) == 410
    listed = await api.patch(f"/v1/links/{disallowed['id']}", headers=other_editor.auth, json={"expires_in_days": 90})
    assert listed.status_code == 404

    # The owner sees each of them revoked, with the reason.
    owners = {item["id"]: item for item in (await api.get("/v1/links", headers=owner.auth)).json()["items"]}
    assert {owners[link["id"]]["state"] for link in (removed, disallowed, downgraded)} == {"revoked"}


async def test_a_link_gives_nothing_once_its_creator_cannot_read_the_document(
    api: httpx.AsyncClient, endpoints: Any
) -> None:
    """Checked where the link is used, not only where the share ends: the share row removed
    behind the service's back (a restore, a repair, a bug elsewhere) still ends the link."""
    owner, editor = await sign_up(api), await sign_up(api)
    document_id = await owned_document(api, owner, "checked-at-use.txt")
    await share(api, owner, document_id, editor, "edit")
    await allow_editors(api, owner, document_id, True)
    link = await editor_link(api, editor, document_id)
    assert await served(link, str(api.base_url)) == 303
    client, db = metadata_db(endpoints)
    try:
        gone = await db["shares"].delete_one({"document_id": document_id, "grantee_id": editor.account_id})
        assert gone.deleted_count == 1
    finally:
        await client.close()
    assert await served(link, str(api.base_url)) == 410


def s3_of(endpoints: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoints.s3_endpoint,
        region_name=REGION_A,
        aws_access_key_id=endpoints.s3_access_key,
        aws_secret_access_key=endpoints.s3_secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def object_exists(endpoints: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3_of(endpoints).head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


async def test_a_deleted_account_stays_public_no_longer(api: httpx.AsyncClient, endpoints: Any) -> None:
    owner, grantee = await sign_up(api), await sign_up(api)
    document_id = await owned_document(api, owner, "deleted-owner.txt")
    await share(api, owner, document_id, grantee, "view")
    link = (await api.post(f"/v1/documents/{document_id}/links", headers=owner.auth, json={})).json()
    assert await served(link, str(api.base_url)) == 303
    assert (await api.get(f"/v1/documents/{document_id}", headers=grantee.auth)).status_code == 200

    assert (await api.delete("/v1/account", headers=owner.auth)).status_code == 204

    # At once: the link and the share end (on main: 303 to S3, and the grantee still read it).
    assert await served(link, str(api.base_url)) == 410
    assert (await api.get(f"/v1/documents/{document_id}", headers=grantee.auth)).status_code == 404
    shared = (await api.get("/v1/shared", headers=grantee.auth)).json()["items"]
    assert document_id not in str(shared)

    # The purge is scheduled a grace period after the deletion (the system's default: 30 days) ...
    client, db = metadata_db(endpoints)
    try:

        async def scheduled() -> dict[str, Any] | None:
            found = await db["documents"].find_one({"_id": document_id, "purge_at": {"$ne": None}})
            return found

        document = await eventually(scheduled, timeout=60)
        account = await client[f"docstore_accounts_{REGION_A.replace('-', '_')}"]["accounts"].find_one(
            {"_id": owner.account_id}
        )
        grace = document["purge_at"] - account["deleted_at"]
        assert 29.9 <= grace.total_seconds() / 86400 <= 30.1
        version = await db["versions"].find_one({"document_id": document_id})
        assert object_exists(endpoints, version["bucket"], version["key"])

        # A document the consumer did not see (recorded just after it ran) is scheduled by the loop.
        await db["documents"].update_one({"_id": document_id}, {"$unset": {"purge_at": ""}})
        again = await eventually(scheduled, timeout=60)
        assert again["purge_at"] == document["purge_at"]

        # ... and when it comes, the document, its versions and its bytes go.
        await db["documents"].update_one({"_id": document_id}, {"$set": {"purge_at": account["deleted_at"]}})

        async def purged() -> bool:
            return await db["documents"].find_one({"_id": document_id}) is None and not object_exists(
                endpoints, version["bucket"], version["key"]
            )

        await eventually(purged, timeout=90)
        assert await db["versions"].find_one({"document_id": document_id}) is None
    finally:
        await client.close()
