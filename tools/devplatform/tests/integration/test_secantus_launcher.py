"""SecantusDB starts through `secantusd.py`: its transaction registry no longer waits on a
transaction that is running a statement, and still reaps the ones idle past their lifetime.

The registry is SecantusDB's own class, run by the servers venv's Python (the project's venv
does not have SecantusDB), with a clock the check moves."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from docstore_devplatform.launch import SECANTUS_LAUNCHER
from docstore_devplatform.paths import find_binaries

pytestmark = pytest.mark.integration

REGISTRY_CHECK = textwrap.dedent(
    """
    import importlib.util, sys, threading

    spec = importlib.util.spec_from_file_location("launcher", sys.argv[1])
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    print("patched", launcher.patch())
    from secantus.transactions import TransactionRegistry

    now = [1000.0]
    registry = TransactionRegistry(lifetime_seconds=60, time_func=lambda: now[0])
    busy, _ = registry.for_statement(b"busy", None, 1, start=True)
    idle, _ = registry.for_statement(b"idle", None, 1, start=True)

    holding, release = threading.Event(), threading.Event()

    def run_a_statement():  # as SecantusDB runs one: under the transaction's mutex
        with busy.mutex:
            holding.set()
            release.wait(300)  # (longer than the walk is given below)

    statement = threading.Thread(target=run_a_statement)
    statement.start()
    assert holding.wait(60)
    now[0] += 61  # both past their lifetime
    started = []
    # Another session's first statement: it walks the registry before it runs.
    first = threading.Thread(target=lambda: started.append(registry.for_statement(b"new", None, 1, start=True)[0]))
    first.start()
    first.join(60)
    print("walk finished while a statement ran", not first.is_alive())
    release.set()
    statement.join(60)
    first.join(60)
    new = started[0]
    print("during", busy.state.name, idle.state.name, new.state.name)
    print("after", registry.prune_expired(), busy.state.name, new.state.name)
    """
)


def test_the_registry_walk_passes_over_a_busy_transaction_and_still_reaps_idle_ones(tmp_path: Path) -> None:
    python = find_binaries().servers_python
    assert python is not None
    script = tmp_path / "check.py"
    script.write_text(REGISTRY_CHECK)
    result = subprocess.run(
        [str(python), "-P", str(script), str(SECANTUS_LAUNCHER)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "patched True",
        "walk finished while a statement ran True",
        # The busy one is left alone while its statement runs; the idle one is reaped.
        "during IN_PROGRESS ABORTED IN_PROGRESS",
        # Its statement over, the busy one is idle past its lifetime too: reaped; the new one is not.
        "after 1 ABORTED IN_PROGRESS",
    ]
