"""SecantusDB starts through `secantusd.py`: its transaction registry no longer waits on a
transaction that is running a statement, and still reaps the ones idle past their lifetime
(15 s, `TRANSACTION_LIFETIME_SECONDS`).

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


def run_check(check: str, tmp_path: Path) -> list[str]:
    """The lines `check` prints, run by the servers venv's Python with the launcher's path as its argument."""
    python = find_binaries().servers_python
    assert python is not None
    script = tmp_path / "check.py"
    script.write_text(check)
    result = subprocess.run(
        [str(python), "-P", str(script), str(SECANTUS_LAUNCHER)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


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
    print("lifetime", TransactionRegistry(lifetime_seconds=60)._lifetime)  # as SecantusDB's server makes it
    """
)


def test_the_registry_walk_passes_over_a_busy_transaction_and_still_reaps_idle_ones(tmp_path: Path) -> None:
    assert run_check(REGISTRY_CHECK, tmp_path) == [
        "patched True",
        "walk finished while a statement ran True",
        # The busy one is left alone while its statement runs; the idle one is reaped.
        "during IN_PROGRESS ABORTED IN_PROGRESS",
        # Its statement over, the busy one is idle past its lifetime too: reaped; the new one is not.
        "after 1 ABORTED IN_PROGRESS",
        # A killed process's open transaction holds its writes until reaped: 15 s, not mongod's 60.
        "lifetime 15.0",
    ]


RETRYABLE_CHECK = textwrap.dedent(
    """
    import importlib.util, sys, time

    from secantus.transactions import TransactionRegistry

    def drive(registry, now):
        # 10,050 writes 0.1 s apart, one recorded again, a failed one; then the older half goes stale.
        for n in range(10_050):
            now[0] = 1000.0 + n / 10
            registry.record_retryable(b"s%d" % (n % 7), n, b"id", {"ok": 1, "n": n})
        registry.record_retryable(b"s0", 9_000, b"id", {"ok": 1, "n": "again"})
        registry.record_retryable(b"s1", 20_000, b"id", {"ok": 0})
        kept = list(registry._retryable)
        replay = registry.retryable_reply(b"s0", 9_000, b"id")
        now[0] = 1000.0 + 1_005 + 30 * 60 - 500  # the records older than 500 s past their 30 minutes
        registry.retryable_reply(b"s0", 1, b"id")
        return sorted(kept), replay, sorted(registry._retryable)

    now = [0.0]
    before = drive(TransactionRegistry(lifetime_seconds=60, time_func=lambda: now[0]), now)

    spec = importlib.util.spec_from_file_location("launcher", sys.argv[1])
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    print("patched", launcher.patch())
    after = drive(TransactionRegistry(lifetime_seconds=60, time_func=lambda: now[0]), now)
    print("kept", len(before[0]), len(after[0]), len(after[2]), before == after)
    print("replayed", after[1])

    # The cost of one more write with 10,000 kept: the original sorts them all, this drops one.
    registry = TransactionRegistry(lifetime_seconds=60, time_func=lambda: now[0])
    drive(registry, now)
    started = time.process_time()
    for n in range(1_000):
        registry.record_retryable(b"x", 100_000 + n, b"id", {"ok": 1})
    print("fast", (time.process_time() - started) / 1_000 < 0.0005)
    """
)


def test_retryable_write_records_are_kept_and_dropped_as_before_at_a_constant_cost(tmp_path: Path) -> None:
    assert run_check(RETRYABLE_CHECK, tmp_path) == [
        "patched True",
        # The same 10,000 records kept (the cap), the same left after the stale ones went.
        "kept 10000 10000 5001 True",
        "replayed {'ok': 1, 'n': 'again'}",
        # Under half a millisecond of CPU per write (the original's sort of 10,000 took several).
        "fast True",
    ]
