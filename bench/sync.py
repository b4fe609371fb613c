"""The `docstore` sync client against raw boto3 transfers of the same bytes to the same S3, same run.

Starts the real servers and every DocStore service on free ports (as bench/upload.py does), signs
up a premium account, logs the real client in (`docstore login --password-stdin`) and runs
`docstore sync DIR --json` in a subprocess for each case, each in its own remote folder:

  1. first sync of many small files (default 1,000 x 10 KiB) against `boto3` `upload_file` of the
     same files at the same concurrency (`--parallel`, also the client's `--concurrency`);
  2. first sync of one large file (default 1 GiB) against `boto3.upload_file` of it (multipart,
     `max_concurrency=--parallel`);
  3. a re-sync with nothing changed of `--resync-files` files (default 10,000: the folder of case 1
     grown to that many; timed once `docstore status` says the server has recorded every upload,
     `settle_s`): goal under 2 s, no baseline;
  4. the large file with `--change-kib` (default 1 MiB) overwritten in the middle: bytes sent as a
     share of the file (goal <= 3 %) and the time against re-uploading it whole with boto3;
  5. a second copy of the large file in the folder: bytes sent (goal 0).

With `--two-devices` it runs instead the cases of two devices of one account (issue 34), each
its own `docstore` config and folder, `--device-files` small files (default 500 of 1 KiB) in a few
folders, synced to both first:

  6. a quiet re-sync: nothing changed on either device (both timed, after the server settled);
  7. a round of mixed edits on one device (a tenth of the files each edited, appended to,
     truncated to 0 bytes, deleted, renamed, moved to another folder, plus as many new files): the
     sync that sends it and the other device's sync that takes it, each timed, and the two folders
     then compared (same names, NFC, same bytes).

Cases 4 and 5 read the client's `--json` summary fields `uploaded_bytes`, `deduplicated_bytes` and
`delta_bytes_saved`; a field the client does not print makes that figure "not available" (the
times are still measured). Ratios are raw time / our time: 1.0 means as fast as raw boto3.
Times are wall clock of the whole command (interpreter start included, as a person sees it);
the client's own `seconds` is shown beside them. With `--json`, the last line of stdout is one
JSON object with every figure. `--quick` shrinks every size for a smoke run (about a minute of
transfers); the figures it prints say nothing about the goals.

    uv run --frozen python bench/sync.py [--quick] [--small 1000] [--small-kib 10] [--large-mib 1024]
        [--resync-files 10000] [--change-kib 1024] [--parallel 8] [--json] [--work-dir DIR]
        [--two-devices [--device-files 500]]

`--work-dir DIR` keeps the servers' data, the services' logs (`DIR/system/logs/`), the client's
config and the synced folders in DIR after the run (else a temporary folder, removed at the end).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

MIB = 1024 * 1024
BUCKET = "docstore-us-west-2"
PASSWORD = "benchmark password"
RESYNC_GOAL_S = 2.0
DELTA_GOAL_SHARE = 0.03
NOT_AVAILABLE = "not available"


@dataclass(frozen=True)
class Sizes:
    """How much each case moves."""

    small_files: int = 1000
    small_kib: int = 10
    large_mib: int = 1024
    resync_files: int = 10_000
    change_kib: int = 1024
    parallel: int = 8


QUICK = Sizes(small_files=100, small_kib=10, large_mib=64, resync_files=500, change_kib=1024, parallel=8)


def s3_config(parallel: int) -> Config:
    """Path-style SigV4, as the services use it, with a connection per thread of each transfer."""
    return Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=max(10, parallel * 4))


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class SyncClient:
    """The real `docstore` command, run as a subprocess with its own config folder."""

    def __init__(self, gateway: str, config_dir: Path) -> None:
        self.gateway = gateway
        self.env = os.environ | {"DOCSTORE_CONFIG_DIR": str(config_dir)}

    def _run(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "docstore_sync", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=3600,
        )

    def start_seconds(self) -> float:
        """Wall seconds of `docstore --help`: the interpreter and imports every command pays, so a
        reader can tell the client's work from its start-up on a loaded machine."""
        started = time.perf_counter()
        done = self._run(["--help"])
        if done.returncode != 0:
            raise RuntimeError(f"docstore --help exited {done.returncode}: {done.stderr.strip()}")
        return time.perf_counter() - started

    def login(self, username: str, password: str) -> None:
        """`docstore login`, the password on standard input (the session keeps a refresh token,
        so a run longer than an access token's life goes on)."""
        done = self._run(
            ["login", "--gateway", self.gateway, "--username", username, "--password-stdin"], stdin=password + "\n"
        )
        if done.returncode != 0:
            raise RuntimeError(f"docstore login failed ({done.returncode}): {done.stderr.strip()}")

    def sync(self, folder: Path, remote_folder: str, concurrency: int) -> tuple[float, dict[str, Any]]:
        """Wall seconds of one `docstore sync --json` and its summary. A failed file, a conflict or
        any other exit code than 0 stops the bench: its figures would mean nothing."""
        started = time.perf_counter()
        done = self._run(
            ["sync", str(folder), "--remote-folder", remote_folder, "--concurrency", str(concurrency), "--json"]
        )
        wall = time.perf_counter() - started
        lines = done.stdout.strip().splitlines()
        summary = json.loads(lines[-1]) if lines else {}
        if done.returncode != 0 or summary.get("errors"):
            raise RuntimeError(
                f"docstore sync {folder.name} exited {done.returncode}: "
                f"{summary.get('errors') or done.stderr.strip()[-2000:]}"
            )
        return wall, summary


