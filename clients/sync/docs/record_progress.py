"""Records the README's pictures of `docstore sync` in a terminal: a real sync in tmux, captured.

Starts the real servers and services on free ports (as bench/sync.py does), signs up an account,
logs the real client in, then runs `docstore sync` of three 12 MB photos and six notes with
`--max-rate 6M` (so the bars are caught moving) in a detached tmux session of 100 x 14 and reads
the pane with `tmux capture-pane -p -e` while it transfers and again at the summary. Writes, beside
this file: progress.txt / summary.txt (plain text), progress.svg / summary.svg (the same screens in
colour, drawn by rich's SVG export from the captured ANSI).

    uv run --frozen python clients/sync/docs/record_progress.py
"""

from __future__ import annotations

import io
import os
import random
import re
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from rich.console import Console
from rich.text import Text

HERE = Path(__file__).parent
BUCKET = "docstore-us-west-2"
PASSWORD = "recording password"
WIDTH, HEIGHT = 100, 14
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def pane(session: str) -> str:
    """The pane's screen with its colours (`-e`)."""
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-e", "-t", session], capture_output=True, text=True, check=True
    ).stdout


def wait_for(session: str, wanted: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = pane(session)
        if wanted in ANSI.sub("", shown):
            return shown
        time.sleep(0.3)
    raise TimeoutError(f"{wanted!r} never showed in the pane:\n{ANSI.sub('', pane(session))}")


def save(name: str, screen: str, title: str) -> None:
    """`name`.txt (plain) and `name`.svg (colours, through rich)."""
    lines = screen.rstrip().splitlines()
    (HERE / f"{name}.txt").write_text("\n".join(ANSI.sub("", line).rstrip() for line in lines) + "\n")
    console = Console(record=True, width=WIDTH, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    console.print(Text("\n").join(Text.from_ansi(line) for line in lines), soft_wrap=True)
    console.save_svg(str(HERE / f"{name}.svg"), title=title)


def main() -> None:
    from docstore_devplatform.servers import Servers
    from docstore_devplatform.services import ServiceProcesses
    from docstore_events import all_topics

    with tempfile.TemporaryDirectory(prefix="docstore-record-") as folder:
        root = Path(folder)
        servers = Servers(root / "servers", ports="auto", topics=all_topics(), buckets=[BUCKET])
        endpoints = servers.start()
        system = ServiceProcesses(endpoints, root / "system", ports="auto")
        session = f"docstore-record-{os.getpid()}"
        try:
            gateway = system.start()["gateway"]
            username = f"rec-{uuid.uuid4().hex[:8]}"
            httpx.post(
                gateway + "/v1/accounts",
                json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
                timeout=60,
            ).raise_for_status()
            env = os.environ | {"DOCSTORE_CONFIG_DIR": str(root / "config")}
            subprocess.run(
                [sys.executable, "-m", "docstore_sync", "login", "--gateway", gateway, "--username", username]
                + ["--password-stdin"],
                input=PASSWORD + "\n",
                text=True,
                env=env,
                check=True,
                capture_output=True,
            )
            documents = root / "Documents"
            rng = random.Random(1)
            (documents / "photos").mkdir(parents=True)
            for i in range(3):
                (documents / "photos" / f"holiday-{i}.jpg").write_bytes(rng.randbytes(12_000_000))
            for i in range(6):
                (documents / f"notes-{i}.md").write_bytes(rng.randbytes(20_000))
            command = (
                f"cd {shlex.quote(str(root))} && DOCSTORE_CONFIG_DIR=config {shlex.quote(sys.executable)} "
                f"-m docstore_sync sync Documents --max-rate 6M; sleep 600"
            )
            subprocess.run(
                ["tmux", "new-session", "-d", "-s", session, "-x", str(WIDTH), "-y", str(HEIGHT), command], check=True
            )
            wait_for(session, "MB/s", timeout=180)
            time.sleep(2.5)  # a few seconds in: the bars stand part-way
            save("progress", wait_for(session, "overall", timeout=60), "docstore sync ~/Documents")
            save("summary", wait_for(session, "Sync summary", timeout=300), "docstore sync ~/Documents")
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
            system.stop()
            servers.stop()


if __name__ == "__main__":
    main()
