"""Content-defined chunks (FastCDC): they cover the file exactly, and a change in the middle
leaves the chunks before and after it as they were."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from docstore_sync.adapters.chunking import CHUNKED_FROM, MIB, MOST_CHUNKS, average_for, chunk_map


def test_the_average_grows_with_the_file_up_to_fastcdcs_largest():
    assert average_for(10 * MIB) == MIB and average_for(1024 * MIB) == MIB
    assert average_for(8 * 1024 * MIB) == 2 * MIB and average_for(10**13) == 4 * MIB
    assert 8 * 1024 * MIB // average_for(8 * 1024 * MIB) <= MOST_CHUNKS


def test_chunks_cover_the_file_and_survive_a_change_in_the_middle(tmp_path: Path):
    rng = random.Random(19)
    data = bytearray(rng.randbytes(24 * MIB))
    path = tmp_path / "f"
    path.write_bytes(data)
    before = chunk_map(path)
    offset = 0
    for chunk in before:
        assert chunk["offset"] == offset
        assert chunk["sha256"] == hashlib.sha256(data[offset : offset + chunk["length"]]).hexdigest()
        offset += chunk["length"]
    assert offset == len(data)

    data[12 * MIB : 12 * MIB + 1000] = rng.randbytes(1000)
    path.write_bytes(data)
    after = chunk_map(path)
    kept = {c["sha256"] for c in before} & {c["sha256"] for c in after}
    assert len(kept) >= len(before) - 3  # only the chunks around the change differ


def test_a_scan_reads_a_large_changed_file_once_for_its_sha256_and_its_map(tmp_path: Path):
    """A large file the scan hashes comes with its chunk map (one read for both, handed to the
    upload); a small one, or one the hash cache vouches for, without."""
    from docstore_sync.adapters.scan import load_rules, scan

    rng = random.Random(1919)
    data = rng.randbytes(CHUNKED_FROM + 3 * MIB)
    (tmp_path / "large.bin").write_bytes(data)
    (tmp_path / "small.txt").write_bytes(b"small")
    first = scan(tmp_path, load_rules(tmp_path), {})
    large = first.files["large.bin"]
    assert large.sha256 == hashlib.sha256(data).hexdigest()
    assert large.chunks == chunk_map(tmp_path / "large.bin")
    assert first.files["small.txt"].chunks is None
    cache = {p: (f.size, f.mtime_ns, f.sha256) for p, f in first.files.items()}
    again = scan(tmp_path, load_rules(tmp_path), cache)
    assert again.hashed == 0 and again.files["large.bin"].chunks is None
