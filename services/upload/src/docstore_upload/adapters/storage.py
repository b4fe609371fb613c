"""The bucket: signed POST forms, multipart part URLs, and the facts of a stored object
(read from S3, never taken from the client)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from docstore_kit.s3 import SSE_S3, ServerSideEncryption
from docstore_upload.domain.delta import ChunkHasher
from docstore_upload.domain.grants import Grant, form_policy, sha256_from_checksum
from docstore_upload.domain.multipart import MAX_PART
from docstore_upload.domain.sessions import CheckedObject, StoredObject, StoredPart

CHUNK = 8 * 1024 * 1024
"""How much of an object is read back, and hashed, at a time."""
MISSING = ("NoSuchKey", "404", "NotFound", "NoSuchUpload")
NOT_HEADERS = ("success_action_status", "success_action_redirect", "x-amz-checksum-algorithm")
"""A pinned form's fields that a presigned PUT does not sign as headers (S3 takes the algorithm
from the `x-amz-checksum-sha256` header itself)."""


def _missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in MISSING


class PutSigner:
    """Presigned PUT URLs signed by botocore's own `S3SigV4QueryAuth`, on a request built here
    from the path-style client's endpoint: the same URL as the client's
    `generate_presigned_url("put_object")` (a unit test compares them at a fixed time) without
    the per-call machinery around it (parameter validation, serialisation, endpoint rules, event
    hooks): 0.10-0.15 ms a URL against 0.30-0.41 (`bench/presign.py`; a batch grant signs one per
    file). `url` is None for a client it cannot stand in for (another addressing style or
    signature version, no credentials): then the client signs."""

    def __init__(self, client: Any) -> None:
        meta = client.meta
        self.client = client
        self.usable = (
            meta.config.signature_version == "s3v4" and (meta.config.s3 or {}).get("addressing_style") == "path"
        )
        self.endpoint = meta.endpoint_url.rstrip("/")
        self.region = meta.region_name

    def url(self, bucket: str, key: str, headers: dict[str, str], *, expires_in: int) -> str | None:
        if not self.usable:
            return None
        credentials = self.client._get_credentials()  # as boto3's own crt.py reads a client's
        if credentials is None:
            return None
        # Keys are quoted as botocore quotes a greedy path label (`{Key+}`): everything but `/~`.
        request = AWSRequest(method="PUT", url=f"{self.endpoint}/{bucket}/{quote(key, safe='/~')}", headers=headers)
        S3SigV4QueryAuth(credentials.get_frozen_credentials(), "s3", self.region, expires=expires_in).add_auth(request)
        if len(request.headers) != len(headers):
            return None  # the signer left one out (a form-encoded content type): not signed as asked
        return str(request.url)


class Storage:
    def __init__(self, client: Any, signer: Any, bucket: str, *, encryption: ServerSideEncryption = SSE_S3) -> None:
        self.client = client  # talks to S3
        self.signer = signer  # signs for the endpoint clients use
        self.put_signer = PutSigner(signer)
        self.bucket = bucket
        self.encryption = encryption
        """Asked of S3 by every write: the signed form (field and condition), the multipart
        upload (its parts inherit it) and every copy (a copy is a new object: S3 does not
        carry the source's encryption over unless asked)."""

    # --- signed POST form -------------------------------------------------------------

    def post_form(
        self, grant: Grant, *, max_size: int, expires_in: int, redirect_url: str | None = None
    ) -> dict[str, Any]:
        """A signed S3 POST form for exactly this key, content type, metadata, encryption at
        rest and size range (see `form_policy`)."""
        fields, conditions = form_policy(
            grant, max_size=max_size, encryption_fields=self.encryption.form_fields(), redirect_url=redirect_url
        )
        return self.signer.generate_presigned_post(
            Bucket=self.bucket,
            Key=grant.staging_key or grant.key,
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=expires_in,
        )

    def put_url(self, grant: Grant, *, expires_in: int) -> dict[str, Any] | None:
        """A presigned PUT for a pinned grant (`Grant.pinned_sha256`): `url`, and the `headers`
        to send with the bytes. Content type, metadata, encryption at rest and the checksum are
        signed headers, so S3 refuses the PUT without them or with other values (403), and other
        bytes than pinned (400 `BadDigest`). None when the checksum would not be a signed header
        (then only a form pins the bytes)."""
        if grant.pinned_sha256 is None:
            return None
        fields, _ = form_policy(grant, max_size=grant.declared_size, encryption_fields=self.encryption.form_fields())
        headers = {name: value for name, value in fields.items() if name not in NOT_HEADERS}
        url = self.put_signer.url(self.bucket, grant.key, headers, expires_in=expires_in)
        if url is not None:
            return {"url": url, "headers": headers}
        metadata = {
            name[len("x-amz-meta-") :]: value for name, value in fields.items() if name.startswith("x-amz-meta-")
        }
        url = self.signer.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": grant.key,
                "ContentType": grant.content_type,
                "Metadata": metadata,
                "ChecksumSHA256": fields["x-amz-checksum-sha256"],
                **self.encryption.params(),
            },
            ExpiresIn=expires_in,
        )
        signed = set(parse_qs(urlsplit(url).query).get("X-Amz-SignedHeaders", [""])[0].split(";"))
        headers = {name: value for name, value in fields.items() if name.lower() in signed}
        if "x-amz-checksum-sha256" not in headers or "Content-Type" not in headers:
            return None
        return {"url": url, "headers": headers}

    # --- multipart -------------------------------------------------------------------

    async def start_multipart(self, grant: Grant) -> str:
        response = await asyncio.to_thread(
            self.client.create_multipart_upload,
            Bucket=self.bucket,
            Key=grant.key,
            ContentType=grant.content_type,
            Metadata={"upload-id": grant.upload_id, "filename": quote(grant.filename)},
            **self.encryption.params(),
        )
        return response["UploadId"]

    def part_urls(self, key: str, s3_upload_id: str, numbers: list[int], *, expires_in: int) -> dict[int, str]:
        """Presigned PUT URLs for these part numbers (signing needs no network)."""
        return {
            number: self.signer.generate_presigned_url(
                "upload_part",
                Params={"Bucket": self.bucket, "Key": key, "UploadId": s3_upload_id, "PartNumber": number},
                ExpiresIn=expires_in,
            )
            for number in numbers
        }

    async def stored_parts(self, key: str, s3_upload_id: str) -> list[StoredPart] | None:
        """Parts S3 holds for this multipart upload, or None when the upload is gone."""
        return await asyncio.to_thread(self._stored_parts, key, s3_upload_id)

    def _stored_parts(self, key: str, s3_upload_id: str) -> list[StoredPart] | None:
        listed: list[dict[str, Any]] = []
        marker = 0
        try:
            while True:
                page = self.client.list_parts(
                    Bucket=self.bucket, Key=key, UploadId=s3_upload_id, PartNumberMarker=marker, MaxParts=1000
                )
                listed += page.get("Parts", [])
                if not page.get("IsTruncated"):
                    return last_write_of_each_part(listed)
                marker = page["NextPartNumberMarker"]
        except ClientError as error:
            if _missing(error):
                return None
            raise

    async def finish_multipart(self, key: str, s3_upload_id: str, parts: list[StoredPart]) -> None:
        """Join the parts S3 reports (their ETags come from S3, not from the client)."""
        await asyncio.to_thread(
            self.client.complete_multipart_upload,
            Bucket=self.bucket,
            Key=key,
            UploadId=s3_upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]},
        )

    async def abort_multipart(self, key: str, s3_upload_id: str) -> None:
        try:
            await asyncio.to_thread(
                self.client.abort_multipart_upload, Bucket=self.bucket, Key=key, UploadId=s3_upload_id
            )
        except ClientError as error:
            if not _missing(error):
                raise

    # --- stored objects --------------------------------------------------------------

    async def exists(self, key: str) -> bool:
        try:
            await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return False
            raise
        return True

    async def stored(self, key: str, chunk_lengths: list[int] | None = None) -> StoredObject | None:
        """Size, ETag and sha256 of the object at `key`, or None when it is not there yet. With
        `chunk_lengths`, also the sha256 of each of those consecutive chunks (same single read)."""
        return await asyncio.to_thread(self._read_back, key, chunk_lengths)

    def _read_back(self, key: str, chunk_lengths: list[int] | None = None) -> StoredObject | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return None
            raise
        chunks = ChunkHasher(chunk_lengths or [])
        digest = hashlib.sha256()
        # One GET, hashed as it streams. Upload's own read-back of 1 GiB took 3.1-3.5 s this way and
        # with 8 MiB ranges fetched 4 ahead; the floor (a plain script, `bench/upload.py`) reads it
        # in 3.4-3.9 s for 1.1 CPU-s this way, 2.7-3.0 s for 1.8 CPU-s with ranges (bench/README,
        # 2026-11-29). The CPU, and one object by construction (no `IfMatch` retry), decide.
        for block in response["Body"].iter_chunks(CHUNK):
            digest.update(block)
            chunks.update(block)
        return StoredObject(
            size=int(response["ContentLength"]),
            etag=str(response["ETag"]).strip('"'),
            sha256=digest.hexdigest(),
            chunk_sha256s=tuple(chunks.digests),
        )

    async def checked(self, key: str) -> CheckedObject | None:
        """Size, ETag and the sha256 S3 checked the bytes against when they were written (None
        when it holds no SHA-256 checksum for them): one HEAD with `ChecksumMode`, no byte read.
        None when nothing is at `key`."""
        try:
            head = await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as error:
            if _missing(error):
                return None
            raise
        checksum = head.get("ChecksumSHA256")
        return CheckedObject(
            size=int(head["ContentLength"]),
            etag=str(head["ETag"]).strip('"'),
            sha256=sha256_from_checksum(checksum) if checksum else None,
        )

    async def copy(self, source: str, target: str) -> bool:
        """Server-side copy inside the bucket (the bytes never pass through this process);
        False when there is nothing at `source`."""
        try:
            await asyncio.to_thread(
                self.client.copy_object,
                Bucket=self.bucket,
                Key=target,
                CopySource={"Bucket": self.bucket, "Key": source},
                MetadataDirective="COPY",
                **self.encryption.params(),
            )
        except ClientError as error:
            if _missing(error):
                return False
            raise
        return True

    async def copy_whole(self, source: str, target: str, size: int) -> bool:
        """Dedupe: a server-side copy of another object of the same account, with this service's
        encryption; above S3's 5 GiB `CopyObject` limit, a multipart copy (`UploadPartCopy`).
        False when `source` is gone."""
        if size <= MAX_PART:
            return await self.copy(source, target)
        from boto3.s3.transfer import TransferConfig  # only the rare >5 GiB copy needs it

        config = TransferConfig(multipart_threshold=MAX_PART, multipart_chunksize=1024 * 1024 * 1024)
        try:
            await asyncio.to_thread(
                self.client.copy,
                {"Bucket": self.bucket, "Key": source},
                self.bucket,
                target,
                ExtraArgs=self.encryption.params(),
                Config=config,
            )
        except ClientError as error:
            if _missing(error):
                return False
            raise
        return True

    async def head(self, key: str) -> tuple[int, str] | None:
        """(size, ETag) of the object at `key`, or None."""
        try:
            head = await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return int(head["ContentLength"]), str(head["ETag"]).strip('"')

    async def copy_part(self, key: str, s3_upload_id: str, number: int, source: str, first: int, last: int) -> bool:
        """Delta: part `number` of a multipart upload copied server-side from bytes [first, last]
        of `source` (`UploadPartCopy` with `CopySourceRange`); False when `source` is gone."""
        try:
            await asyncio.to_thread(
                self.client.upload_part_copy,
                Bucket=self.bucket,
                Key=key,
                UploadId=s3_upload_id,
                PartNumber=number,
                CopySource={"Bucket": self.bucket, "Key": source},
                CopySourceRange=f"bytes={first}-{last}",
            )
        except ClientError as error:
            if _missing(error):
                return False
            raise
        return True

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=key)

    async def delete_many(self, keys: list[str]) -> None:
        """Delete many keys with one S3 request per thousand (DeleteObjects); missing keys are fine."""
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            await asyncio.to_thread(
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True},
            )

    async def ready(self) -> bool:
        await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)
        return True


def last_write_of_each_part(listed: list[dict[str, Any]]) -> list[StoredPart]:
    """One entry per part number, as S3 keeps it: the part's last write. SeaweedFS lists a part
    written twice (a client's retry of a PUT whose answer it lost) under both writes, in no set
    order; AWS lists the last write only. Its `LastModified` has whole seconds: of two writes in
    the same second, the one listed last is kept. Whichever is joined, the object is then read
    back and what it holds is what is recorded."""
    last: dict[int, dict[str, Any]] = {}
    for entry in listed:
        kept = last.get(entry["PartNumber"])
        if kept is None or entry["LastModified"] >= kept["LastModified"]:
            last[entry["PartNumber"]] = entry
    return [StoredPart(e["PartNumber"], e["Size"], e["ETag"]) for e in last.values()]