def settle(client: SyncClient, folder: Path, remote_folder: str, timeout: float = 3600) -> float:
    """Seconds until `docstore status` plans nothing for `folder` but recording versions: the
    server (metadata, from upload.completed events) has recorded every upload. On a loaded machine
    metadata can be thousands of events behind the upload service after a sync of 9,000 files, and
    a re-sync "with nothing changed" then has documents to ask about; the re-sync is timed after this."""
    started, pause = time.perf_counter(), 0.25
    while time.perf_counter() - started < timeout:
        done = client._run(["status", str(folder), "--remote-folder", remote_folder, "--json"])
        lines = done.stdout.strip().splitlines()
        if done.returncode == 0 and lines:
            pending = json.loads(lines[-1]).get("pending")
            if isinstance(pending, dict) and set(pending) <= {"record"}:
                return time.perf_counter() - started
        # Soon at first (a small sync is a moment behind), then at most every 5 s: each check is
        # a CLI process, and a sync of thousands of files can be minutes behind.
        time.sleep(pause)
        pause = min(pause * 2, 5.0)
    raise RuntimeError(f"the server had not recorded every upload of {folder.name} after {timeout:.0f} s")


def write_small_files(folder: Path, start: int, stop: int, kib: int) -> list[Path]:
    """Files `small-<n>.txt` of random bytes (distinct, so nothing could be deduplicated)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(start, stop):
        path = folder / f"small-{n:05d}.txt"
        path.write_bytes(os.urandom(kib * 1024))
        paths.append(path)
    return paths


def write_large_file(path: Path, mib: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for _ in range(mib):
            handle.write(os.urandom(MIB))


def change_middle(path: Path, kib: int) -> None:
    """Overwrite `kib` KiB in the middle of the file with new random bytes (size unchanged)."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(max(0, size // 2 - kib * 512))
        handle.write(os.urandom(kib * 1024))


def raw_upload_files(s3: Any, paths: list[Path], parallel: int) -> float:
    """Seconds for boto3 to upload every file, `parallel` at a time."""
    prefix = f"bench/raw-sync/{uuid.uuid4()}"

    def one(path: Path) -> None:
        s3.upload_file(str(path), BUCKET, f"{prefix}/{path.name}")

    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, paths))
    return time.perf_counter() - started


