"""The WebDAV surface (issue 38): another account's paths, dot segments and encoded separators,
an app password's scope, lock stealing, oversized and entity-laden XML bodies, and the service
itself without the gateway's identity.

The tests share two accounts and the owner's sync app password (module fixtures: a sign-up costs
a few seconds of argon2, mail and events, and 16 tests each signed up two). Each test works on
files of its own names, so none depends on what another left behind."""

from __future__ import annotations

import base64

import httpx
import pytest
import pytest_asyncio

from docstore_devplatform.e2e import User

from .conftest import new_user
from .support import identity, raw_request

LOCK_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    b"<D:locktype><D:write/></D:locktype><D:owner>me</D:owner></D:lockinfo>"
)


async def app_password(api: httpx.AsyncClient, user: User, scope: str) -> tuple[str, str]:
    made = await api.post("/v1/account/app-passwords", json={"name": f"dav {scope}", "scope": scope}, headers=user.auth)
    assert made.status_code == 201, made.text
    return user.username, made.json()["password"]


@pytest_asyncio.fixture(scope="module")
async def two(system) -> tuple[User, User]:
    """An owner and another account, shared by the module's tests (each uses files of its own)."""
    return await new_user(system.gateway), await new_user(system.gateway)


@pytest_asyncio.fixture(scope="module")
async def sync(system, two: tuple[User, User]) -> tuple[str, str]:
    """The owner's `webdav-sync` app password, as (username, password)."""
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as api:
        return await app_password(api, two[0], "webdav-sync")


async def test_another_accounts_files_are_not_found(
    api: httpx.AsyncClient, two: tuple[User, User], sync: tuple[str, str]
) -> None:
    owner, other = two
    put = await api.put(f"/remote.php/dav/files/{owner.username}/secret.txt", content=b"secret", auth=sync)
    assert put.status_code == 201, put.text
    intruder = await app_password(api, other, "webdav-sync")
    for auth, headers in ((intruder, {}), (None, other.auth)):
        for method in ("GET", "PROPFIND", "DELETE", "PUT"):
            answer = await api.request(
                method,
                f"/remote.php/dav/files/{owner.username}/secret.txt",
                auth=auth,
                headers=headers | {"Depth": "0"},
                content=b"x" if method == "PUT" else None,
            )
            assert answer.status_code == 404, (method, answer.status_code)
    # A MOVE of one's own file into another account's tree is refused too.
    await api.put(f"/remote.php/dav/files/{other.username}/mine.txt", content=b"mine", auth=intruder)
    moved = await api.request(
        "MOVE",
        f"/remote.php/dav/files/{other.username}/mine.txt",
        auth=intruder,
        headers={"Destination": f"/remote.php/dav/files/{owner.username}/stolen.txt"},
    )
    assert moved.status_code == 502
    listing = await api.request(
        "PROPFIND", f"/remote.php/dav/files/{owner.username}/", auth=sync, headers={"Depth": "1"}
    )
    assert b"stolen" not in listing.content and b"secret.txt" in listing.content


@pytest.mark.parametrize(
    "tail", ["a/../b", "a/%2e%2e/b", "a%2fb", "a%5cb", "a//b", "%00", "a/./b"]
)  # fmt: skip
async def test_dot_segments_and_encoded_separators_are_refused(
    system, two: tuple[User, User], sync: tuple[str, str], tail: str
) -> None:
    owner, _ = two
    username, password = sync
    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    # Byte for byte (httpx would normalise `..` away before sending).
    path = f"/remote.php/dav/files/{owner.username}/{tail}"
    answer = await raw_request(system.gateway, "PROPFIND", path, {"Authorization": f"Basic {basic}"})
    assert answer.status == 400, (tail, answer.status)


