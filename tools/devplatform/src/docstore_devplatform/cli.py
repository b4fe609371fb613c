"""``docstore-platform up|down|status|trace``: the local platform, detached from the shell.

``up`` starts a supervisor in its own session (pid in ``<data-dir>/platform.pid``),
prints its progress and returns once every server and service is ready. ``down``
sends the supervisor SIGTERM; it stops the services, then the servers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from docstore_devplatform.launch import BROKER_STORAGES
from docstore_devplatform.paths import repo_root
from docstore_devplatform.procs import tail_file
from docstore_devplatform.servers import DEFAULT_REGION
from docstore_devplatform.services import DEFAULT_APP, DEFAULT_REGION_B, SERVICES
from docstore_devplatform.state import PID_FILE, STATE_FILE, StateFile

DOWN_TIMEOUT = 60.0


def supervisor_pid(data_dir: Path) -> int | None:
    """The running supervisor's pid, or None (removing a stale pid file)."""
    pid_file = data_dir / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if _alive(pid):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def summary(state: dict) -> str:
    """Human summary of a ready platform's state."""
    services = state.get("services", {})
    ep = state.get("endpoints", {})
    regions = state.get("regions") or {state.get("region"): {"services": services}}
    lines = [f"DocStore is up (region{'s' if len(regions) > 1 else ''} {', '.join(map(str, regions))})."]
    if "gateway" in services:
        lines += [f"  Gateway:    {services['gateway']}", f"  API docs:   {services['gateway']}/docs"]
    for region, info in regions.items():
        if region != state.get("region") and "gateway" in info.get("services", {}):
            lines += [
                f"  Gateway B:  {info['services']['gateway']}",
                f"              (region {region}: topics under {info.get('topic_prefix')!r}, "
                f"bucket {info.get('bucket')}, logs {info.get('logs')})",
            ]
    lines += [f"  {name + ':':<11} {url}" for name, url in services.items() if name != "gateway"]
    for region, info in regions.items():
        if region != state.get("region"):
            others = [
                f"{name} {url.rsplit(':', 1)[-1]}"
                for name, url in info.get("services", {}).items()
                if name != "gateway"
            ]
            lines += [f"  {region}:  {', '.join(others)}"]
    lines += [
        f"  Kafka:      {ep.get('kafka_bootstrap')}",
        f"  MongoDB:    {ep.get('mongo_url')}",
        f"  S3:         {ep.get('s3_endpoint')}  (key {ep.get('s3_access_key')} / {ep.get('s3_secret_key')})",
        f"  SES/STS:    {ep.get('aws_endpoint')}  (sent mail: {ep.get('aws_endpoint')}/moto-api/data.json)",
        f"  Typesense:  {ep.get('typesense_url')}  (key {ep.get('typesense_api_key')})",
        f"  Logs:       {state.get('logs')}/<name>.log",
        *(
            [f"  Traces:     {state['traces']}  (OTLP {state.get('otlp_endpoint')}; trees: scripts/trace [trace_id])"]
            if state.get("traces")
            else []
        ),
        *trust_hints_of(state),
        "  Status:     uv run python -m docstore_devplatform status",
        "  Stop with:  scripts/down",
    ]
    return "\n".join(lines)


def trust_hints_of(state: dict) -> list[str]:
    """The CA lines of a TLS platform's summary (none for a plain one)."""
    from docstore_devplatform.tls import LocalTLS, trust_hints

    files = state.get("tls")
    if not files:
        return []
    tls = LocalTLS(Path(files["ca_file"]), Path(files["cert_file"]), Path(files["key_file"]))
    return trust_hints(tls, state.get("services", {}).get("gateway", "https://127.0.0.1:8080"))


