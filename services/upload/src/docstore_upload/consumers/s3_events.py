"""S3 bucket notifications: a hint that an upload's object may have arrived.

The S3 store publishes every change of its files to a Kafka topic (`Settings.s3_events_topic`).
Locally that is SeaweedFS's filer (`notification.toml`, written by the dev platform): the
message key is the filer path `/buckets/<bucket>/<object key>`, the value a protobuf
`filer_pb.EventNotification` (field 1 `old_entry`, 2 `new_entry`; an `Entry` has its name in
field 1 and `is_directory` in field 2). No headers, and not a CloudEvent.

A notification only says "look now": this module decodes it and filters out other buckets,
directories, deletions and multipart staging under `.uploads/`; the object key left goes to
one use case, `Checks.object_written`, which finds the pending upload stored under it and
runs the watcher's own check (facts read from S3, the same exactly-once completion as every
other path), or deletes a form's write that came after its upload finished. Keys no pending
upload owns and multipart uploads this service joined itself (already being read back) are
ignored there, so a lost, repeated or stray notification changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import structlog

from docstore_messaging.consumer import RawMessage
from docstore_upload.domain.grants import STAGING_PREFIX

log = structlog.get_logger(__name__)

#: Where SeaweedFS's filer keeps S3 buckets (its default `-filer.dirBuckets`).
BUCKETS_DIR = "/buckets/"
#: Where SeaweedFS stages the parts of unfinished multipart uploads, inside a bucket.
MULTIPART_STAGING = ".uploads/"


class MalformedNotification(ValueError):
    """The value is not the protobuf message it should be."""


@dataclass(frozen=True)
class FilerChange:
    """What one SeaweedFS filer notification says happened to one path."""

    path: str
    created_or_updated: bool  # a new entry exists (False: a deletion)
    directory: bool


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise MalformedNotification("truncated varint")
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """The top-level (field number, value) pairs of a protobuf message (wire format only)."""
    fields: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(buf):
        tag, i = _varint(buf, i)
        number, wire_type = tag >> 3, tag & 7
        value: int | bytes
        if wire_type == 0:
            value, i = _varint(buf, i)
        elif wire_type == 2:
            length, i = _varint(buf, i)
            if i + length > len(buf):
                raise MalformedNotification("truncated field")
            value, i = buf[i : i + length], i + length
        elif wire_type in (1, 5):
            width = 8 if wire_type == 1 else 4
            value, i = buf[i : i + width], i + width
        else:
            raise MalformedNotification(f"unsupported wire type {wire_type}")
        fields.append((number, value))
    if i != len(buf):
        raise MalformedNotification("truncated fixed-width field")
    return fields


def decode_filer_change(key: bytes | None, value: bytes | None) -> FilerChange:
    """Read a SeaweedFS filer notification (Kafka key and value); `MalformedNotification` if we can't."""
    if not key:
        raise MalformedNotification("no key: the filer path is the key")
    try:
        path = key.decode()
    except UnicodeDecodeError as error:
        raise MalformedNotification(f"key is not UTF-8: {error}") from error
    new_entry = next((v for n, v in _fields(value or b"") if n == 2 and isinstance(v, bytes)), None)
    directory = new_entry is not None and any(n == 2 and v == 1 for n, v in _fields(new_entry))
    return FilerChange(path=path, created_or_updated=new_entry is not None, directory=directory)


def object_key_to_check(change: FilerChange, bucket: str, region: str | None = None) -> str | None:
    """The object key in `bucket` that the change may have completed, or None when it cannot have.

    With `region`, only the keys this region's uploads write: a version's own key
    (`<region>/...`) or its staging key (`staging/<region>/...`, also what temporary credentials
    write). The rest of the bucket (previews, `previews/<region>/...`, two images per version)
    holds no upload, so its notifications cost no lookup."""
    prefix = f"{BUCKETS_DIR}{bucket}/"
    if not change.created_or_updated or change.directory or not change.path.startswith(prefix):
        return None
    object_key = change.path.removeprefix(prefix)
    if not object_key or object_key.startswith(MULTIPART_STAGING):
        return None
    if region is not None and not object_key.startswith((f"{region}/", f"{STAGING_PREFIX}{region}/")):
        return None
    return object_key


class ObjectWritten(Protocol):
    """The use case a notification leads to (`Checks.object_written`)."""

    async def __call__(self, key: str) -> str | None: ...


class S3Notifications:
    """The raw subscriber: decodes notifications and hands each object key to one use case."""

    def __init__(self, object_written: ObjectWritten, *, bucket: str, region: str | None = None) -> None:
        self.object_written = object_written
        self.bucket = bucket
        self.region = region

    def _object_key(self, message: RawMessage) -> str | None:
        try:
            change = decode_filer_change(message.key, message.value)
        except MalformedNotification as error:
            log.warning("s3_event_undecodable", topic=message.topic, error=str(error))
            return None
        return object_key_to_check(change, self.bucket, self.region)

    async def handle(self, message: RawMessage) -> str | None:
        """The use case's outcome for the object the notification names; None if ignored."""
        object_key = self._object_key(message)
        return None if object_key is None else await self.object_written(object_key)

    async def handle_batch(self, messages: list[RawMessage]) -> None:
        """One poll's notifications (`EventRuntime.subscribe_raw_batch`: one offset commit per poll,
        where one per notification was the last consumer to catch up after a burst, issue 35).

        Each object key is checked once, in the order first written: the check reads S3 as it
        is now, so a second notice of the same key in the poll would find what the first found.
        A failure fails the batch; the consumer retries its halves, and a key checked again
        changes nothing (the use case is idempotent)."""
        keys = (self._object_key(message) for message in messages)
        for object_key in dict.fromkeys(key for key in keys if key is not None):
            await self.object_written(object_key)
