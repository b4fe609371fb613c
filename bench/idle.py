"""CPU the whole two-region platform uses while nothing happens.

Starts the platform exactly as `scripts/up` does (`python -m docstore_devplatform up`:
the supervisor, the five servers and both regions' services), but on free ports and in a
temporary data dir so it runs beside a developer's platform. Once it is ready it lets it
settle (start-up work: index creation, consumer group joins, ...: until two successive
5 s windows agree, within a cap), then measures the CPU time every process of the
platform tree uses over `--seconds` (default 60), in cores (CPU seconds per second),
in total and per process. The machine's total busy cores over the same window are printed
too, with the 1-minute load average before and after it: the machine may be shared, and a
platform figure far below the machine's tells that the rest is someone else's load.

The database commands every service sent over the same window are counted at the server
(`serverStatus.opcounters`, and by collection with SecantusDB's `top`): each costs on any
database. With `--test-settings` the services run with the settings of the systems the test
suite starts (`docstore_devplatform.e2e.SYSTEM_ENV`: shorter polls and fetch waits, cheap
password hashing), with the broker log in memory as there: what the suite's shared system costs
while no test is using it.

With `--servers-only` no service starts: the servers alone, idle, the floor under the goal.

With `--floor` (durable broker log only) the same run measures the platform, reads the consumer
groups its services joined and each group's topics from the broker's log (the JoinGroup
subscriptions Tansu keeps in each group's state), stops it, and measures the servers again with
one plain script holding one aiokafka consumer per group: the same topics, the platform's
heartbeats and sessions, the services' idle fetch wait and fetch-routine wake. That is the floor
of the idle goal: what the same consumers cost the broker and its log with no DocStore code.

    uv run python bench/idle.py [--seconds 60] [--broker-storage s3|memory|both] [--test-settings]
                                [--servers-only | --floor] [--json]

With `--json` the last line of stdout is one JSON object:
{"bench": "idle", "seconds": 60, "cores_total": ..., "per_process": {...}, ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from counts import Counts, collection_counters, database_counters, group_subscriptions

from docstore_devplatform.e2e import SYSTEM_ENV
from docstore_devplatform.state import StateFile

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SETTLE_WINDOW = 5.0


@dataclass(frozen=True)
class ProcTimes:
    """CPU seconds of one process: its own (all threads) and its reaped children's."""

    own: float
    reaped_children: float


def read_times(pid: int) -> ProcTimes | None:
    """utime+stime and cutime+cstime of `pid` from /proc, or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 0, utime 11, stime 12, cutime 13, cstime 14.
    own = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    children = (int(fields[13]) + int(fields[14])) / CLOCK_TICKS
    return ProcTimes(own, children)


def children_of() -> dict[int, list[int]]:
    """Parent pid -> child pids of every process on the machine."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(root: int, tree: dict[int, list[int]]) -> list[int]:
    """`root` and every process below it."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def named_processes(state: dict) -> dict[str, int]:
    """Label -> pid of the supervisor, each server and each region's services."""
    pids = state.get("pids", {})
    named = {"supervisor": int(state["supervisor_pid"])}
    named |= {name: pid for name, pid in pids.get("servers", {}).items()}
    for group, members in pids.items():
        if group == "servers":
            continue
        suffix = "" if group == "services" else "@" + group.removesuffix("-services")
        named |= {f"{name}{suffix}": pid for name, pid in members.items()}
    return named


def snapshot(named: dict[str, int]) -> dict[str, dict[int, float]]:
    """Per label: CPU seconds of each process in its subtree (the supervisor: itself only).

    A subtree's processes are counted under the label of the nearest named ancestor, so a
    service's worker processes count as that service. Reaped children's time counts too
    (cutime), so a worker that exits inside the window is not lost.
    """
    tree = children_of()
    owned = set(named.values())
    result: dict[str, dict[int, float]] = {}
    for label, root in named.items():
        times: dict[int, float] = {}
        for pid in descendants(root, tree):
            if pid != root and pid in owned:
                continue  # counted under its own label
            if label == "supervisor" and pid != root:
                continue
            t = read_times(pid)
            if t is not None:
                times[pid] = t.own + (t.reaped_children if label != "supervisor" else 0.0)
        result[label] = times
    return result