def cmd_up(args: argparse.Namespace) -> int:
    """Start the supervisor detached and wait until the platform is ready."""
    data_dir: Path = args.data_dir
    pid = supervisor_pid(data_dir)
    if pid is not None and args.wipe:
        print(f"stopping the running platform (pid {pid}) before wiping")
        _stop_supervisor(pid)
        pid = None
    if pid is not None:
        state = StateFile.read(data_dir) or {}
        print(f"already running (supervisor pid {pid}); `down` first to restart.")
        if state.get("state") == "ready":
            print(summary(state))
        return 0
    if args.wipe and data_dir.exists():
        print(f"wiping {data_dir}")
        shutil.rmtree(data_dir)
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    log = data_dir / "logs" / "platform.log"
    argv = [
        sys.executable, "-m", "docstore_devplatform", "supervise",
        "--data-dir", str(data_dir), "--region", args.region, "--region-b", args.region_b, "--ports", args.ports,
        "--services", ",".join(args.services), "--app", args.app, "--broker-storage", args.broker_storage,
        *(["--tls"] if args.tls else []),
    ]  # fmt: skip
    with log.open("ab") as out:
        popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)  # fmt: skip
    print(f"supervisor pid {popen.pid}; log {log}")
    try:
        return _wait_for_ready(data_dir, popen, args.timeout)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping")
        _stop_supervisor(popen.pid)
        return 130


