"""Sending only what changed: chunk maps and the parts of a delta upload. Pure rules.

A client cuts a large file with content-defined chunking (FastCDC) and sends the chunk list
(offset, length, sha256 of each chunk) with its grant request. The map is kept per stored object
only once the server has checked it against the bytes it read back at completion (`ChunkHasher`),
so a map the server uses always describes its object exactly.

For a new version whose current version has a map, `plan_parts` compares the two: chunks the old
object holds become ranges copied server-side (S3 `UploadPartCopy` with `CopySourceRange`), the
rest is uploaded by the client. S3 wants every part but the last to hold at least 5 MiB, so runs of
unchanged chunks are merged into copy parts, a copy run too short to stand alone is sent instead,
and a changed region shorter than 5 MiB is widened with its unchanged neighbours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from docstore_upload.domain.errors import InvalidUpload
from docstore_upload.domain.multipart import MAX_PART, MAX_PARTS, MIN_PART

MAX_CHUNKS = 10_000
"""Most chunks a map may hold (a 1 GiB file cut at 1 MiB on average has about a thousand)."""

DELTA_FROM = 16 * 1024 * 1024
"""Files from this size up may be sent as a delta (below it, one whole upload costs little)."""


@dataclass(frozen=True)
class Chunk:
    offset: int
    length: int
    sha256: str


@dataclass(frozen=True)
class Part:
    """One part of a delta upload: bytes [offset, offset + length) of the new file, either copied
    from the previous object at `source_offset` (server-side) or uploaded by the client (None)."""

    number: int
    offset: int
    length: int
    source_offset: int | None = None

    @property
    def copied(self) -> bool:
        return self.source_offset is not None


def check_chunks(chunks: Sequence[Chunk], size: int) -> tuple[Chunk, ...]:
    """The map as sent, checked: contiguous chunks from 0 that cover exactly `size` bytes, each
    with a lowercase hex sha256; `InvalidUpload` (422) otherwise."""
    if len(chunks) > MAX_CHUNKS:
        raise InvalidUpload(f"A chunk list holds at most {MAX_CHUNKS} chunks.", field="chunks")
    offset = 0
    checked = []
    for chunk in chunks:
        sha = chunk.sha256.lower()
        if chunk.offset != offset or chunk.length <= 0:
            raise InvalidUpload("Chunks must follow each other from offset 0, without gaps.", field="chunks")
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise InvalidUpload("Each chunk's sha256 is 64 hex digits.", field="chunks")
        checked.append(Chunk(chunk.offset, chunk.length, sha))
        offset += chunk.length
    if checked and offset != size:
        raise InvalidUpload("The chunks must cover the file's size exactly.", field="chunks")
    return tuple(checked)


@dataclass
class _Run:
    offset: int
    length: int
    source: int | None  # the previous object's offset of a copied run; None: uploaded

    @property
    def end_source(self) -> int | None:
        """Where a copied run ends in the previous object."""
        return None if self.source is None else self.source + self.length


def _runs(previous: Sequence[Chunk], new: Sequence[Chunk]) -> list[_Run]:
    """The new file as runs: chunks the previous object holds, merged while they are also
    contiguous there, and changed chunks merged into upload runs."""
    where: dict[tuple[str, int], int] = {}
    for chunk in previous:
        where.setdefault((chunk.sha256, chunk.length), chunk.offset)
    runs: list[_Run] = []
    for chunk in new:
        source = where.get((chunk.sha256, chunk.length))
        last = runs[-1] if runs else None
        if last is not None and source is None and last.source is None:
            last.length += chunk.length
        elif (
            last is not None and source is not None and last.source is not None and last.source + last.length == source
        ):
            last.length += chunk.length
        else:
            runs.append(_Run(chunk.offset, chunk.length, source))
    return runs


def _merge_uploads(runs: list[_Run]) -> list[_Run]:
    merged: list[_Run] = []
    for run in runs:
        if merged and run.source is None and merged[-1].source is None:
            merged[-1].length += run.length
        elif run.length > 0:
            merged.append(run)
    return merged


def _widen(runs: list[_Run]) -> list[_Run]:
    """Every run but the last at least `MIN_PART` long: copy runs shorter than that are uploaded
    instead; an upload run shorter than that takes bytes from the start of the next copy run or
    the end of the previous one (each left at least `MIN_PART`, or the last), else swallows the
    next copy run whole."""
    runs = _merge_uploads([_Run(r.offset, r.length, None if r.length < MIN_PART else r.source) for r in runs])
    i = 0
    while i < len(runs) - 1:
        run = runs[i]
        if run.source is not None or run.length >= MIN_PART:
            i += 1
            continue
        need = MIN_PART - run.length
        after = runs[i + 1]  # a copy run (upload runs next to each other are merged)
        before = runs[i - 1] if i > 0 else None
        last = i + 1 == len(runs) - 1
        if after.length - need >= MIN_PART or (last and after.length > need):
            run.length += need
            after.offset += need
            after.length -= need
            assert after.source is not None
            after.source += need
        elif before is not None and before.length - need >= MIN_PART:
            before.length -= need
            run.offset -= need
            run.length += need
        else:
            run.length += after.length  # take the whole neighbour: it is sent, not copied
            del runs[i + 1]
            runs = _merge_uploads(runs)
            continue  # look at the widened run again (it may still be short)
        i += 1
    return runs


def _split(offset: int, length: int, target: int) -> list[tuple[int, int]]:
    """[offset, offset + length) cut into pieces of `target` to under 2 x `target` bytes (only a
    range shorter than `target` stays one shorter piece)."""
    count = max(1, length // target)
    base, extra = divmod(length, count)
    pieces = []
    for n in range(count):
        size = base + (1 if n < extra else 0)
        pieces.append((offset, size))
        offset += size
    return pieces


def plan_parts(previous: Sequence[Chunk], new: Sequence[Chunk], *, part_size: int) -> list[Part] | None:
    """The parts of a delta upload of `new` against the object `previous` describes, numbered in
    file order; None when nothing can be copied (a whole upload is then just as good) or S3's
    10,000 parts would not do. Uploaded ranges are cut into parts of about `part_size`, copied
    ranges into parts of at most 5 GiB (S3's largest part)."""
    runs = _widen(_runs(previous, new))
    if not any(run.source is not None for run in runs):
        return None
    parts: list[Part] = []
    for run in runs:
        if run.source is None:
            for offset, length in _split(run.offset, run.length, part_size):
                parts.append(Part(len(parts) + 1, offset, length))
        else:
            for offset, length in _split(run.offset, run.length, MAX_PART):
                parts.append(Part(len(parts) + 1, offset, length, run.source + (offset - run.offset)))
    if len(parts) > MAX_PARTS:
        return None
    return parts


def copied_bytes(parts: Sequence[Part]) -> int:
    return sum(part.length for part in parts if part.copied)


class ChunkHasher:
    """The sha256 of each chunk of a map, computed from bytes fed in file order (the completion's
    read-back feeds it the object, so the map is checked against what S3 stores)."""

    def __init__(self, lengths: Sequence[int]) -> None:
        self.lengths = list(lengths)
        self.digests: list[str] = []
        self._index = 0
        self._left = self.lengths[0] if self.lengths else 0
        self._hash = hashlib.sha256()

    def update(self, data: bytes) -> None:
        view = memoryview(data)
        while view.nbytes and self._index < len(self.lengths):
            take = min(self._left, view.nbytes)
            self._hash.update(view[:take])
            view = view[take:]
            self._left -= take
            if self._left == 0:
                self.digests.append(self._hash.hexdigest())
                self._index += 1
                self._hash = hashlib.sha256()
                self._left = self.lengths[self._index] if self._index < len(self.lengths) else 0

    def matches(self, shas: Sequence[str]) -> bool:
        """Whether the bytes fed were exactly these chunks."""
        return self._index == len(self.lengths) and self.digests == list(shas)
