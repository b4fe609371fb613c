"""SecantusDB's synced commits (issue 32): what they cost and what they keep.

Starts SecantusDB alone (as the platform does, `launch.secantus_argv`, minus `--sync-on-commit`
for the baseline), runs five writers committing two-document transactions for `--seconds`, kills
it with SIGKILL under them, starts it again on the same files and counts the acknowledged
transactions that are gone. Runs the baseline (SecantusDB's default, commits not synced) and the
platform's (`--sync-on-commit`) alternately, `--rounds` times each.

    uv run python bench/mongo_commits.py [--seconds 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from docstore_devplatform.launch import ServerPorts, secantus_argv
from docstore_devplatform.paths import find_binaries


def start(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait(url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with MongoClient(url, serverSelectionTimeoutMS=500) as client:
                client.admin.command("ping")
            return
        except PyMongoError:
            time.sleep(0.2)
    raise SystemExit("SecantusDB did not start")


def one_round(synced: bool, seconds: float) -> tuple[int, int]:
    """(acknowledged, lost) for one run."""
    ports = ServerPorts.auto()
    url = f"mongodb://127.0.0.1:{ports.mongo}/?directConnection=true"
    folder = Path(tempfile.mkdtemp(prefix="docstore-bench-mongo-"))
    argv = secantus_argv(find_binaries(), ports, folder)
    if not synced:
        argv.remove("--sync-on-commit")
    try:
        proc = start(argv)
        wait(url)
        acknowledged: list[str] = []
        stop = threading.Event()

        def writer(number: int) -> None:
            with MongoClient(url, serverSelectionTimeoutMS=2000, socketTimeoutMS=2000, retryWrites=False) as client:
                index = 0
                while not stop.is_set():
                    key = f"{number}-{index}"
                    try:
                        with client.start_session() as session, session.start_transaction():
                            client.bench.a.insert_one({"_id": key}, session=session)
                            client.bench.b.insert_one({"_id": key}, session=session)
                    except PyMongoError:
                        return
                    acknowledged.append(key)
                    index += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(5)]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        os.killpg(proc.pid, signal.SIGKILL)
        stop.set()
        for thread in threads:
            thread.join()
        proc.wait()
        proc = start(argv)
        wait(url)
        with MongoClient(url) as client:
            kept = {row["_id"] for row in client.bench.a.find({}, {"_id": 1})}
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        return len(acknowledged), sum(1 for key in acknowledged if key not in kept)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for _ in range(args.rounds):
        for synced in (False, True):
            acknowledged, lost = one_round(synced, args.seconds)
            name = "--sync-on-commit" if synced else "default (not synced)"
            print(
                f"{name:22} {acknowledged / args.seconds:7.1f} transactions/s, "
                f"{lost} of {acknowledged} acknowledged lost to kill -9"
            )


if __name__ == "__main__":
    main()