def raw_upload_large(s3: Any, path: Path, parallel: int) -> float:
    """Seconds for `boto3.upload_file` (multipart, `parallel` parts at a time)."""
    started = time.perf_counter()
    s3.upload_file(str(path), BUCKET, f"bench/raw-sync/{uuid.uuid4()}", Config=TransferConfig(max_concurrency=parallel))
    return time.perf_counter() - started


def field(summary: dict[str, Any], name: str) -> int | None:
    """A byte count from the client's summary, or None when the client does not print it."""
    value = summary.get(name)
    return int(value) if isinstance(value, int | float) else None


class _Cases(dict[str, Any]):
    """The cases' figures; each one is also logged as one JSON line as soon as it is measured."""

    def __init__(self, log: Callable[[str], None]) -> None:
        super().__init__()
        self.log = log

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.log(f"measured {key}: {json.dumps(value)}")


def run_cases(
    client: SyncClient, s3: Any, work: Path, sizes: Sizes, log: Callable[[str], None] = say
) -> dict[str, Any]:
    """Every case against a logged-in `client`; `s3` is a boto3 client of the same S3 server
    (bucket `BUCKET`). Returns one dict per case."""
    p = sizes.parallel
    cases: dict[str, Any] = _Cases(log)

    # 1. First sync of many small files.
    small_dir = work / "small"
    paths = write_small_files(small_dir, 0, sizes.small_files, sizes.small_kib)
    log(f"small files: {sizes.small_files} x {sizes.small_kib} KiB, {p} at a time ...")
    raw = raw_upload_files(s3, paths, p)
    ours, summary = client.sync(small_dir, "/bench-small", p)
    if summary.get("uploaded") != sizes.small_files:
        raise RuntimeError(f"first sync uploaded {summary.get('uploaded')} of {sizes.small_files} files")
    cases["small_first"] = {
        "files": sizes.small_files,
        "kib": sizes.small_kib,
        "raw_s": round(raw, 3),
        "ours_s": round(ours, 3),
        "ours_client_s": summary.get("seconds"),
        "raw_files_per_s": round(sizes.small_files / raw, 1),
        "ours_files_per_s": round(sizes.small_files / ours, 1),
        "ratio": round(raw / ours, 3),
    }

    # 2. First sync of one large file.
    large_dir = work / "large"
    big = large_dir / "large.bin"
    write_large_file(big, sizes.large_mib)
    size = big.stat().st_size
    log(f"large file: {sizes.large_mib} MiB ...")
    raw = raw_upload_large(s3, big, p)
    ours, summary = client.sync(large_dir, "/bench-large", p)
    if summary.get("uploaded") != 1:
        raise RuntimeError(f"first sync of the large file uploaded {summary.get('uploaded')} files")
    cases["large_first"] = {
        "mib": sizes.large_mib,
        "raw_s": round(raw, 3),
        "ours_s": round(ours, 3),
        "ours_client_s": summary.get("seconds"),
        "raw_mib_per_s": round(sizes.large_mib / raw, 1),
        "ours_mib_per_s": round(sizes.large_mib / ours, 1),
        "ratio": round(raw / ours, 3),
    }

    # 3. Re-sync with nothing changed: the small folder grown to `resync_files`.
    extra = max(0, sizes.resync_files - sizes.small_files)
    log(f"re-sync: growing the small folder to {sizes.small_files + extra} files ...")
    write_small_files(small_dir, sizes.small_files, sizes.small_files + extra, 1)
    grow, summary = client.sync(small_dir, "/bench-small", p)
    if summary.get("uploaded") != extra:
        raise RuntimeError(f"growing sync uploaded {summary.get('uploaded')} of {extra} files")
    log("re-sync: waiting until the server has recorded every upload ...")
    settled = settle(client, small_dir, "/bench-small")
    ours, summary = client.sync(small_dir, "/bench-small", p)
    again, summary_again = client.sync(small_dir, "/bench-small", p)
    for done in (summary, summary_again):
        if done.get("uploaded") or done.get("downloaded") or done.get("deleted_local") or done.get("trashed_remote"):
            raise RuntimeError(f"a re-sync with nothing changed did something: {done}")
    cases["resync"] = {
        "files": sizes.small_files + extra,
        "grow_s": round(grow, 3),
        "settle_s": round(settled, 3),
        "ours_s": round(ours, 3),
        "ours_client_s": summary.get("seconds"),
        "hashed": summary.get("hashed"),
        "again_s": round(again, 3),
        "cli_start_s": round(client.start_seconds(), 3),
        "goal_s": RESYNC_GOAL_S,
        "met": ours < RESYNC_GOAL_S,
    }

    # 4. The large file with a change in the middle.
    change_middle(big, sizes.change_kib)
    log(f"delta: {sizes.change_kib} KiB changed in the middle of the large file ...")
    raw = raw_upload_large(s3, big, p)
    ours, summary = client.sync(large_dir, "/bench-large", p)
    if summary.get("uploaded") != 1:
        raise RuntimeError(f"the changed large file was not uploaded: {summary}")
    sent, saved = field(summary, "uploaded_bytes"), field(summary, "delta_bytes_saved")
    share = sent / size if sent is not None else None
    cases["delta"] = {
        "mib": sizes.large_mib,
        "changed_kib": sizes.change_kib,
        "raw_whole_s": round(raw, 3),
        "ours_s": round(ours, 3),
        "ours_client_s": summary.get("seconds"),
        "ratio": round(raw / ours, 3),
        "uploaded_bytes": sent if sent is not None else NOT_AVAILABLE,
        "delta_bytes_saved": saved if saved is not None else NOT_AVAILABLE,
        "sent_share": round(share, 5) if share is not None else NOT_AVAILABLE,
        "goal_share": DELTA_GOAL_SHARE,
        "met": (share <= DELTA_GOAL_SHARE and raw / ours > 1) if share is not None else NOT_AVAILABLE,
    }

    # 5. A second copy of the large file (its bytes as they are now, which the account stores).
    shutil.copyfile(big, large_dir / "large-copy.bin")
    log("dedupe: a second copy of the large file ...")
    ours, summary = client.sync(large_dir, "/bench-large", p)
    if summary.get("uploaded") != 1:
        raise RuntimeError(f"the copy was not uploaded: {summary}")
    sent, deduplicated = field(summary, "uploaded_bytes"), field(summary, "deduplicated_bytes")
    cases["copy"] = {
        "mib": sizes.large_mib,
        "ours_s": round(ours, 3),
        "ours_client_s": summary.get("seconds"),
        "uploaded_bytes": sent if sent is not None else NOT_AVAILABLE,
        "deduplicated_bytes": deduplicated if deduplicated is not None else NOT_AVAILABLE,
        "goal_bytes": 0,
        "met": sent == 0 if sent is not None else NOT_AVAILABLE,
    }
    return dict(cases)


