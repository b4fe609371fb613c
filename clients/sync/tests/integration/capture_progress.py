"""Not collected as a test: takes the README's captures of the progress display and the summary in
tmux (`uv run --frozen pytest clients/sync/tests/integration/capture_progress.py`), into ../../docs/."""

import asyncio
import json
import random
import subprocess
import sys
from pathlib import Path

from docstore_devplatform.e2e import PASSWORD, sign_up
from docstore_devplatform.testing import eventually


async def test_capture(system, api, tmp_path):
    user = await sign_up(api, plan="premium")
    config = tmp_path / "config"
    config.mkdir()
    (config / "session.json").write_text(
        json.dumps(
            {"gateway": system.gateway, "token": user.token, "account_id": user.account_id, "username": user.username}
        )
    )
    folder = tmp_path / "Documents"
    rng = random.Random(1)
    (folder / "photos").mkdir(parents=True)
    for i in range(3):
        (folder / "photos" / f"holiday-{i}.jpg").write_bytes(rng.randbytes(12_000_000))
    for i in range(6):
        (folder / f"notes-{i}.md").write_bytes(rng.randbytes(20_000))
    out = Path(__file__).parents[2] / "docs"
    cmd = f"DOCSTORE_CONFIG_DIR={config} {sys.executable} -m docstore_sync sync {folder} --max-rate 6M; sleep 600"
    await asyncio.to_thread(
        subprocess.run, ["tmux", "new-session", "-d", "-s", "cap", "-x", "110", "-y", "16", cmd], check=True
    )
    try:

        async def pane(text):
            shown = (
                await asyncio.to_thread(
                    subprocess.run, ["tmux", "capture-pane", "-p", "-t", "cap"], capture_output=True, text=True
                )
            ).stdout
            return shown if text in shown else None

        during = await eventually(lambda: pane("MB/s"), timeout=120, interval=0.5)
        await asyncio.sleep(2)
        during = await pane("overall") or during
        (out / "progress.txt").write_text(during.rstrip() + "\n")
        after = await eventually(lambda: pane("Sync summary"), timeout=300, interval=0.5)
        (out / "summary.txt").write_text(after.rstrip() + "\n")
    finally:
        await asyncio.to_thread(subprocess.run, ["tmux", "kill-session", "-t", "cap"])
    assert PASSWORD
