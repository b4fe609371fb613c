"""`docstore`: log in, sync a folder once, or keep it in step (`watch`).

Exit codes: 0 everything synced, 1 some file failed (each said in one line), 2 conflicts were
kept as conflict copies, 3 not logged in or the server cannot be reached at all, 4 another
`sync` or `watch` of this folder is running (nothing was done: one sync per folder at a time).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from docstore_sync.adapters.gateway import ApiError, Gateway, NetworkError, Session, log_in
from docstore_sync.adapters.state import State
from docstore_sync.domain.ignore import STATE_DIR
from docstore_sync.engine import Report, Syncer

NOT_LOGGED_IN = 3
BUSY = 4
LOCK_FILE = "sync.lock"
DEFAULT_GATEWAY = "http://127.0.0.1:8080"

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def folder_lock(root: Path) -> FileLock:
    """The folder's lock (`LOCAL_DIR/.docstore/sync.lock`, an OS file lock through `filelock`):
    held by `sync` and `watch` for as long as they run, so two runs never work on one folder's
    state at once (two did: every new file became two documents). The OS drops it when the
    process ends, killed or not."""
    folder = root / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(folder / LOCK_FILE, timeout=0)


def busy(root: Path) -> int:
    err.print(f"[red]{root}: another `docstore sync` or `watch` of this folder is running;[/] nothing was done")
    return BUSY


def config_dir() -> Path:
    """Where the session lives: $DOCSTORE_CONFIG_DIR, else $XDG_CONFIG_HOME/docstore, else ~/.config/docstore."""
    if explicit := os.environ.get("DOCSTORE_CONFIG_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "docstore"


def session_file() -> Path:
    return config_dir() / "session.json"


def load_session() -> Session | None:
    try:
        data = json.loads(session_file().read_text())
    except (FileNotFoundError, ValueError):
        return None
    return Session(
        gateway=data["gateway"],
        token=data["token"],
        account_id=data["account_id"],
        refresh_token=data.get("refresh_token"),
    )


def save_session(session: Session, username: str) -> None:
    """The tokens only (never the password), readable by its owner alone."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = session_file()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(
            {
                "gateway": session.gateway,
                "token": session.token,
                "account_id": session.account_id,
                "refresh_token": session.refresh_token,
                "username": username,
            },
            f,
        )


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:/s)?\s*$", re.IGNORECASE)


def parse_rate(text: str) -> float:
    """`500K`, `2M`, `1.5MB/s`, `1000000` -> bytes per second (decimal units)."""
    match = _RATE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a rate such as 500K, 2M or 1.5MB/s")
    scale = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[match.group(2).lower()]
    return float(match.group(1)) * scale


