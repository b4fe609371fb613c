"""Where the test suite's time goes, from the junit file every `scripts/test` run leaves
(`test-artifacts/junit.xml`): seconds and tests per area (a folder of system tests such as
`tests/e2e`, or a service's `unit`/`integration` tests), the slowest tests, and what the suite
would take if its areas ran side by side on N workers (issue 35: 20 minutes on 2 cores).

Usage:
    uv run python bench/suite.py [--junit test-artifacts/junit.xml] [--workers 2 3] [--top 15] [--json]

Areas, not single tests, are what can run side by side: each area's tests share a system start
(the shared two-region system, the browser's, the fault platform's, one service's servers), so
splitting an area would start its system twice. The split is the longest-first greedy one (each
area to the least-loaded worker), a lower bound on the wall time only: the workers share the same
cores, so what it prints is what the suite could reach, not what it will.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

TOP_FOLDERS = ("services", "libs", "clients", "tools")


def area_of(classname: str, file: str | None) -> str:
    """`tests/e2e`, `services/quota/integration`, `libs/messaging/unit`, ... for one test case."""
    parts = (file or classname.replace(".", "/")).split("/")
    if parts[0] in TOP_FOLDERS and len(parts) > 3 and parts[2] == "tests":
        return f"{parts[0]}/{parts[1]}/{parts[3]}"
    if parts[0] == "tests" and len(parts) > 1:
        return f"tests/{parts[1]}"
    return "/".join(parts[:2])


def read_cases(junit: Path) -> list[tuple[str, str, float]]:
    """(area, test id, seconds) for every test case in the file."""
    cases = []
    for case in ElementTree.parse(junit).iter("testcase"):
        classname = case.get("classname", "")
        area = area_of(classname, case.get("file"))
        cases.append((area, f"{classname}::{case.get('name')}", float(case.get("time") or 0)))
    return cases


def split(areas: dict[str, float], workers: int) -> list[list[str]]:
    """Longest area first, each to the least-loaded worker."""
    loads = [0.0] * workers
    groups: list[list[str]] = [[] for _ in range(workers)]
    for area, seconds in sorted(areas.items(), key=lambda item: -item[1]):
        least = loads.index(min(loads))
        loads[least] += seconds
        groups[least].append(area)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--junit", type=Path, default=Path("test-artifacts/junit.xml"))
    parser.add_argument("--workers", type=int, nargs="*", default=[2, 3])
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    args = parser.parse_args()
    if not args.junit.exists():
        sys.exit(f"{args.junit}: no junit file; run scripts/test first")

    cases = read_cases(args.junit)
    seconds: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for area, _, took in cases:
        seconds[area] += took
        counts[area] += 1
    total = sum(seconds.values())
    splits = {}
    for workers in args.workers:
        groups = split(seconds, workers)
        splits[workers] = {
            "wall_s_at_least": round(max(sum(seconds[a] for a in group) for group in groups), 1),
            "groups": groups,
        }
    slowest = sorted(cases, key=lambda case: -case[2])[: args.top]
    figures = {
        "bench": "suite",
        "junit": str(args.junit),
        "tests": len(cases),
        "test_seconds": round(total, 1),
        "areas": {
            area: {"seconds": round(took, 1), "tests": counts[area]}
            for area, took in sorted(seconds.items(), key=lambda item: -item[1])
        },
        "slowest": [{"test": test, "seconds": round(took, 1)} for _, test, took in slowest],
        "split": splits,
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{len(cases)} tests, {total / 60:.1f} min of test time ({args.junit})")
    for area, row in figures["areas"].items():
        print(f"  {row['seconds']:8.1f} s  {row['tests']:5d} tests  {area}")
    print("slowest:")
    for row in figures["slowest"]:
        print(f"  {row['seconds']:8.1f} s  {row['test']}")
    for workers, row in splits.items():
        print(f"{workers} workers, areas side by side: at least {row['wall_s_at_least'] / 60:.1f} min")
        for group in row["groups"]:
            print(f"  {sum(seconds[a] for a in group) / 60:5.1f} min  {', '.join(group)}")


if __name__ == "__main__":
    main()
