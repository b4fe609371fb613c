"""Delta uploads: the parts planned from two chunk maps, the chunk list's checks, and the chunk
hasher that checks a map against the bytes read back."""

from __future__ import annotations

import hashlib
import random

import pytest

from docstore_upload.domain.delta import Chunk, ChunkHasher, Part, check_chunks, copied_bytes, plan_parts
from docstore_upload.domain.errors import InvalidUpload
from docstore_upload.domain.multipart import MAX_PART, MIN_PART

MIB = 1024 * 1024
PART = 16 * MIB


def chunks_of(lengths: list[int], names: list[str]) -> list[Chunk]:
    """A map of chunks with these lengths; equal names mean equal bytes."""
    out, offset = [], 0
    for length, name in zip(lengths, names, strict=True):
        out.append(Chunk(offset, length, hashlib.sha256(f"{name}:{length}".encode()).hexdigest()))
        offset += length
    return out


def check_layout(parts: list[Part], size: int) -> None:
    """Parts cover [0, size) in order, numbered from 1; all but the last are S3-sized."""
    offset = 0
    for index, part in enumerate(parts):
        assert part.number == index + 1 and part.offset == offset
        if index < len(parts) - 1:
            assert part.length >= MIN_PART
        assert 0 < part.length <= MAX_PART
        offset += part.length
    assert offset == size


def test_a_change_in_the_middle_uploads_one_widened_part_and_copies_the_rest():
    names = [f"c{i}" for i in range(40)]
    old = chunks_of([MIB] * 40, names)
    new = chunks_of([MIB] * 40, names[:20] + ["changed"] + names[21:])
    parts = plan_parts(old, new, part_size=PART)
    assert parts is not None
    check_layout(parts, 40 * MIB)
    uploaded = [p for p in parts if not p.copied]
    assert len(uploaded) == 1 and uploaded[0].length == MIN_PART  # 1 MiB widened to 5 MiB
    assert uploaded[0].offset <= 20 * MIB < uploaded[0].offset + uploaded[0].length
    assert copied_bytes(parts) == 35 * MIB
    for part in parts:  # copied ranges come from the same bytes of the previous object
        if part.copied:
            assert part.source_offset == part.offset


def test_copied_ranges_follow_the_bytes_when_a_change_shifts_them():
    names = [f"c{i}" for i in range(30)]
    old = chunks_of([MIB] * 30, names)
    # 100 KiB inserted at 10 MiB: the new chunk there is longer, everything after moves on.
    new = chunks_of([MIB] * 10 + [MIB + 100 * 1024] + [MIB] * 19, names[:10] + ["inserted"] + names[11:])
    parts = plan_parts(old, new, part_size=PART)
    assert parts is not None
    check_layout(parts, 30 * MIB + 100 * 1024)
    after = [p for p in parts if p.copied and p.offset > 11 * MIB]
    assert after and all(p.source_offset == p.offset - 100 * 1024 for p in after)


def test_unchanged_runs_shorter_than_a_part_are_sent_instead():
    names = [f"c{i}" for i in range(12)]
    old = chunks_of([MIB] * 12, names)
    # Changes at 2 and 5: the 2 MiB unchanged run between them cannot be a part of its own.
    changed = list(names)
    changed[2], changed[5] = "x", "y"
    parts = plan_parts(old, chunks_of([MIB] * 12, changed), part_size=PART)
    assert parts is not None
    check_layout(parts, 12 * MIB)
    assert sum(p.length for p in parts if not p.copied) >= 4 * MIB


def test_a_change_at_the_end_may_leave_a_short_last_part():
    names = [f"c{i}" for i in range(20)]
    old = chunks_of([MIB] * 20, names)
    parts = plan_parts(old, chunks_of([MIB] * 20 + [300], names + ["tail"]), part_size=PART)
    assert parts is not None
    check_layout(parts, 20 * MIB + 300)
    assert parts[-1].length < MIN_PART or not parts[-1].copied


def test_large_uploaded_regions_are_cut_into_parts_and_nothing_to_copy_is_no_delta():
    old = chunks_of([MIB] * 60, [f"c{i}" for i in range(60)])
    new = chunks_of([MIB] * 60, [f"c{i}" for i in range(10)] + [f"n{i}" for i in range(50)])
    parts = plan_parts(old, new, part_size=PART)
    assert parts is not None
    check_layout(parts, 60 * MIB)
    uploaded = [p.length for p in parts if not p.copied]
    assert len(uploaded) == 3 and all(PART <= length < 2 * PART for length in uploaded)  # 50 MiB in 3
    assert plan_parts(old, chunks_of([MIB] * 8, [f"z{i}" for i in range(8)]), part_size=PART) is None


def test_random_maps_always_give_a_valid_layout():
    rng = random.Random(7)
    for _ in range(200):
        count = rng.randint(1, 60)
        lengths = [rng.randint(64 * 1024, 3 * MIB) for _ in range(count)]
        names = [f"c{i}" for i in range(count)]
        old = chunks_of(lengths, names)
        new_names = [n if rng.random() < 0.8 else f"x{rng.random()}" for n in names]
        new = chunks_of(lengths, new_names)
        parts = plan_parts(old, new, part_size=PART)
        if parts is not None:
            check_layout(parts, sum(lengths))
            assert copied_bytes(parts) <= sum(lengths)


def test_a_chunk_list_must_cover_the_file_without_gaps():
    good = chunks_of([10, 20], ["a", "b"])
    assert check_chunks(good, 30) == tuple(good)
    with pytest.raises(InvalidUpload):
        check_chunks(good, 31)
    with pytest.raises(InvalidUpload):
        check_chunks([good[1]], 20)  # does not start at 0
    with pytest.raises(InvalidUpload):
        check_chunks([Chunk(0, 30, "not hex" * 9)], 30)


def test_the_chunk_hasher_checks_a_map_against_bytes_fed_in_any_slices():
    data = random.Random(3).randbytes(100_000)
    lengths = [1, 40_000, 33_333, 100_000 - 73_334]
    shas, offset = [], 0
    for length in lengths:
        shas.append(hashlib.sha256(data[offset : offset + length]).hexdigest())
        offset += length
    hasher = ChunkHasher(lengths)
    for start in range(0, len(data), 8192):
        hasher.update(data[start : start + 8192])
    assert hasher.matches(shas)
    wrong = ChunkHasher(lengths)
    wrong.update(data[:-1] + b"\0")
    assert not wrong.matches(shas)