def cores_between(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]], elapsed: float) -> dict:
    """Cores used per label between two snapshots (processes new in `after` count from 0)."""
    per = {}
    for label, times in after.items():
        used = sum(t - before.get(label, {}).get(pid, 0.0) for pid, t in times.items())
        per[label] = max(0.0, used) / elapsed
    return per


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def measure(named: dict[str, int], seconds: float) -> tuple[dict[str, float], float]:
    """Cores per label over `seconds`, and the machine's busy cores over the same window."""
    busy0, _ = machine_busy()
    before, started = snapshot(named), time.monotonic()
    time.sleep(seconds)
    after, elapsed = snapshot(named), time.monotonic() - started
    busy1, _ = machine_busy()
    return cores_between(before, after, elapsed), (busy1 - busy0) / CLOCK_TICKS / elapsed


def settle(named: dict[str, int], cap: float) -> float:
    """Wait until two successive 5 s windows agree (within 0.02 core or 20 %), at most `cap` s."""
    started = time.monotonic()
    previous = None
    while time.monotonic() - started < cap:
        per, _ = measure(named, SETTLE_WINDOW)
        total = sum(per.values())
        print(f"  settling: {total:.3f} cores over {SETTLE_WINDOW:.0f} s", file=sys.stderr, flush=True)
        if previous is not None and abs(total - previous) <= max(0.02, 0.2 * previous):
            break
        previous = total
    return time.monotonic() - started


def platform(
    data_dir: Path,
    *,
    command: str,
    timeout: float | None = None,
    broker_storage: str = "s3",
    env: dict[str, str] | None = None,
    servers_only: bool = False,
) -> None:
    """Run `python -m docstore_devplatform <command>` (the code path of scripts/up and scripts/down);
    the services inherit `env` on top of this process's environment."""
    argv = [sys.executable, "-m", "docstore_devplatform", command, "--data-dir", str(data_dir)]
    if command == "up":
        argv += ["--ports", "auto", "--timeout", str(timeout or 300), "--broker-storage", broker_storage]
        if servers_only:
            argv += ["--services", ""]
    subprocess.run(argv, check=True, stdout=sys.stderr, env=os.environ | (env or {}))


def group_subscriptions_of(broker_pid: int) -> dict[str, list[str]]:
    """Each consumer group's topics, from the broker's durable log (`counts.group_subscriptions`);
    the log's store is the one the broker process was started with (its `AWS_*` environment)."""
    from docstore_devplatform.probes import s3_client  # boto3: only when needed

    environ = Path(f"/proc/{broker_pid}/environ").read_bytes().decode().split("\0")
    env = dict(line.split("=", 1) for line in environ if "=" in line)
    return group_subscriptions(s3_client(env["AWS_ENDPOINT"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]))


def plain_consumers(bootstrap: str, subscriptions: dict[str, list[str]]) -> None:
    """One plain aiokafka consumer per group, polling its topics until the process is killed,
    with the settings an idle service's consumer has on the platform (this process's environment
    overrides them as it does the services')."""
    from aiokafka import AIOKafkaConsumer

    from docstore_devplatform.servers import PLATFORM_MEMBERSHIP_ENV
    from docstore_kit.settings import ServiceSettings
    from docstore_messaging.consumer import FETCH_ROUTINE_WAKE_MS

    env = PLATFORM_MEMBERSHIP_ENV | os.environ
    idle_wait_ms = int(
        env.get("KAFKA_IDLE_FETCH_MAX_WAIT_MS", ServiceSettings.model_fields["kafka_idle_fetch_max_wait_ms"].default)
    )

    async def poll(group: str, topics: list[str]) -> None:
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=idle_wait_ms,
            consumer_timeout_ms=FETCH_ROUTINE_WAKE_MS,
            session_timeout_ms=int(env["KAFKA_SESSION_TIMEOUT_MS"]),
            heartbeat_interval_ms=int(env["KAFKA_HEARTBEAT_INTERVAL_MS"]),
        )
        await consumer.start()
        while True:
            await consumer.getmany(timeout_ms=60_000)

    async def all_groups() -> None:
        await asyncio.gather(*(poll(group, topics) for group, topics in subscriptions.items()))

    asyncio.run(all_groups())


