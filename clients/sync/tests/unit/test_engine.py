"""The engine's answers that need no server: the folder lock (finding 6) and the report of an
upload the server stored as a conflict copy (finding 7), against a fake gateway."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from filelock import Timeout

from docstore_sync import cli
from docstore_sync.adapters.scan import LocalFile, Scan
from docstore_sync.engine import Syncer, Uploaded


def test_finding_6_a_second_sync_of_a_folder_exits_with_its_own_code_and_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("DOCSTORE_CONFIG_DIR", str(tmp_path / "config"))
    (tmp_path / "f.txt").write_text("x")
    held = cli.folder_lock(tmp_path)
    held.acquire()
    try:
        assert cli.main(["sync", str(tmp_path)]) == cli.BUSY == 4
        assert cli.main(["watch", str(tmp_path)]) == cli.BUSY
        said = " ".join(capsys.readouterr().err.split())  # (rich wraps long lines)
        assert "another `docstore sync` or `watch` of this folder is running; nothing was done" in said
        with pytest.raises(Timeout):
            cli.folder_lock(tmp_path).acquire()
    finally:
        held.release()
    assert not (tmp_path / ".docstore" / "state.db").exists()  # nothing was done


class BeatenGateway:
    """The server of a race: our upload of `d1` lost to another device's, and metadata stored
    our bytes as a conflict copy `d9`; the winner's bytes are `theirs`."""

    def __init__(self, ours: bytes, theirs: bytes) -> None:
        self.ours, self.theirs = ours, theirs
        self.calls = 0

    def changes(self, cursor: str | None, wait: float = 0) -> tuple[list[dict[str, Any]], str | None]:
        self.calls += 1
        entries = [
            {
                "kind": "modified",
                "document_id": "d1",
                "path": "/",
                "name": "x.txt",
                "version": 2,
                "sha256": hashlib.sha256(self.theirs).hexdigest(),
            },
            {
                "kind": "conflict",
                "document_id": "d9",
                "path": "/",
                "name": "x (conflict copy 2026-11-22 143201 d9).txt",
                "version": 1,
                "sha256": hashlib.sha256(self.ours).hexdigest(),
                "conflict_of": "d1",
            },
        ]
        return (entries if self.calls == 1 else []), "c1"

    def document(self, document_id: str) -> dict[str, Any]:
        assert document_id == "d1"
        return {"document_id": "d1", "version": 2, "sha256": hashlib.sha256(self.theirs).hexdigest()}

    def download(self, document_id: str, version: int | None, into: Path, progress: Any = None) -> str:
        into.write_bytes(self.theirs)
        return hashlib.sha256(self.theirs).hexdigest()


def test_finding_7_an_upload_stored_as_a_conflict_copy_is_reported_as_one_at_once(tmp_path: Path):
    ours, theirs = b"laptop edit", b"desktop edit"
    (tmp_path / "x.txt").write_bytes(ours)
    st = (tmp_path / "x.txt").stat()
    syncer = Syncer(tmp_path, BeatenGateway(ours, theirs))  # type: ignore[arg-type]
    try:
        sha = hashlib.sha256(ours).hexdigest()
        syncer.local = Scan(files={"x.txt": LocalFile(sha, st.st_size, st.st_mtime_ns)})
        started = time.monotonic()
        outcomes = syncer._confirm_recorded([Uploaded("x.txt", "d1", sha, st.st_size, st.st_mtime_ns)], timeout=30)
        assert time.monotonic() - started < 5  # not a minute's wait for an answer that will not come
        copy = "x (conflict copy 2026-11-22 143201 d9).txt"
        assert [(o.kind, o.ok, o.conflict_copy) for o in outcomes] == [("conflict", True, copy)]
        assert (tmp_path / copy).read_bytes() == ours and (tmp_path / "x.txt").read_bytes() == theirs
        assert syncer.state.base()[copy].document_id == "d9"
    finally:
        syncer.close()
