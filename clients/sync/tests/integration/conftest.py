"""Shared by the client's integration tests: the `config` folder of a test's session, and killing
a sync with SIGKILL in the middle of a multipart upload (the resume tests of plain and delta uploads)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from docstore_devplatform.testing import eventually

KillMidUpload = Callable[..., Awaitable[str]]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("DOCSTORE_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def kill_mid_upload(api: httpx.AsyncClient, config: Path) -> KillMidUpload:
    """`await kill_mid_upload(folder, auth, max_rate, parts_stored=...)`: runs `docstore sync folder`
    in a child process (one part at a time, at `max_rate`), waits until its state names the
    multipart upload under way (and, with `parts_stored`, until S3 holds a part of it), kills it
    with SIGKILL and returns that upload's id. Fails if the upload finished first."""

    async def run(folder: Path, auth: dict[str, str], max_rate: str, *, parts_stored: bool) -> str:
        child = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "docstore_sync", "sync", str(folder), "--json", "--concurrency", "1"],
            *["--max-rate", max_rate],
            env=os.environ | {"DOCSTORE_CONFIG_DIR": str(config)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:

            async def under_way() -> str | None:
                db = folder / ".docstore" / "state.db"
                if not db.exists():
                    return None
                try:
                    with sqlite3.connect(db) as con:
                        row = con.execute("SELECT upload_id FROM uploads").fetchone()
                except sqlite3.OperationalError:  # the client is still creating its tables
                    return None
                if not row:
                    return None
                if parts_stored and not (await api.get(f"/v1/uploads/{row[0]}/parts", headers=auth)).json().get(
                    "stored"
                ):
                    return None
                return str(row[0])

            upload_id = await eventually(under_way, timeout=120)
            assert child.returncode is None, "the upload finished before it could be killed"
            os.kill(child.pid, signal.SIGKILL)
            assert await child.wait() == -signal.SIGKILL
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        return upload_id

    return run