def _wait_for_ready(data_dir: Path, popen: subprocess.Popen, timeout: float) -> int:
    shown = 0
    deadline = time.monotonic() + timeout
    while True:
        state = StateFile.read(data_dir) or {}
        progress = state.get("progress", [])
        for line in progress[shown:]:
            print(f"  {line}", flush=True)
        shown = len(progress)
        if state.get("state") == "ready":
            print(summary(state))
            return 0
        if state.get("state") == "failed" or popen.poll() is not None:
            popen.wait(DOWN_TIMEOUT)
            print(f"platform failed: {state.get('error', 'supervisor exited')}", file=sys.stderr)
            print(f"see {data_dir / 'logs'}/ (platform.log and one log per server/service)", file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            print(f"platform not ready after {timeout:.0f} s; stopping it", file=sys.stderr)
            _stop_supervisor(popen.pid)
            print(tail_file(data_dir / "logs" / "platform.log"), file=sys.stderr)
            return 1
        time.sleep(0.2)


def _stop_supervisor(pid: int, timeout: float = DOWN_TIMEOUT) -> bool:
    """SIGTERM the supervisor and wait; SIGKILL it after ``timeout``. True if it stopped gracefully."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)  # its children get SIGTERM via PR_SET_PDEATHSIG
    return False


def cmd_down(args: argparse.Namespace) -> int:
    """Stop the supervisor (and so every server and service)."""
    pid = supervisor_pid(args.data_dir)
    if pid is None:
        print("not running")
        return 0
    print(f"stopping supervisor pid {pid} (services, then servers)...", flush=True)
    graceful = _stop_supervisor(pid)
    (args.data_dir / PID_FILE).unlink(missing_ok=True)
    print("stopped" if graceful else f"supervisor did not stop in {DOWN_TIMEOUT:.0f} s; killed it")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print what runs; exit 0 when the platform is ready and every child is alive."""
    pid = supervisor_pid(args.data_dir)
    state = StateFile.read(args.data_dir) or {}
    if pid is None:
        print(f"not running (last state: {state.get('state', 'none')})")
        if state.get("error"):
            print(f"last error: {state['error']}")
        return 3
    print(f"supervisor pid {pid}: {state.get('state', 'unknown')}")
    for line in state.get("progress", []) if state.get("state") != "ready" else []:
        print(f"  {line}")
    healthy = state.get("state") == "ready"
    restarts = state.get("restarts", {})
    for group, pids in state.get("pids", {}).items():
        for name, child in pids.items():
            ok = _alive(child)
            healthy &= ok
            again = restarts.get(name if group in ("servers", "services") else f"{name}@{group[: -len('-services')]}")
            seen = f"  restarted {again}x" if again else ""
            print(f"  {group[:-1]:<7} {name:<10} pid {child:<8} {'running' if ok else 'DEAD'}{seen}")
    for name, status in state.get("exited", {}).items():
        healthy = False
        print(f"  {name:<18} exited with status {status}; waiting to be restarted")
    if restarts:
        counts = ", ".join(f"{name} {count}" for name, count in sorted(restarts.items()))
        print(f"  restarts:  {counts}  (each in {state.get('logs')}/platform.log)")
    if state.get("state") == "ready":
        print(summary(state))
    return 0 if healthy else 1


def cmd_trace(args: argparse.Namespace) -> int:
    """Print one trace as a tree, or (no id) the latest traces; exit 1 when the id has no spans."""
    from docstore_devplatform.traces import TRACES_FILE, latest_traces, read_spans, render_trace, spans_of_trace

    path: Path = args.file or args.data_dir / "logs" / TRACES_FILE
    spans = read_spans(path)
    if args.trace_id:
        found = spans_of_trace(spans, args.trace_id)
        print(render_trace(found, everything=args.all) if found else f"no spans of trace {args.trace_id} in {path}")
        return 0 if found else 1
    # One-span traces are mostly S3 notifications and idle rounds with nothing to do.
    latest = latest_traces(spans, args.count, min_spans=1 if args.all else 2)
    if not latest:
        print(f"no spans in {path} yet (is the platform up? spans leave a service within a second or so)")
    for summary in latest:
        started = time.strftime("%H:%M:%S", time.localtime(summary["start_ns"] / 1e9))
        print(
            f"{summary['trace_id']}  {started}  {summary['spans']:>3} spans  "
            f"{','.join(summary['services'])}  {summary['root']}"
        )
    return 0


def cmd_supervise(args: argparse.Namespace) -> int:
    """Run the platform in the foreground until SIGTERM/SIGINT."""
    from docstore_devplatform.platform import (  # heavy imports: only here
        PlatformConfig,
        supervise,
    )

    config = PlatformConfig(
        data_dir=args.data_dir,
        region=args.region,
        region_b=args.region_b or None,
        ports=args.ports,
        services=args.services,
        app=args.app,
        tls=args.tls,
        broker_storage=args.broker_storage,
    )
    return supervise(config)


def _services(value: str) -> list[str]:
    names = [n for n in value.split(",") if n]
    unknown = set(names) - set(SERVICES)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown services {sorted(unknown)}; known: {','.join(SERVICES)}")
    return names


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m docstore_devplatform``."""
    parser = argparse.ArgumentParser(prog="docstore-platform", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=repo_root() / ".data",
                        help="where data and logs live (default: <repo>/.data)")  # fmt: skip
    run = argparse.ArgumentParser(add_help=False)
    run.add_argument("--region", default=DEFAULT_REGION, help="region to start (default %(default)s)")
    run.add_argument("--region-b", default=DEFAULT_REGION_B,
                     help="second region, services on 8090-8095 (default %(default)s; '' for one region)")  # fmt: skip
    run.add_argument("--ports", choices=["fixed", "auto"], default="fixed",
                     help="fixed dev ports (gateway 8080, kafka 9092, ...) or free random ones")  # fmt: skip
    run.add_argument("--services", type=_services, default=list(SERVICES),
                     help="comma-separated services to start (default: all)")  # fmt: skip
    run.add_argument("--app", default=DEFAULT_APP, help="uvicorn factory per service (default %(default)s)")
    run.add_argument("--broker-storage", choices=BROKER_STORAGES, default="s3",
                     help="the broker's log: s3 (kept in its own SeaweedFS, survives restarts; default) "
                     "or memory (lost when the broker stops)")  # fmt: skip
    run.add_argument("--tls", action="store_true",
                     help="HTTPS gateways; TLS S3, MongoDB, Typesense, moto; local CA in <data-dir>/tls")  # fmt: skip

    up = commands.add_parser("up", parents=[common, run], help="start everything in the background")
    up.add_argument("--wipe", action="store_true", help="delete the data dir first")
    up.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for readiness")
    up.set_defaults(func=cmd_up)
    commands.add_parser("down", parents=[common], help="stop everything").set_defaults(func=cmd_down)
    commands.add_parser("status", parents=[common], help="show what runs").set_defaults(func=cmd_status)
    trace = commands.add_parser("trace", parents=[common], help="print a trace as a tree (no id: the latest traces)")
    trace.add_argument("trace_id", nargs="?", help="32 hex digits (from a log line's trace_id)")
    trace.add_argument("--count", type=int, default=15, help="how many latest traces to list (default %(default)s)")
    trace.add_argument(
        "--all", action="store_true", help="list one-span traces too; in a tree, the ASGI send/receive spans"
    )
    trace.add_argument("--file", type=Path, help="a traces.jsonl file (default: <data-dir>/logs/traces.jsonl)")
    trace.set_defaults(func=cmd_trace)
    commands.add_parser("supervise", parents=[common, run], help="run in the foreground (used by up)").set_defaults(
        func=cmd_supervise
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``docstore-platform`` and ``python -m docstore_devplatform``."""
    args = build_parser().parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    return args.func(args)