async def test_read_only_scope_reads_and_writes_nothing(
    api: httpx.AsyncClient, two: tuple[User, User], sync: tuple[str, str]
) -> None:
    owner, _ = two
    read_only = await app_password(api, owner, "read-only")
    base = f"/remote.php/dav/files/{owner.username}"
    assert (await api.put(f"{base}/a.txt", content=b"a", auth=sync)).status_code == 201
    assert (await api.get(f"{base}/a.txt", auth=read_only)).content == b"a"
    assert (await api.head(f"{base}/a.txt", auth=read_only)).status_code == 200
    assert (await api.options(f"{base}/", auth=read_only)).status_code == 200
    assert (await api.request("PROPFIND", f"{base}/", auth=read_only, headers={"Depth": "1"})).status_code == 207
    for method, path, headers in (
        ("PUT", "a.txt", {}),
        ("DELETE", "a.txt", {}),
        ("MKCOL", "dir/", {}),
        ("COPY", "a.txt", {"Destination": f"{base}/b.txt"}),
        ("MOVE", "a.txt", {"Destination": f"{base}/b.txt"}),
        ("PROPPATCH", "a.txt", {}),
        ("LOCK", "a.txt", {}),
        ("UNLOCK", "a.txt", {"Lock-Token": "<opaquelocktoken:x>"}),
    ):
        answer = await api.request(method, f"{base}/{path}", auth=read_only, headers=headers, content=b"x")
        assert answer.status_code == 403, (method, answer.status_code)
    assert (await api.get(f"{base}/a.txt", auth=sync)).content == b"a"


async def test_no_credentials_get_the_basic_challenge_and_the_service_wants_the_gateway(
    system, api: httpx.AsyncClient, two: tuple[User, User]
) -> None:
    owner, _ = two
    answer = await api.request("PROPFIND", f"/remote.php/dav/files/{owner.username}/")
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Basic")
    wrong = await api.request("PROPFIND", f"/remote.php/dav/files/{owner.username}/", auth=(owner.username, "wrong"))
    assert wrong.status_code == 401
    async with httpx.AsyncClient(base_url=system.urls["webdav"]) as direct:
        bare = await direct.request(
            "PROPFIND", f"/remote.php/dav/files/{owner.username}/", headers={"X-Account-Id": owner.account_id}
        )
    assert bare.status_code == 401


async def test_a_lock_is_not_stolen(api: httpx.AsyncClient, two: tuple[User, User]) -> None:
    owner, _ = two
    first = await app_password(api, owner, "webdav-sync")
    second = await app_password(api, owner, "webdav-sync")
    url = f"/remote.php/dav/files/{owner.username}/locked.txt"
    assert (await api.put(url, content=b"v1", auth=first)).status_code == 201
    locked = await api.request("LOCK", url, auth=first, content=LOCK_BODY, headers={"Timeout": "Second-60"})
    assert locked.status_code == 200, locked.text
    token = locked.headers["lock-token"]
    # Without the token, or with a made-up one, nobody writes, moves, deletes or locks it again.
    assert (await api.put(url, content=b"v2", auth=second)).status_code == 423
    forged = {"If": "(<opaquelocktoken:00000000-0000-0000-0000-000000000000>)"}
    assert (await api.put(url, content=b"v2", auth=second, headers=forged)).status_code in (412, 423)
    assert (await api.delete(url, auth=second)).status_code == 423
    assert (await api.request("LOCK", url, auth=second, content=LOCK_BODY)).status_code == 423
    unlocked = await api.request("UNLOCK", url, auth=second, headers={"Lock-Token": "<opaquelocktoken:bogus>"})
    assert unlocked.status_code in (403, 409)
    assert (await api.get(url, auth=first)).content == b"v1"
    # Its holder writes with the token, and unlocks.
    assert (await api.put(url, content=b"v2", auth=first, headers={"If": f"({token})"})).status_code == 204
    assert (await api.request("UNLOCK", url, auth=first, headers={"Lock-Token": token})).status_code == 204


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><D:propfind xmlns:D="DAV:"><D:prop><D:x>&c;</D:x>'
        b"</D:prop></D:propfind>",
        b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<D:propfind xmlns:D="DAV:"><D:prop><D:x>&x;</D:x></D:prop></D:propfind>',
    ],
    ids=["billion-laughs", "external-entity"],
)
async def test_xml_entities_are_refused(
    api: httpx.AsyncClient, two: tuple[User, User], sync: tuple[str, str], body: bytes
) -> None:
    owner, _ = two
    auth = sync
    base = f"/remote.php/dav/files/{owner.username}/"
    for method in ("PROPFIND", "PROPPATCH", "LOCK"):
        answer = await api.request(method, base, auth=auth, content=body, headers={"Depth": "0"})
        assert answer.status_code == 400, (method, answer.status_code)
        assert b"root:" not in answer.content