async def database_counts(mongo_url: str) -> Counts:
    """The database server's commands since it started, by kind and by `database.collection`."""
    return Counts(await database_counters(mongo_url), {}, await collection_counters(mongo_url))


def run(
    args: argparse.Namespace, storage: str, *, plain: dict[str, list[str]] | None = None
) -> tuple[dict, dict[str, list[str]]]:
    """One platform, its broker's log in `storage`: start, settle, measure, stop; its figures, and
    with `--floor` its consumer groups' topics (read before it stops). With `plain` (group ->
    topics) only the servers start, and one plain script holds those consumers."""
    servers_only = args.servers_only or plain is not None
    with tempfile.TemporaryDirectory(prefix="docstore-bench-idle-") as folder:
        data_dir = (args.keep or Path(folder) / "data").resolve()
        settings = "the test suite's settings" if args.test_settings else "the platform's settings"
        if args.servers_only:
            settings = "the servers alone (no service)"
        if plain is not None:
            settings = f"the servers and one plain script with the platform's {len(plain)} consumer groups"
        print(
            f"starting the platform (both regions, broker log {storage}, {settings}) ...", file=sys.stderr, flush=True
        )
        started = time.monotonic()
        consumers = None
        subscriptions: dict[str, list[str]] = {}
        try:
            platform(
                data_dir,
                command="up",
                broker_storage=storage,
                env=SYSTEM_ENV if args.test_settings else None,
                servers_only=servers_only,
            )
            ready_after = time.monotonic() - started
            state = StateFile.read(data_dir) or {}
            named = named_processes(state)
            mongo_url = state["endpoints"]["mongo_url"]
            if plain is not None:
                # spawn, not fork: a fresh interpreter, as a service process is
                consumers = multiprocessing.get_context("spawn").Process(
                    target=plain_consumers, args=(state["endpoints"]["kafka_bootstrap"], plain), daemon=True
                )
                consumers.start()
                named["plain consumers"] = consumers.pid
            settled_after = settle(named, args.settle_cap)
            print(f"measuring {args.seconds:.0f} s ...", file=sys.stderr, flush=True)
            load_before = os.getloadavg()[0]
            commands_before = asyncio.run(database_counts(mongo_url))
            per, machine = measure(named, args.seconds)
            commands = asyncio.run(database_counts(mongo_url)) - commands_before
            load_after = os.getloadavg()[0]
            if consumers is not None and not consumers.is_alive():
                raise SystemExit(f"the plain consumers' process ended (exit code {consumers.exitcode})")
            if args.floor and plain is None:
                subscriptions = group_subscriptions_of(named["kafka"])
        finally:
            if consumers is not None:
                consumers.terminate()
                consumers.join()
            platform(data_dir, command="down")
    total = sum(per.values())
    # The snapshots' own commands in the window (a `top` and a `serverStatus`) are taken off.
    per_second = max(0.0, commands.database_ops - 2) / args.seconds
    by_collection = {
        name: round(count / args.seconds, 2) for name, count in commands.by_collection.items() if count > 0
    }
    print(
        f"\nidle platform, both regions, broker log {storage}, {settings}: {total:.3f} cores over {args.seconds:.0f} s"
    )
    print(
        f"(ready after {ready_after:.0f} s, settled {settled_after:.0f} s later; machine busy {machine:.2f} cores, "
        f"load average {load_before:.1f} -> {load_after:.1f})"
    )
    for label, cores in sorted(per.items(), key=lambda item: -item[1]):
        print(f"  {label:28} {cores:7.4f} cores  ({cores * 100:5.1f} % of one)")
    print(f"database commands: {per_second:.1f} a second; the busiest collections:")
    for name, rate in sorted(by_collection.items(), key=lambda item: -item[1])[:8]:
        print(f"  {name:52} {rate:6.2f} a second")
    groups = plain if plain is not None else subscriptions
    figures = {
        "bench": "idle",
        "broker_storage": storage,
        "test_settings": args.test_settings,
        "servers_only": args.servers_only,
        "plain_consumers": plain is not None,
        "database_commands_per_second": round(per_second, 2),
        "database_commands_per_second_by_collection": by_collection,
        "seconds": args.seconds,
        "cores_total": round(total, 4),
        "per_process": {label: round(cores, 4) for label, cores in sorted(per.items())},
        "machine_busy_cores": round(machine, 3),
        "load_average": [round(load_before, 1), round(load_after, 1)],
        "ready_s": round(ready_after, 1),
        "settle_s": round(settled_after, 1),
    }
    if groups:  # known only where the bench read them or held them itself
        figures["consumer_groups"] = len(groups)
        figures["partitions_subscribed"] = sum(len(topics) for topics in groups.values())
    return figures, subscriptions


