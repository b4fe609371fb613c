"""The CPU a command and everything it starts spend, by kind of process: the test suite's split
between DocStore's service processes, the servers (SecantusDB, Tansu, SeaweedFS, ...), the pytest
workers and Chromium (issue 35: at most 25 CPU-minutes for the README's test command).

Usage:
    uv run python bench/proc_cpu.py [--interval 1] [--json] -- CI=true bash .ci/run

It runs the command (through `sh -c` when it is one string with spaces, as above) and reads
`/proc/<pid>/stat` of every process on the machine each `--interval` seconds; a process is counted
from the first time it is seen after the command started, with all of its CPU time at the last
time it was seen. So a process that lives less than one interval is missed, and the last interval
of each process is lost: the total comes out a little under `/usr/bin/time`'s (28.2 CPU-minutes
against 27.6 on the same run, 2026-11-29, where processes that started before it were excluded
by their start time). Processes that ran before the command are left out, this one too. The
service processes are also summed by the `REGION` in their environment: what the test systems'
second region (ap-southeast-2) costs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

TICKS = os.sysconf("SC_CLK_TCK")

#: The services (docstore_devplatform.services.SERVICES: this script runs on the machine's own Python,
#: outside the workspace, so that it can wrap the whole `.ci/run`, bootstrap included).
SERVICES = ("metadata", "upload", "quota", "indexer", "notify", "analytics", "accounts", "webdav", "links", "gateway")

#: (kind, a pattern of the command line); the first that matches names the process.
KINDS: tuple[tuple[str, str], ...] = (
    ("SecantusDB", r"secantus"),
    ("Tansu", r"\btansu\b"),
    ("SeaweedFS", r"\bweed\b"),
    ("Typesense", r"typesense"),
    ("Chromium", r"chrom"),
    ("pytest workers", r"import sys;exec\(eval\(sys\.stdin\.readline"),  # pytest-xdist's execnet
    ("service: {0}", rf"-m (?:uvicorn )?docstore_({'|'.join(SERVICES)})\b"),  # a service, or its render worker
    ("docstore_{0}", r"docstore_(\w+)"),  # the CLIs: the sync client, the platform's
    ("moto", r"moto_server"),
    ("schemathesis", r"/st --config"),
    ("mypy", r"\bmypy\b"),
    ("pytest", r"pytest"),
)


def kind_of(command: str) -> str:
    """The kind of process a command line names; `other` when none of `KINDS` matches."""
    for kind, pattern in KINDS:
        match = re.search(pattern, command, re.IGNORECASE)
        if match:
            return kind.format(*match.groups())
    return "other"


@dataclass
class Seen:
    """Every process seen so far: its kind (from its command line) and its CPU seconds at the last look."""

    boot_ticks_at_start: int
    kinds: dict[str, str] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    regions: dict[str, str] = field(default_factory=dict)
    """The `REGION` a process was started with (the services have one), by key."""

    def look(self) -> None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
                started = int(fields[19])  # in clock ticks after boot
                if started < self.boot_ticks_at_start:  # before the command: this process too
                    continue
                key = f"{pid}:{started}"
                if key not in self.kinds:
                    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                        self.kinds[key] = kind_of(cmdline.read().replace(b"\0", b" ").decode(errors="replace"))
                    self.regions[key] = region_of(pid)
                self.cpu[key] = (int(fields[11]) + int(fields[12])) / TICKS
            except (OSError, ValueError, IndexError):
                continue  # ended between the listing and the read

    def by_kind(self) -> dict[str, dict[str, float]]:
        seconds: Counter[str] = Counter()
        processes: Counter[str] = Counter()
        for key, cpu in self.cpu.items():
            kind = self.kinds[key]
            seconds[kind] += cpu
            processes[kind] += 1
        return {kind: {"cpu_s": round(s, 1), "processes": processes[kind]} for kind, s in seconds.most_common()}

    def services_by_region(self) -> dict[str, float]:
        """CPU seconds of the service processes, by the region each was started in."""
        seconds: Counter[str] = Counter()
        for key, cpu in self.cpu.items():
            if self.kinds[key].startswith("service: "):
                seconds[self.regions.get(key) or "none"] += cpu
        return {region: round(s, 1) for region, s in seconds.most_common()}


def region_of(pid: str) -> str:
    """The `REGION` in a process's environment ("" without one, or when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            for entry in environ.read().split(b"\0"):
                if entry.startswith(b"REGION="):
                    return entry[len(b"REGION=") :].decode(errors="replace")
    except OSError:
        pass
    return ""


def boot_ticks_now() -> int:
    with open("/proc/uptime") as uptime:
        return int(float(uptime.read().split()[0]) * TICKS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between looks at /proc")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("name the command to run after --")
    if len(command) == 1 and " " in command[0]:
        command = ["sh", "-c", command[0]]
    seen = Seen(boot_ticks_at_start=boot_ticks_now())
    started = time.monotonic()
    child = subprocess.Popen(command)
    while child.poll() is None:
        seen.look()
        time.sleep(args.interval)
    seen.look()
    wall = time.monotonic() - started
    kinds = seen.by_kind()
    total = sum(k["cpu_s"] for k in kinds.values())
    services = sum(k["cpu_s"] for name, k in kinds.items() if name.startswith("service: "))
    print(f"\n{' '.join(command)}: exit {child.returncode}, {wall / 60:.1f} min wall, {total / 60:.2f} CPU-min seen")
    print(f"  {services / 60:8.2f} CPU-min  the service processes together")
    regions = seen.services_by_region()
    for region, cpu_s in regions.items():
        print(f"  {cpu_s / 60:8.2f} CPU-min  the service processes of region {region}")
    for name, k in kinds.items():
        print(f"  {k['cpu_s'] / 60:8.2f} CPU-min  {k['processes']:4d} processes  {name}")
    if args.json:
        figures = {
            "command": command,
            "exit": child.returncode,
            "wall_s": round(wall, 1),
            "cpu_s": round(total, 1),
            "services_cpu_s": round(services, 1),
            "services_cpu_s_by_region": regions,
            "by_kind": kinds,
        }
        print(json.dumps(figures))
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