def tree(root: Path) -> dict[str, str]:
    """NFC path -> sha256 of every file under `root` but the client's own folder."""
    import hashlib
    import unicodedata

    return {
        unicodedata.normalize("NFC", p.relative_to(root).as_posix()): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".docstore" not in p.relative_to(root).parts
    }


def mixed_edits(folder: Path, rng: Any, share: float = 0.1) -> dict[str, int]:
    """A round of a person's edits over `share` of the files for each kind; returns the counts."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and ".docstore" not in p.parts)
    rng.shuffle(files)
    n = max(1, int(len(files) * share))
    done = {"edit": 0, "append": 0, "truncate": 0, "delete": 0, "rename": 0, "move": 0, "new": 0}
    kinds = ["edit", "append", "truncate", "delete", "rename", "move"]
    for i, path in enumerate(files[: n * len(kinds)]):
        kind = kinds[i // n]
        if kind == "edit":
            path.write_bytes(rng.randbytes(1024))
        elif kind == "append":
            with path.open("ab") as f:
                f.write(rng.randbytes(100))
        elif kind == "truncate":
            path.write_bytes(b"")
        elif kind == "delete":
            path.unlink()
        elif kind == "rename":
            path.rename(path.with_name("renamed-" + path.name))
        else:
            target = folder / "moved" / path.name
            target.parent.mkdir(exist_ok=True)
            path.rename(target)
        done[kind] += 1
    for i in range(n):
        (folder / f"new-{i}.txt").write_bytes(rng.randbytes(1024))
        done["new"] += 1
    return done


def run_two_devices(
    one: SyncClient, two: SyncClient, work: Path, files: int, p: int, log: Callable[[str], None] = say
) -> dict[str, Any]:
    """Cases 6 and 7 (see the module's doc): two devices of one account."""
    import random

    rng = random.Random(34)
    a, b = work / "device-a", work / "device-b"
    for i in range(files):
        path = a / ["", "docs/", "docs/deep/", "other/"][i % 4] / f"f{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(1024))
    b.mkdir(parents=True, exist_ok=True)
    log(f"two devices: {files} files first synced to both ...")
    first_a, _ = one.sync(a, "/bench-devices", p)
    first_b, _ = two.sync(b, "/bench-devices", p)
    settled = settle(one, a, "/bench-devices")
    one.sync(a, "/bench-devices", p)
    two.sync(b, "/bench-devices", p)
    quiet_a, summary = one.sync(a, "/bench-devices", p)
    quiet_b, _ = two.sync(b, "/bench-devices", p)
    if summary.get("uploaded") or summary.get("downloaded"):
        raise RuntimeError(f"a quiet re-sync did something: {summary}")
    done = mixed_edits(a, rng)
    log(f"two devices: a round of mixed edits {done} ...")
    send, sent = one.sync(a, "/bench-devices", p)
    settle(one, a, "/bench-devices")
    take, taken = two.sync(b, "/bench-devices", p)
    return {
        "two_devices": {
            "files": files,
            "first_a_s": round(first_a, 3),
            "first_b_s": round(first_b, 3),
            "settle_s": round(settled, 3),
            "quiet_a_s": round(quiet_a, 3),
            "quiet_b_s": round(quiet_b, 3),
            "quiet_client_s": summary.get("seconds"),
            "edits": done,
            "send_s": round(send, 3),
            "send_client_s": sent.get("seconds"),
            "send_planned": sent.get("planned"),
            "take_s": round(take, 3),
            "take_client_s": taken.get("seconds"),
            "take_planned": taken.get("planned"),
            "equal": tree(a) == tree(b),
        }
    }


def _row(case: str, raw: float | None, ours: float, ratio: float | None, goal: str = "") -> str:
    raw_text = f"{raw:9.2f}s" if raw is not None else " " * 10
    ratio_text = f"{ratio:7.2f}" if ratio is not None else " " * 7
    return f"{case:52} {raw_text} {ours:9.2f}s {ratio_text}  {goal}".rstrip()


def report(cases: dict[str, Any], sizes: Sizes) -> None:
    """The human table on stdout."""
    s, b, r, d, c = (cases[k] for k in ("small_first", "large_first", "resync", "delta", "copy"))
    print(f"\n{'case':52} {'raw boto3':>10} {'docstore':>10} {'ratio':>7}  goal")
    small = f"first sync, {s['files']} x {s['kib']} KiB ({sizes.parallel} at a time)"
    print(_row(small, s["raw_s"], s["ours_s"], s["ratio"], "(ratio raw/ours)"))
    print(_row(f"first sync, one {b['mib']} MiB file", b["raw_s"], b["ours_s"], b["ratio"]))
    verdict = "met" if r["met"] else "missed"
    resync = f"re-sync, nothing changed, {r['files']} files"
    print(
        _row(
            resync,
            None,
            r["ours_s"],
            None,
            f"< {RESYNC_GOAL_S:g} s: {verdict} (again {r['again_s']:.2f} s; client's own {r['ours_client_s']} s, "
            f"start-up {r['cli_start_s']:.2f} s)",
        )
    )
    share = d["sent_share"]
    sent = NOT_AVAILABLE if share == NOT_AVAILABLE else f"{share * 100:.2f} % sent"
    delta = f"{d['changed_kib']} KiB changed in a {d['mib']} MiB file (raw: whole)"
    print(_row(delta, d["raw_whole_s"], d["ours_s"], d["ratio"], f"<= 3 % and faster: {sent}"))
    copy = c["uploaded_bytes"]
    copy_text = copy if copy == NOT_AVAILABLE else f"{copy} bytes sent"
    print(_row(f"a second copy of the {c['mib']} MiB file", None, c["ours_s"], None, f"0 bytes: {copy_text}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run (figures are not final)")
    parser.add_argument(
        "--small", type=int, help=f"small files (default {Sizes.small_files}, quick {QUICK.small_files})"
    )
    parser.add_argument("--small-kib", type=int)
    parser.add_argument("--large-mib", type=int, help=f"default {Sizes.large_mib}, quick {QUICK.large_mib}")
    parser.add_argument("--resync-files", type=int, help=f"default {Sizes.resync_files}, quick {QUICK.resync_files}")
    parser.add_argument("--change-kib", type=int)
    parser.add_argument("--parallel", type=int, help="boto3 threads and the client's --concurrency (default 8)")
    parser.add_argument("--json", action="store_true", help="end with one JSON object of every figure")
    parser.add_argument("--two-devices", action="store_true", help="only cases 6 and 7: two devices of one account")
    parser.add_argument("--device-files", type=int, default=500, help="files of the two-device cases (default 500)")
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="keep servers, services' logs (system/logs/) and folders here instead of a temporary folder",
    )
    args = parser.parse_args()
    base = QUICK if args.quick else Sizes()
    given = {
        "small_files": args.small,
        "small_kib": args.small_kib,
        "large_mib": args.large_mib,
        "resync_files": args.resync_files,
        "change_kib": args.change_kib,
        "parallel": args.parallel,
    }
    sizes = Sizes(**(asdict(base) | {k: v for k, v in given.items() if v is not None}))

    from docstore_devplatform.servers import Servers
    from docstore_devplatform.services import ServiceProcesses
    from docstore_events import all_topics

    with contextlib.ExitStack() as stack:
        if args.work_dir is not None:
            args.work_dir.mkdir(parents=True, exist_ok=True)
            root = args.work_dir
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="docstore-bench-sync-")))
        say("starting servers and services ...")
        servers = Servers(root / "servers", ports="auto", topics=all_topics(), buckets=[BUCKET])
        endpoints = servers.start()
        system = ServiceProcesses(endpoints, root / "system", ports="auto")
        try:
            urls = system.start()
            s3 = boto3.client(
                "s3",
                endpoint_url=endpoints.s3_endpoint,
                aws_access_key_id=endpoints.s3_access_key,
                aws_secret_access_key=endpoints.s3_secret_key,
                region_name="us-west-2",
                config=s3_config(sizes.parallel),
            )
            username = sign_up(urls["gateway"])
            client = SyncClient(urls["gateway"], root / "config")
            client.login(username, PASSWORD)
            if args.two_devices:
                other = SyncClient(urls["gateway"], root / "config-b")
                other.login(username, PASSWORD)
                cases = run_two_devices(client, other, root / "work", args.device_files, sizes.parallel)
                print(json.dumps({"bench": "sync", "two_devices": True, "cases": cases}))
                return
            cases = run_cases(client, s3, root / "work", sizes)
        finally:
            system.stop()
            servers.stop()
    report(cases, sizes)
    if args.quick:
        print("\n(--quick: sizes for a smoke run; these figures do not judge the goals)")
    if args.json:
        print(json.dumps({"bench": "sync", "quick": args.quick, "sizes": asdict(sizes), "cases": cases}))


def sign_up(gateway: str) -> str:
    """A premium account (20 GB: every case fits); returns its username."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        gateway + "/v1/accounts",
        json={"username": name, "email": f"{name}@example.com", "password": PASSWORD, "plan": "premium"},
        timeout=60,
    )
    created.raise_for_status()
    return name


if __name__ == "__main__":
    main()