def with_floor(args: argparse.Namespace, storage: str) -> list[dict]:
    """The platform, then its floor (the servers and the same consumers from a plain script)."""
    measured, subscriptions = run(args, storage)
    if not subscriptions:
        raise SystemExit("no consumer group found in the broker's log: is it durable (--broker-storage s3)?")
    floor, _ = run(args, storage, plain=subscriptions)
    floor["platform_cores_total"] = measured["cores_total"]
    floor["platform_over_floor"] = round(measured["cores_total"] / floor["cores_total"], 2)
    print(
        f"\nthe platform {measured['cores_total']:.3f} cores, its floor {floor['cores_total']:.3f} "
        f"({floor['platform_over_floor']:.2f}x; {floor['consumer_groups']} groups, "
        f"{floor['partitions_subscribed']} partitions)"
    )
    return [measured, floor]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring window (default %(default)s)")
    parser.add_argument("--settle-cap", type=float, default=120.0, help="longest settling time (default %(default)s)")
    parser.add_argument("--keep", type=Path, help="data dir to use and keep (default: a temporary one)")
    parser.add_argument(
        "--broker-storage",
        choices=["s3", "memory", "both"],
        default="s3",
        help="the broker's log: s3 (the platform's default, with its own SeaweedFS), memory, or both in turn",
    )
    parser.add_argument(
        "--test-settings",
        action="store_true",
        help="the services run with the test systems' settings (docstore_devplatform.e2e.SYSTEM_ENV)",
    )
    parser.add_argument(
        "--servers-only",
        action="store_true",
        help="the servers alone, no service: the floor of idle on these servers (what the broker's log costs unused)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="then the servers with the platform's consumers in one plain script: the idle goal's floor (s3 only)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per run as the last lines")
    args = parser.parse_args()
    if args.floor and (args.servers_only or args.broker_storage != "s3"):
        parser.error("--floor reads the consumer groups from the durable broker log: --broker-storage s3 only")
    engines = ["s3", "memory"] if args.broker_storage == "both" else [args.broker_storage]
    runs = []
    for storage in engines:
        if args.floor:
            runs += with_floor(args, storage)
        else:
            runs.append(run(args, storage)[0])
    if args.json:
        for figures in runs:
            print(json.dumps(figures))


if __name__ == "__main__":
    main()