async def test_oversized_xml_and_infinite_depth_are_refused(
    api: httpx.AsyncClient, two: tuple[User, User], sync: tuple[str, str]
) -> None:
    owner, _ = two
    auth = sync
    base = f"/remote.php/dav/files/{owner.username}/"
    huge = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>' + b"<D:x/>" * 30_000 + b"</D:prop></D:propfind>"
    assert (await api.request("PROPFIND", base, auth=auth, content=huge, headers={"Depth": "0"})).status_code == 413
    infinite = await api.request("PROPFIND", base, auth=auth, headers={"Depth": "infinity"})
    assert infinite.status_code == 403 and b"propfind-finite-depth" in infinite.content


async def test_malformed_propfind_bodies_are_refused_before_any_listing(
    api: httpx.AsyncClient, two: tuple[User, User], sync: tuple[str, str]
) -> None:
    """PROPFIND Depth 1 is answered streamed (service_layer/propfind.py): its body is still read,
    limited and checked whole before the status and the first member are sent."""
    owner, _ = two
    auth = sync
    base = f"/remote.php/dav/files/{owner.username}/"
    assert (await api.put(base + "listed.txt", content=b"x", auth=auth)).status_code == 201
    bad = (
        b"not xml at all",
        b'<D:propfind xmlns:D="DAV:"><D:allprop/><D:prop><D:getetag/></D:prop></D:propfind>',
        b'<D:propfind xmlns:D="DAV:"><D:propname/><D:allprop/></D:propfind>',
        b'<D:propertyupdate xmlns:D="DAV:"><D:set/></D:propertyupdate>',
    )
    for depth in ("0", "1"):
        for body in bad:
            answer = await api.request("PROPFIND", base, auth=auth, content=body, headers={"Depth": depth})
            assert answer.status_code == 400, (depth, body, answer.status_code)
            assert b"listed.txt" not in answer.content
    entity = b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
    assert (await api.request("PROPFIND", base, auth=auth, content=entity, headers={"Depth": "1"})).status_code == 400
    huge = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>' + b"<D:x/>" * 30_000 + b"</D:prop></D:propfind>"
    assert (await api.request("PROPFIND", base, auth=auth, content=huge, headers={"Depth": "1"})).status_code == 413
    fine = await api.request("PROPFIND", base, auth=auth, headers={"Depth": "1"})
    assert fine.status_code == 207 and b"listed.txt" in fine.content