def human(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


# --- commands ------------------------------------------------------------------------------
def cmd_login(args: argparse.Namespace) -> int:
    username = args.username or input("Username: ")
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    try:
        session = log_in(args.gateway, username, password, code_prompt=lambda: input("Code: "))
    except (ApiError, NetworkError) as error:
        err.print(f"[red]login failed:[/] {error}")
        return NOT_LOGGED_IN
    save_session(session, username)
    out.print(f"Logged in as {username} at {session.gateway}")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    session = load_session()
    if session is None:
        out.print("Not logged in")
        return 0
    gateway = Gateway(session)
    try:
        gateway.log_out()
    except (ApiError, NetworkError) as error:
        err.print(f"[yellow]the server was not told:[/] {error}")
    finally:
        gateway.close()
    session_file().unlink(missing_ok=True)
    out.print("Logged out")
    return 0


def _gateway(args: argparse.Namespace) -> Gateway | None:
    session = load_session()
    if session is None:
        err.print("Not logged in: run `docstore login` first")
        return None
    username = _saved_username()
    return Gateway(
        session,
        max_rate=getattr(args, "max_rate", None),
        concurrency=getattr(args, "concurrency", 4),
        on_refresh=lambda refreshed: save_session(refreshed, username),  # the spent refresh token is dead now
    )


def _saved_username() -> str:
    try:
        return str(json.loads(session_file().read_text()).get("username", ""))
    except (FileNotFoundError, ValueError):
        return ""


def cmd_status(args: argparse.Namespace) -> int:
    gateway = _gateway(args)
    if gateway is None:
        return NOT_LOGGED_IN
    try:
        account, usage = gateway.account(), gateway.usage()
    except (ApiError, NetworkError) as error:
        err.print(f"[red]status:[/] {error}")
        return NOT_LOGGED_IN
    finally:
        gateway.close()
    info: dict[str, Any] = {
        "gateway": gateway.session.gateway,
        "username": account.get("username"),
        "plan": account.get("plan"),
        "home_region": account.get("home_region"),
        "usage": usage,
    }
    if args.local_dir and (Path(args.local_dir) / STATE_DIR / "state.db").exists():
        from docstore_sync.adapters.scan import load_rules, scan

        root = Path(args.local_dir)
        empty = scan(root, load_rules(root), {}, None, hash_files=False).empty_folders
        info["empty_folders"] = (
            f"{len(empty)} not synced (folders with no file do not sync yet): " + ", ".join(empty[:5]) if empty else 0
        )
        state = State(Path(args.local_dir))
        last = state.get("last_sync")
        info["last_sync"] = json.loads(last) if last else None
        info["uploads_under_way"] = state.uploads_under_way()
        state.close()
        lock = folder_lock(root)
        try:
            lock.acquire()
        except Timeout:
            info["pending"] = "unknown: a sync of this folder is running"
        else:
            syncer = Syncer(root, Gateway(gateway.session), remote_folder=args.remote_folder)
            try:
                plan, _ = syncer.plan()
                info["pending"] = plan.counts()
            except (ApiError, NetworkError) as error:
                info["pending"] = f"unknown: {error}"
            finally:
                syncer.gateway.close()
                syncer.close()
                lock.release()
    if args.json:
        print(json.dumps(info, default=str))
        return 0
    table = Table(show_header=False, box=None)
    for key, value in info.items():
        if key == "usage" and isinstance(value, dict):
            used = value.get("used_bytes", 0)
            cap = value.get("cap_bytes")
            value = f"{human(used)} of {human(cap)}" if cap else human(used)
        table.add_row(key.replace("_", " "), str(value))
    out.print(table)
    return 0


def _progress_hooks(progress: Progress | None) -> Callable[[str, str, int], Callable[[int], None] | None] | None:
    if progress is None:
        return None
    overall = progress.add_task("[bold]overall", total=None)
    lock = threading.Lock()
    planned = [0]

    def hook(path: str, kind: str, size: int) -> Callable[[int], None]:
        arrow = "↑" if kind == "upload" else "↓"
        task = progress.add_task(f"{arrow} {path[-40:]}", total=size or None)
        sent = [0]
        if size:  # the overall total grows as files start (download sizes are known only then)
            with lock:
                planned[0] += size
                progress.update(overall, total=planned[0])

        def advance(n: int) -> None:
            progress.advance(task, n)
            progress.advance(overall, n)
            with lock:
                sent[0] += n
                if size and sent[0] >= size:
                    progress.update(task, visible=False)  # finished files leave room for the next ones

        return advance

    return hook


def _print_report(report: Report, as_json: bool) -> None:
    summary = report.summary()
    if as_json:
        print(json.dumps(summary))
        return
    for line in summary["warnings"]:
        err.print(f"[yellow]warning:[/] {line}")
    for line in summary["errors"]:
        err.print(f"[red]error:[/] {line}")
    if report.dry_run:
        out.print("[bold]Dry run[/]: nothing was changed. Would do:")
        for outcome in report.outcomes:
            out.print(f"  {outcome.kind:15} {outcome.path}")
        return
    table = Table(title="Sync summary", show_header=False)
    table.add_row(
        "uploaded",
        f"{summary['uploaded']} files, {human(summary['bytes_up'])} ({human(summary['uploaded_bytes'])} sent)",
    )
    table.add_row("downloaded", f"{summary['downloaded']} files, {human(summary['bytes_down'])}")
    table.add_row("deleted here / trashed there", f"{summary['deleted_local']} / {summary['trashed_remote']}")
    table.add_row("moved / renamed aside", f"{summary['moved']} / {summary['renamed_aside']}")
    table.add_row(
        "dedupe / delta saved", f"{human(summary['deduplicated_bytes'])} / {human(summary['delta_bytes_saved'])}"
    )
    table.add_row("conflicts", str(summary["conflicts"]) + "".join(f"\n  {c}" for c in summary["conflict_copies"]))
    table.add_row("errors", str(len(summary["errors"])))
    table.add_row("time", f"{summary['seconds']:.1f} s")
    out.print(table)


def sync_once(args: argparse.Namespace, gateway: Gateway, *, show_progress: bool) -> Report:
    root = Path(args.local_dir)
    progress = None
    if show_progress:
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
    syncer = Syncer(root, gateway, remote_folder=args.remote_folder, hooks=_progress_hooks(progress))
    try:
        if progress is not None:
            with progress:
                return syncer.run(dry_run=args.dry_run, concurrency=args.concurrency)
        return syncer.run(dry_run=args.dry_run, concurrency=args.concurrency)
    finally:
        syncer.close()


def cmd_sync(args: argparse.Namespace) -> int:
    root = Path(args.local_dir)
    if not root.is_dir():
        err.print(f"{root}: not a folder")
        return 1
    lock = folder_lock(root)
    try:
        lock.acquire()
    except Timeout:
        return busy(root)
    gateway = _gateway(args)
    if gateway is None:
        lock.release()
        return NOT_LOGGED_IN
    try:
        report = sync_once(args, gateway, show_progress=not args.json and err.is_terminal)
    except (ApiError, NetworkError) as error:
        err.print(f"[red]sync stopped:[/] {error} (nothing local was deleted)")
        return NOT_LOGGED_IN if isinstance(error, ApiError) and error.status == 401 else 1
    finally:
        gateway.close()
        lock.release()
    _print_report(report, args.json)
    return report.exit_code


def cmd_watch(args: argparse.Namespace) -> int:
    """Sync, then again whenever the folder changes (debounced) or the change feed has news."""
    import watchfiles

    root = Path(args.local_dir).resolve()
    lock = folder_lock(root)
    try:
        lock.acquire()  # held until watch ends
    except Timeout:
        return busy(root)
    gateway = _gateway(args)
    if gateway is None:
        lock.release()
        return NOT_LOGGED_IN
    stop = threading.Event()
    wake = threading.Event()

    def local_events() -> None:
        def relevant(_change: object, path: str) -> bool:
            return f"/{STATE_DIR}/" not in path and not path.endswith(".docstore-part")

        for _ in watchfiles.watch(
            root, watch_filter=relevant, debounce=args.debounce, stop_event=stop, yield_on_timeout=False
        ):
            wake.set()

    def remote_events() -> None:
        poller = Gateway(gateway.session)
        cursor = State(root).get("cursor")
        while not stop.is_set():
            try:
                items, cursor = poller.changes(cursor, wait=25)
            except (ApiError, NetworkError):
                stop.wait(5)
                continue
            if items:
                wake.set()
        poller.close()

    threads = [threading.Thread(target=f, daemon=True) for f in (local_events, remote_events)]
    code = 0
    handlers_before = _stop_on_interrupt_or_terminate()
    try:
        wake.set()
        started = False
        while not stop.is_set():
            if not wake.wait(timeout=1.0):
                continue
            wake.clear()
            try:
                report = sync_once(args, gateway, show_progress=False)
                code = max(code, report.exit_code)
                _print_report(report, args.json)
            except (ApiError, NetworkError) as error:
                err.print(f"[red]sync failed, retrying on the next change:[/] {error}")
            if not started:
                for thread in threads:
                    thread.start()
                started = True
            sys.stdout.flush()
    except KeyboardInterrupt:
        err.print("Stopped")
    finally:
        stop.set()
        gateway.close()
        lock.release()
        for number, handler in handlers_before.items():
            if handler is not None:  # None: set outside Python, nothing to put back
                signal.signal(number, handler)
    return 0 if code != 1 else 1


def _stop_on_interrupt_or_terminate() -> dict[int, Any]:
    """Make Ctrl-C (SIGINT) and SIGTERM stop `watch` cleanly, whatever was inherited: a process
    started in the background by a shell or a supervisor inherits SIGINT *ignored*, and Python
    then never raises KeyboardInterrupt (`docstore watch &` would not stop on `kill -INT`)."""
    if threading.current_thread() is not threading.main_thread():
        return {}  # signal handlers can only be set from the main thread
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for number in before:
        signal.signal(number, signal.default_int_handler)
    return before  # the handlers to put back


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docstore", description="Keep a folder and a DocStore account in step.")
    commands = parser.add_subparsers(dest="command", required=True)

    login = commands.add_parser("login", help="log in and save the session (never the password)")
    login.add_argument("--gateway", default=os.environ.get("DOCSTORE_GATEWAY", DEFAULT_GATEWAY))
    login.add_argument("--username")
    login.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    login.set_defaults(run=cmd_login)

    logout = commands.add_parser("logout", help="end the session")
    logout.set_defaults(run=cmd_logout)

    status = commands.add_parser("status", help="account, usage, last sync and pending changes")
    status.add_argument("local_dir", nargs="?")
    status.add_argument("--remote-folder", default="/")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=cmd_status)

    for name, run, text in (
        ("sync", cmd_sync, "two-way sync of LOCAL_DIR, once"),
        ("watch", cmd_watch, "keep LOCAL_DIR in step until Ctrl-C"),
    ):
        cmd = commands.add_parser(name, help=text)
        cmd.add_argument("local_dir", metavar="LOCAL_DIR")
        cmd.add_argument("--remote-folder", default="/", help="the account's folder to keep in step (default /)")
        cmd.add_argument("--concurrency", type=int, default=4, help="files and parts sent side by side")
        cmd.add_argument("--max-rate", type=parse_rate, default=None, help="bandwidth limit, e.g. 2M (bytes/s)")
        cmd.add_argument("--json", action="store_true", help="print the summary as JSON")
        cmd.add_argument("--dry-run", action="store_true", help="show what would happen; change nothing")
        if name == "watch":
            cmd.add_argument("--debounce", type=int, default=500, help="milliseconds of quiet before a sync")
        cmd.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
