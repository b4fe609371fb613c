"""What the WebDAV properties say about a document or folder (pure): the entity tag, ownCloud's
permissions and checksums, X-OC-Mtime (rclone's modification times)."""

from __future__ import annotations

import math
import re

OC_NS = "http://owncloud.org/ns"
NC_NS = "http://nextcloud.org/ns"
OC_PERMISSIONS = f"{{{OC_NS}}}permissions"
OC_CHECKSUMS = f"{{{OC_NS}}}checksums"
OC_FILEID = f"{{{OC_NS}}}fileid"
OC_ID = f"{{{OC_NS}}}id"
OC_SIZE = f"{{{OC_NS}}}size"
LIVE_OC = (OC_PERMISSIONS, OC_CHECKSUMS, OC_FILEID, OC_ID, OC_SIZE)

# ownCloud's letters: S shared, R shareable, M mounted, G readable, D deletable, N renameable,
# V movable, W writable (files), C create files, K create folders (collections).
FILE_PERMISSIONS = "RGDNVW"
FOLDER_PERMISSIONS = "RGDNVCK"
READ_ONLY_PERMISSIONS = "G"

_MTIME = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,9})?$")


def etag(sha256: str, size: int) -> str:
    """Changes whenever the bytes change (and only then): the content's hash and size."""
    return f"{sha256[:32]}-{size}"


def checksums(hashes: dict[str, str]) -> str:
    """`SHA1:... MD5:... SHA256:...` as ownCloud answers `oc:checksums` (rclone reads SHA1 and MD5)."""
    order = ("SHA1", "MD5", "SHA256")
    return " ".join(f"{name}:{hashes[name.lower()]}" for name in order if hashes.get(name.lower()))


def parse_mtime(header: str | None) -> float | None:
    """`X-OC-Mtime: 1700000000` (seconds, maybe with a fraction); None when absent or malformed,
    or outside 1970..9999."""
    if not header or not _MTIME.match(header.strip()):
        return None
    value = float(header.strip())
    if not math.isfinite(value) or value <= 0 or value > 253402300799:
        return None
    return value


def parse_oc_checksum(header: str | None) -> tuple[str, str] | None:
    """`OC-Checksum: SHA1:abc...` -> ('sha1', 'abc...'); None when absent or of a kind we do not compute."""
    if not header:
        return None
    kind, _, value = header.strip().partition(":")
    kind = kind.strip().lower()
    value = value.strip().lower()
    lengths = {"sha1": 40, "md5": 32, "sha256": 64}
    if kind not in lengths or len(value) != lengths[kind] or not re.fullmatch(r"[0-9a-f]+", value):
        return None
    return kind, value