async def test_a_redirected_get_is_a_short_lived_url_for_that_version_only(
    system, api: httpx.AsyncClient, two: tuple[User, User], sync: tuple[str, str]
) -> None:
    owner, other = two
    url = f"/remote.php/dav/files/{owner.username}/signed.txt"
    assert (await api.put(url, content=b"version one", auth=sync)).status_code == 201
    rclone = {"User-Agent": "rclone/v1.60.1"}
    first = await api.get(url, auth=sync, headers=rclone)
    assert first.status_code == 302, first.text
    signed = httpx.URL(first.headers["location"])
    assert 0 < int(signed.params["X-Amz-Expires"]) <= 300  # short-lived: metadata's download URL
    assert (await api.put(url, content=b"version two, longer", auth=sync)).status_code == 204
    current = await api.get(url, auth=sync, headers={"X-DocStore-Redirect": "follow"})
    assert current.status_code == 302
    second = httpx.URL(current.headers["location"])
    async with httpx.AsyncClient(timeout=30) as s3:  # no credentials: the URL alone
        assert (await s3.get(signed)).content == b"version one"  # bound to the version read, not the name
        assert (await s3.get(second)).content == b"version two, longer"
        ranged = await s3.get(second, headers={"Range": "bytes=8-10"})  # ranges go to S3 unchanged
        assert ranged.status_code == 206 and ranged.content == b"two"
        # Only a GET of that one object: not a write, not another key with the same signature.
        assert (await s3.put(signed, content=b"overwrite")).status_code == 403
        assert (await s3.get(signed.copy_with(path=second.path))).status_code == 403
    # Conditional GETs and clients that do not follow redirects are streamed.
    assert first.headers["etag"] != current.headers["etag"]
    unchanged = await api.get(url, auth=sync, headers=rclone | {"If-None-Match": current.headers["etag"]})
    assert unchanged.status_code == 304
    streamed = await api.get(url, auth=sync)
    assert streamed.status_code == 200 and streamed.content == b"version two, longer"
    assert streamed.headers["etag"] == current.headers["etag"]
    # The gateway reads a streamed GET's bytes from S3 itself (docstore_kit.handoff): the range is
    # the service's answer, and the signed URL it named never reaches the client, even one asking.
    ranged = await api.get(url, auth=sync, headers={"Range": "bytes=8-10", "X-DocStore-Handoff": "1"})
    assert ranged.status_code == 206 and ranged.content == b"two"
    assert ranged.headers["content-range"] == "bytes 8-10/19"
    assert (await api.get(url, auth=sync, headers={"Range": "bytes=50-60"})).status_code == 416
    for answer in (streamed, ranged):
        assert not [name for name in answer.headers if name.lower().startswith("x-docstore-handoff")]
        assert "X-Amz-Signature" not in str(answer.headers)
    # What the gateway got: the service's answer, no bytes, the signed URL and that range of it.
    asked = identity("webdav", owner.account_id) | {"X-DocStore-Handoff": "1", "Range": "bytes=8-10"}
    async with httpx.AsyncClient(base_url=system.urls["webdav"], timeout=30) as direct:
        named = await direct.get(url, headers=asked)
    assert named.status_code == 206 and named.content == b"" and named.headers["content-range"] == "bytes 8-10/19"
    assert named.headers["x-docstore-handoff-range"] == "bytes=8-10"
    async with httpx.AsyncClient(timeout=30) as s3:
        assert (await s3.get(named.headers["x-docstore-handoff-url"])).content == b"version two, longer"
    # Another account never gets a URL for these bytes, whatever it claims to be.
    intruder = await app_password(api, other, "webdav-sync")
    for headers in (rclone, {"X-DocStore-Redirect": "follow"}):
        refused = await api.get(url, auth=intruder, headers=headers)
        assert refused.status_code == 404 and "location" not in refused.headers


async def test_a_body_changed_on_its_way_is_refused_and_not_stored(
    api: httpx.AsyncClient, two: tuple[User, User], sync: tuple[str, str]
) -> None:
    """ownCloud's `OC-Checksum` (rclone `vendor=owncloud` sends the body's SHA-1) is checked: a
    body that is not what the client hashed is 400 and leaves nothing, not even a first version."""
    import hashlib

    owner, _ = two
    url = f"/remote.php/dav/files/{owner.username}/checked.txt"
    body = b"the bytes the client meant"
    sent = hashlib.sha1(body).hexdigest()  # noqa: S324  (ownCloud's checksum)
    refused = await api.put(url, content=body + b"!", auth=sync, headers={"OC-Checksum": f"SHA1:{sent}"})
    assert refused.status_code == 400 and "OC-Checksum" in refused.text
    assert (await api.get(url, auth=sync)).status_code == 404
    assert (await api.put(url, content=body, auth=sync, headers={"OC-Checksum": f"SHA1:{sent}"})).status_code == 201
    assert (await api.get(url, auth=sync)).content == body
