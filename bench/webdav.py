"""WebDAV (issue 38) against raw S3 and rclone straight to S3, the baselines from the same run.

Starts the real servers and every DocStore service on free ports (a temporary folder), signs up a
premium account and makes it an app password (scope `webdav-sync`); every WebDAV request goes
through the gateway at `/remote.php/dav/files/{username}/` with HTTP Basic (username, app
password), as a client's would. Then, one at a time:

  large   one file of `--large-mib` (1 GiB) of random bytes. PUT through WebDAV (one streamed
          request with its Content-Length, as a client sends it) against `boto3.upload_file` of the
          same file to the same SeaweedFS (its default: 8 MiB parts, 10 threads) and, as a second
          baseline, `upload_file` on one thread (one stream, as WebDAV is); then GET through WebDAV
          (streamed to a file, its sha256 checked) against `boto3.download_file` (default, and one
          thread). While each WebDAV transfer runs, the gateway's and the webdav service's RSS is
          read every 20 ms (/proc): before, peak, and CPU seconds. Memory flat means the peak does
          not grow with the body, so the same PUT and GET are first made with a body a quarter the
          size and both peaks printed. With curl installed, the same PUT and streamed GET are made
          once more with it (a C client, as most WebDAV clients are compiled): the bench's httpx
          client spends about as much CPU per byte as the gateway does.
  rclone  `--small` files of `--small-kib` (10 KiB, random) with Debian's rclone, `rclone copy` of
          one local folder (`--transfers`, default 8, and as many checkers), through the webdav
          backend (`vendor=owncloud`: it sends X-OC-Mtime and OC-Checksum, and asks PROPFIND for
          checksums) against rclone's s3 backend straight to the same SeaweedFS (provider Other,
          path style). Both remotes come from the environment (RCLONE_CONFIG_<NAME>_...); the files
          on each side are counted afterwards.
  propfind  PROPFIND Depth 1 (the body rclone sends: displayname, getlastmodified,
          getcontentlength, resourcetype, getcontenttype, oc:checksums, oc:permissions) on a folder
          of `--folder-docs` (10,000) documents and on one of `--few-docs` (100), `--repeats` times
          each, one at a time, p50 / p99; against the same listing through DocStore's JSON API (GET
          /v1/documents?path=... by pages of 200, every page, through the gateway: the calls the
          webdav service itself makes to metadata). The documents are made quickly and without
          bytes: 40 small files are uploaded, then the batch route (`POST /v1/uploads/batch`, 50 a
          request, one at a time) is asked for documents with the sha256 of one of them (a batch
          each), which upload's dedupe makes server-side (each a new document over the bytes the account
          already stores; any not deduplicated is sent as its presigned PUT and completed).
  copy    then COPY (Depth infinity) of the folder of `--few-docs` documents to a new folder, one
          request, until answered; against the same documents copied one COPY request each, one
          after another, to another new folder (as a client copying file by file does).

Prints each figure with its baseline and the ratio (for transfers raw seconds / WebDAV seconds: 1.0
means as fast as raw S3); with `--json`, the last line of stdout is one JSON object of every figure.

  rounds  with `--large-rounds N`, the large file's PUT (curl) and GET (curl streamed, and
          redirected) N more times, each beside its raw baseline in alternating order (A B B A):
          the median ratio and each round's, since one pair on this shared machine spreads widely.
    uv run --frozen python bench/webdav.py [--large-mib 1024] [--large-rounds 4] [--small 1000] [--folder-docs 10000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import boto3
import httpx
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from counts import settled, snapshot, stop_tails
from figures import cpu_of, cpu_seconds, percentile

from docstore_devplatform.servers import Servers
from docstore_devplatform.services import ServiceProcesses
from docstore_events import all_topics

MIB = 1024 * 1024
BUCKET = "docstore-us-west-2"
PASSWORD = "benchmark password"
WATCHED = ("gateway", "webdav")
PAGE = 200
PROPFIND_BODY = b"""<?xml version="1.0"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
 <d:prop>
  <d:displayname />
  <d:getlastmodified />
  <d:getcontentlength />
  <d:resourcetype />
  <d:getcontenttype />
  <oc:checksums />
  <oc:permissions />
 </d:prop>
</d:propfind>
"""


def say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


# --- memory and CPU of the gateway and the webdav service -------------------------------------


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Watch:
    """Reads each process's RSS every `every` seconds while a transfer runs: before, peak, after,
    and the CPU seconds it used meanwhile."""

    def __init__(self, pids: dict[str, int], every: float = 0.02) -> None:
        self.pids = pids
        self.every = every
        self.before = {name: _rss_mib(pid) for name, pid in pids.items()}
        self.peak = dict(self.before)
        self.cpu = cpu_of(pids)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], _rss_mib(pid))

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for name, pid in self.pids.items():
            self.peak[name] = max(self.peak[name], _rss_mib(pid))
            self.cpu[name] = cpu_seconds(pid) - self.cpu[name]

    def figures(self, prefix: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for name in self.pids:
            out[f"{prefix}_{name}_rss_before_mib"] = round(self.before[name], 1)
            out[f"{prefix}_{name}_rss_peak_mib"] = round(self.peak[name], 1)
            out[f"{prefix}_{name}_rss_growth_mib"] = round(self.peak[name] - self.before[name], 1)
            out[f"{prefix}_{name}_cpu_s"] = round(self.cpu[name], 2)
        return out

    def line(self) -> str:
        return ", ".join(
            f"{name} RSS {self.before[name]:.0f} -> peak {self.peak[name]:.0f} MiB "
            f"(+{self.peak[name] - self.before[name]:.0f}), CPU {self.cpu[name]:.1f} s"
            for name in self.pids
        )


class MachineCpu:
    """CPU seconds every process of the system (servers, services, this bench's client) used
    while a transfer ran: what the transfer cost the whole machine, by process."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.used: dict[str, float] = {}

    def __enter__(self) -> MachineCpu:
        self._start = cpu_of(self.pids)
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = {name: seconds - self._start[name] for name, seconds in cpu_of(self.pids).items()}

    @property
    def total(self) -> float:
        return sum(self.used.values())

    def line(self) -> str:
        top = sorted(self.used.items(), key=lambda kv: -kv[1])[:5]
        return f"{self.total:.1f} s (" + ", ".join(f"{name} {seconds:.1f}" for name, seconds in top) + ")"


# --- the account --------------------------------------------------------------------------------


class Login(dict[str, str]):
    """The bearer header of a session, signed in again when its token is older than `renew_s`
    (`fresh`) or was refused (`renew`): a session's token expires, and making 10,000 documents
    takes longer than that."""

    def __init__(self, api: httpx.Client, name: str, renew_s: float = 300) -> None:
        super().__init__()
        self.api, self.name, self.renew_s = api, name, renew_s
        self.renew()

    def renew(self) -> None:
        signed = self.api.post("/v1/sessions", json={"username": self.name, "password": PASSWORD})
        signed.raise_for_status()
        self["Authorization"] = f"Bearer {signed.json()['token']}"
        self.at = time.monotonic()

    def fresh(self) -> None:
        if time.monotonic() - self.at > self.renew_s:
            self.renew()


def account(api: httpx.Client) -> tuple[str, dict[str, str], str]:
    """A premium account: its username, bearer header and an app password (scope webdav-sync)."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    created = api.post(
        "/v1/accounts", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD, "plan": "premium"}
    )
    created.raise_for_status()
    auth = Login(api, name)
    made = api.post("/v1/account/app-passwords", json={"name": "bench", "scope": "webdav-sync"}, headers=auth)
    made.raise_for_status()
    return name, auth, str(made.json()["password"])


# --- large files ---------------------------------------------------------------------------------


def _chunks(path: Path, size: int = MIB) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def dav_put(
    dav: httpx.Client, url: str, path: Path, *, chunked: bool = False, phases: dict[str, float] | None = None
) -> float:
    """One streamed PUT: with its Content-Length, or (`chunked`) without any declared size; the
    service's `Server-Timing` phases (ms) go into `phases` when given."""
    started = time.perf_counter()
    headers = {} if chunked else {"Content-Length": str(path.stat().st_size)}
    answer = dav.put(url, content=_chunks(path), headers=headers)
    took = time.perf_counter() - started
    if answer.status_code not in (201, 204):
        raise RuntimeError(f"PUT {url}: {answer.status_code} {answer.text[:300]}")
    if phases is not None:
        phases |= server_timing(answer.headers.get("server-timing", ""))
    return took


def dav_get(dav: httpx.Client, url: str, into: Path, *, redirect: bool = False) -> tuple[float, str]:
    """One GET streamed to a file: through WebDAV, or (`redirect`) asking for the redirect to the
    signed S3 URL and following it (httpx drops the Authorization header on the way to S3)."""
    digest = hashlib.sha256()
    started = time.perf_counter()
    headers = {"X-DocStore-Redirect": "follow" if redirect else "stream"}
    with dav.stream("GET", url, headers=headers, follow_redirects=redirect) as answer, into.open("wb") as out:
        if answer.status_code != 200:
            raise RuntimeError(f"GET {url}: {answer.status_code} {answer.read()[:300]!r}")
        if redirect != bool(answer.history):
            raise RuntimeError(f"GET {url}: redirected {[r.status_code for r in answer.history]}, asked {redirect}")
        for chunk in answer.iter_raw(MIB):
            out.write(chunk)
    took = time.perf_counter() - started
    for chunk in _chunks(into, 8 * MIB):  # outside the timing
        digest.update(chunk)
    return took, digest.hexdigest()


def _curl(args: list[str], config: str) -> str:
    """curl with `args` and its standard output; `config` (credentials, a signed URL) goes on its
    standard input (`-K -`), never on its command line, where any process could read it."""
    return subprocess.run(
        ["curl", "-sS", "--fail-with-body", "-K", "-", *args], input=config, text=True, check=True, capture_output=True
    ).stdout


def _user(login: tuple[str, str]) -> str:
    return f'user = "{login[0]}:{login[1]}"\n'


def curl(args: list[str], login: tuple[str, str]) -> float:
    """One transfer with curl (a C client, as rclone's and the file managers' are in Go and C), timed
    with its process."""
    started = time.perf_counter()
    _curl(args, _user(login))
    return time.perf_counter() - started


def curl_redirected(target: str, login: tuple[str, str], into: Path) -> float:
    """A GET asking for the redirect (`X-DocStore-Redirect: follow`), then the signed S3 URL it
    names fetched with a second curl that holds no credentials (as rclone drops `Authorization`
    on the way to another host); the time of both."""
    started = time.perf_counter()
    location = _curl(
        ["-o", "/dev/null", "-w", "%{redirect_url}", "-H", "X-DocStore-Redirect: follow", target], _user(login)
    )
    if not location.startswith("http"):
        raise RuntimeError(f"GET {target} asking for a redirect: no Location ({location[:200]!r})")
    _curl(["-o", str(into)], f'url = "{location}"\n')
    return time.perf_counter() - started


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    for chunk in _chunks(path, 8 * MIB):
        digest.update(chunk)
    return digest.hexdigest()


def recorded(dav: httpx.Client, url: str) -> None:
    """Waits until the document at `url` is recorded: a GET of its first byte waits for metadata's
    record of the last PUT (a large PUT answers before that record, and before upload's read-back
    of the object where S3's part checksums did not vouch for webdav's sha256; the webdav README,
    pending writes). So the next transfer does not share the machine with the last one's work."""
    answer = dav.get(url, headers={"Range": "bytes=0-0", "X-DocStore-Redirect": "stream"})
    if answer.status_code not in (200, 206):
        raise RuntimeError(f"GET {url} after its PUT: {answer.status_code} {answer.text[:300]}")


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def large(
    s3: Any,
    dav: httpx.Client,
    base: str,
    pids: dict[str, int],
    root: Path,
    big: Path,
    quarter: Path,
    login: tuple[str, str],
    everyone: dict[str, int],
) -> dict[str, float]:
    figures: dict[str, float] = {}
    key = f"bench/raw-large/{uuid.uuid4()}"
    one_stream = TransferConfig(use_threads=False)
    with MachineCpu(everyone) as raw_put_cpu:
        raw_put = timed(lambda: s3.upload_file(str(big), BUCKET, key))
    raw_put_one = timed(lambda: s3.upload_file(str(big), BUCKET, key + "-one", Config=one_stream))
    say(f"  raw PUT {raw_put:.2f} s, on one thread {raw_put_one:.2f} s")

    with Watch(pids) as w_quarter_put:
        dav_put(dav, f"{base}quarter.bin", quarter)
    recorded(dav, f"{base}quarter.bin")
    with MachineCpu(everyone) as put_cpu, Watch(pids) as w_put:
        started = time.perf_counter()
        ours_put = dav_put(dav, f"{base}large.bin", big, phases=(put_phases_ms := {}))
        recorded(dav, f"{base}large.bin")
        ours_put_recorded = time.perf_counter() - started
    say(f"  WebDAV PUT {ours_put:.2f} s, recorded (a GET answers) at {ours_put_recorded:.2f} s; {w_put.line()}")
    say("    its phases (Server-Timing, ms): " + ", ".join(f"{k} {v:,.0f}" for k, v in put_phases_ms.items()))
    say(f"    the machine's CPU: raw PUT {raw_put_cpu.line()}; WebDAV PUT {put_cpu.line()}")
    say(f"    (a quarter the size: {w_quarter_put.line()})")

    with MachineCpu(everyone) as raw_get_cpu:
        raw_get = timed(lambda: s3.download_file(BUCKET, key, str(root / "raw-get.bin")))
    (root / "raw-get.bin").unlink()
    raw_get_one = timed(lambda: s3.download_file(BUCKET, key, str(root / "raw-get.bin"), Config=one_stream))
    (root / "raw-get.bin").unlink()
    say(f"  raw GET {raw_get:.2f} s, on one thread {raw_get_one:.2f} s")

    with Watch(pids) as w_quarter_get:
        dav_get(dav, f"{base}quarter.bin", root / "got-quarter.bin")
    (root / "got-quarter.bin").unlink()
    with MachineCpu(everyone) as get_cpu, Watch(pids) as w_get:
        ours_get, got_sha = dav_get(dav, f"{base}large.bin", root / "got.bin")
    say(f"    the machine's CPU: raw GET {raw_get_cpu.line()}; WebDAV GET {get_cpu.line()}")
    (root / "got.bin").unlink()
    if got_sha != sha256_of(big):
        raise RuntimeError("the WebDAV GET did not give back the bytes PUT")
    say(f"  WebDAV GET {ours_get:.2f} s (sha256 equal); {w_get.line()}")
    say(f"    (a quarter the size: {w_quarter_get.line()})")
    with Watch(pids) as w_redirect:
        ours_redirect, got_sha = dav_get(dav, f"{base}large.bin", root / "got.bin", redirect=True)
    (root / "got.bin").unlink()
    if got_sha != sha256_of(big):
        raise RuntimeError("the redirected GET did not give back the bytes PUT")
    say(f"  WebDAV GET, redirected to S3: {ours_redirect:.2f} s (sha256 equal); {w_redirect.line()}")
    with Watch(pids) as w_chunked:
        ours_chunked = dav_put(dav, f"{base}chunked.bin", quarter, chunked=True)
    recorded(dav, f"{base}chunked.bin")
    say(f"  WebDAV PUT of the quarter without a length (chunked): {ours_chunked:.2f} s; {w_chunked.line()}")
    if shutil.which("curl"):
        # The same PUT and streamed GET with curl: what the ratio then measures is DocStore's path,
        # not the Python client's own CPU (httpx reads and writes every 64 KiB through h11).
        target = f"{dav.base_url}{base}large-curl.bin"
        with Watch(pids) as w_curl_put:
            curl_put = curl(["-H", "Expect:", "-T", str(big), target], login)
        recorded(dav, f"{base}large-curl.bin")
        # The GET reads the file the httpx PUT wrote (settled long since): a GET right after a PUT
        # first waits for metadata's record of it (the webdav README, pending writes).
        settled = f"{dav.base_url}{base}large.bin"
        curl_get = curl(["-H", "X-DocStore-Redirect: stream", "-o", str(root / "got.bin"), settled], login)
        if sha256_of(root / "got.bin") != sha256_of(big):
            raise RuntimeError("curl's GET did not give back the bytes PUT")
        (root / "got.bin").unlink()
        say(f"  curl: PUT {curl_put:.2f} s ({w_curl_put.line()}), GET streamed {curl_get:.2f} s")
        figures |= {
            "curl_put_s": round(curl_put, 3),
            "ratio_put_curl": round(raw_put / curl_put, 3),
            "curl_get_s": round(curl_get, 3),
            "ratio_get_curl": round(raw_get / curl_get, 3),
        }
        figures |= w_curl_put.figures("put_curl")

    mib = big.stat().st_size / MIB
    figures |= {
        "large_mib": mib,
        "raw_put_s": round(raw_put, 3),
        "raw_put_one_thread_s": round(raw_put_one, 3),
        "dav_put_s": round(ours_put, 3),
        "dav_put_mib_per_s": round(mib / ours_put, 1),
        "raw_put_mib_per_s": round(mib / raw_put, 1),
        "ratio_put": round(raw_put / ours_put, 3),
        "ratio_put_one_thread": round(raw_put_one / ours_put, 3),
        "dav_put_recorded_s": round(ours_put_recorded, 3),
        "ratio_put_recorded": round(raw_put / ours_put_recorded, 3),
        "raw_get_s": round(raw_get, 3),
        "raw_get_one_thread_s": round(raw_get_one, 3),
        "dav_get_s": round(ours_get, 3),
        "dav_get_mib_per_s": round(mib / ours_get, 1),
        "raw_get_mib_per_s": round(mib / raw_get, 1),
        "ratio_get": round(raw_get / ours_get, 3),
        "ratio_get_one_thread": round(raw_get_one / ours_get, 3),
        "dav_get_redirect_s": round(ours_redirect, 3),
        "dav_get_redirect_mib_per_s": round(mib / ours_redirect, 1),
        "ratio_get_redirect": round(raw_get / ours_redirect, 3),
        **{f"put_phase_{name}_ms": round(ms, 1) for name, ms in put_phases_ms.items()},
        "machine_cpu_raw_put_s": round(raw_put_cpu.total, 2),
        "machine_cpu_put_s": round(put_cpu.total, 2),
        "machine_cpu_raw_get_s": round(raw_get_cpu.total, 2),
        "machine_cpu_get_s": round(get_cpu.total, 2),
        "quarter_mib": quarter.stat().st_size / MIB,
        "dav_put_chunked_quarter_s": round(ours_chunked, 3),
    }
    figures |= w_put.figures("put") | w_quarter_put.figures("put_quarter")
    figures |= w_get.figures("get") | w_quarter_get.figures("get_quarter")
    figures |= w_redirect.figures("get_redirect") | w_chunked.figures("put_chunked_quarter")
    return figures


def wait_quiet(pids: dict[str, int], *, cores: float = 0.5, window_s: float = 1.0, limit_s: float = 30) -> str:
    """Waits (at most `limit_s`) until the whole system (`pids`) used under `cores` for one
    `window_s`, after writing out the kernel's dirty pages (`os.sync`); says how long it waited and
    who was busy in the first window."""
    started = time.perf_counter()
    os.sync()
    busy = ""
    while time.perf_counter() - started < limit_s:
        before = cpu_of(pids)
        time.sleep(window_s)
        used = {name: seconds - before[name] for name, seconds in cpu_of(pids).items()}
        if not busy:
            top = sorted(used.items(), key=lambda kv: -kv[1])[:3]
            busy = ", ".join(f"{name} {seconds / window_s:.2f}" for name, seconds in top)
        if sum(used.values()) < cores * window_s:
            break
    return f"quiet after {time.perf_counter() - started:.1f} s (first: {busy})"


WEBDAV_PART_BYTES = 16 * MIB
"""The part size upload grants the webdav service (upload's `multipart_part_bytes`)."""


class HashedReader:
    """A file read through the hashes the webdav service computes of every PUT body: SHA-256
    (DocStore's), SHA-1 and MD5 (ownCloud's `oc:checksums`, which rclone checks) of the whole
    body, and the MD5 of each part (S3's part checksum, which upload compares with the part's
    ETag). No seek: boto3 then reads it in order in one thread, as the service does."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("rb")
        self.whole = [hashlib.sha256(), hashlib.sha1(), hashlib.md5()]  # noqa: S324
        self.part = hashlib.md5()  # noqa: S324
        self.in_part = 0

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        for digest in self.whole:
            digest.update(data)
        view = memoryview(data)
        while view:
            taken = view[: WEBDAV_PART_BYTES - self.in_part]
            self.part.update(taken)
            self.in_part += len(taken)
            view = view[len(taken) :]
            if self.in_part == WEBDAV_PART_BYTES:  # the next part's MD5 starts
                self.part, self.in_part = hashlib.md5(), 0  # noqa: S324
        return data

    def close(self) -> None:
        self.file.close()


def large_rounds(
    s3: Any,
    dav: httpx.Client,
    base: str,
    root: Path,
    big: Path,
    login: tuple[str, str],
    rounds: int,
    everyone: dict[str, int],
) -> dict[str, Any]:
    """The 1 GiB goal's transfers again, `rounds` times, each WebDAV transfer right beside its raw
    baseline and the pair's order alternating (raw first, then WebDAV first: A B B A ...), so load
    that drifts during the run weighs on both sides alike. One run of `large` showed ratios from
    0.59 to 0.93 for the same streamed GET: a single pair cannot say whether the goal is met.

    Each round: raw PUT and curl's PUT (answered, and recorded), and the PUT's floor: raw S3's
    PUT from a plain script that computes the same four hashes of the body as the webdav service
    (`HashedReader`, 10 threads): the least a PUT that hashes as the service must can cost
    here (measured after the pair, in every round); raw GET, curl's streamed GET, and
    curl's GET redirected to the signed S3 URL (the path rclone takes: one request to DocStore,
    then the bytes straight from S3). Raw is the faster of boto3's two settings in that round
    (10 threads, and one: one thread GETs this 1 GiB faster here, 4.1 s against 6.4). Every timed
    transfer starts on a quiet system (`wait_quiet`, outside the timing): without it the first GET
    after the PUTs was the slow one, whichever side it was (GET ratios 1.02 and 1.61 with raw
    first, 0.40 and 0.55 with WebDAV first; the redirected GET, which is a raw S3 GET, the same),
    and writing out dirty pages first did not change that. Returns each ratio per round and their
    median."""
    target = f"{dav.base_url}{base}rounds.bin"
    key = f"bench/raw-rounds/{uuid.uuid4()}"
    one_stream = TransferConfig(use_threads=False)
    ratios: dict[str, list[float]] = {
        "put_curl": [],
        "put_curl_recorded": [],
        "put_floor": [],
        "get_curl": [],
        "get_redirect_curl": [],
    }
    waits: list[str] = []

    def quiet() -> None:
        waits.append(wait_quiet(everyone))

    def raw_put() -> float:
        quiet()
        threads = timed(lambda: s3.upload_file(str(big), BUCKET, key))
        quiet()
        return min(threads, timed(lambda: s3.upload_file(str(big), BUCKET, key, Config=one_stream)))

    def floor_put() -> float:
        quiet()
        reader = HashedReader(big)
        try:
            return timed(lambda: s3.upload_fileobj(reader, BUCKET, key))
        finally:
            reader.close()

    def ours_put() -> tuple[float, float]:
        quiet()
        started = time.perf_counter()
        answered = curl(["-H", "Expect:", "-T", str(big), target], login)
        recorded(dav, f"{base}rounds.bin")
        return answered, time.perf_counter() - started

    def raw_get() -> float:
        took = []
        for config in (None, one_stream):
            quiet()
            took.append(timed(lambda c=config: s3.download_file(BUCKET, key, str(root / "raw-get.bin"), Config=c)))
            (root / "raw-get.bin").unlink()
        return min(took)

    def ours_get() -> tuple[float, float]:
        quiet()
        streamed = curl(["-H", "X-DocStore-Redirect: stream", "-o", str(root / "got.bin"), target], login)
        (root / "got.bin").unlink()
        quiet()
        redirected = curl_redirected(target, login, root / "got.bin")
        (root / "got.bin").unlink()
        return streamed, redirected

    def pair(raw_first: bool, raw: Callable[[], float], ours: Callable[[], Any]) -> tuple[float, Any]:
        """Both measurements, in the round's order."""
        if raw_first:
            first = raw()
            return first, ours()
        first = ours()
        return raw(), first

    for n in range(rounds):
        raw_first = n % 2 == 0
        raw, (answered, done) = pair(raw_first, raw_put, ours_put)
        ratios["put_curl"].append(raw / answered)
        ratios["put_curl_recorded"].append(raw / done)
        ratios["put_floor"].append(raw / floor_put())  # after the pair, so both sides of it are alike
        raw, (streamed, redirected) = pair(raw_first, raw_get, ours_get)
        ratios["get_curl"].append(raw / streamed)
        ratios["get_redirect_curl"].append(raw / redirected)
        say(f"  round {n + 1} ({'raw first' if raw_first else 'WebDAV first'}): " + _ratios_line(ratios, n))
        say("    before each transfer: " + "; ".join(waits))
        waits.clear()
    figures: dict[str, Any] = {"large_rounds": rounds}
    for name, values in ratios.items():
        figures[f"rounds_ratio_{name}"] = [round(v, 3) for v in values]
        figures[f"rounds_ratio_{name}_median"] = round(statistics.median(values), 3)
    # How near the WebDAV PUT came to what the same hashing costs a plain script, round by round.
    of_floor = [ours / floor for ours, floor in zip(ratios["put_curl"], ratios["put_floor"], strict=True)]
    figures["rounds_put_curl_of_floor"] = [round(v, 3) for v in of_floor]
    figures["rounds_put_curl_of_floor_median"] = round(statistics.median(of_floor), 3)
    return figures


def _ratios_line(ratios: dict[str, list[float]], n: int) -> str:
    return ", ".join(f"{name} {values[n]:.2f}" for name, values in ratios.items())


# --- many small files with rclone ---------------------------------------------------------------


def rclone(env: dict[str, str], transfers: int, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["rclone", *args, "--config", "/dev/null", "--transfers", str(transfers), "--checkers", str(transfers)],
        # Without AWS_CA_BUNDLE: rclone's s3 backend refuses a CA bundle with its own HTTP transport
        # (LoadCustomCABundleError), and the bench's SeaweedFS is plain HTTP.
        env={k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"} | env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"rclone {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return done


REQUEST_COUNT = re.compile(r"^http_request_duration_seconds_count\{(?P<labels>[^}]*)\} (?P<n>[0-9.e+]+)$", re.M)
NOT_CALLS = ("/metrics", "/healthz", "/readyz")


def http_calls(urls: dict[str, str]) -> dict[str, float]:
    """HTTP requests each service has answered since it started, by `service method route`
    (its `/metrics`: `http_request_duration_seconds_count`; health and metrics routes left out)."""
    calls: dict[str, float] = {}
    with httpx.Client(timeout=30) as client:
        for service, url in urls.items():
            try:
                text = client.get(f"{url}/metrics").text
            except httpx.HTTPError:
                continue
            for found in REQUEST_COUNT.finditer(text):
                labels = dict(re.findall(r'(\w+)="([^"]*)"', found["labels"]))
                if labels.get("handler", "").startswith(NOT_CALLS):
                    continue
                key = f"{service} {labels.get('method', '?')} {labels.get('handler', '?')}"
                calls[key] = calls.get(key, 0.0) + float(found["n"])
    return calls


class Cost:
    """What a phase cost, per file: HTTP requests each service answered (its /metrics), database
    commands and broker records (bench/counts.py, once every consumer has settled) and each
    service process's CPU (/proc). Measured around the whole phase, background work included."""

    def __init__(
        self, endpoints: Any, urls: dict[str, str], pids: dict[str, int], servers: dict[str, int] | None = None
    ) -> None:
        self.endpoints, self.urls, self.pids = endpoints, urls, pids
        self.servers = servers or {}
        """The servers' processes (database, broker and its log store, S3, search): their CPU per
        file is printed apart from the services'."""
        self.topics = all_topics()

    def __enter__(self) -> Cost:
        # One event loop for both snapshots: counts.py's broker tail is bound to the loop it started in.
        self.loop = asyncio.new_event_loop()
        self.calls = http_calls(self.urls)
        self.counts = self.loop.run_until_complete(snapshot(self.endpoints, self.topics))
        self.cpu = cpu_of(self.pids)
        self.server_cpu = cpu_of(self.servers)
        return self

    def __exit__(self, *exc: object) -> None:
        async def settle() -> Any:
            try:
                return await settled(self.endpoints, self.topics)
            finally:
                await stop_tails()

        try:
            after = self.loop.run_until_complete(settle())
        finally:
            self.loop.close()
        self.cpu = {name: cpu_seconds(pid) - self.cpu.get(name, 0.0) for name, pid in self.pids.items()}
        self.server_cpu = {name: s - self.server_cpu.get(name, 0.0) for name, s in cpu_of(self.servers).items()}
        calls = http_calls(self.urls)
        self.calls = {k: v - self.calls.get(k, 0.0) for k, v in calls.items() if v != self.calls.get(k, 0.0)}
        self.counts = after - self.counts

    def per(self, files: int, prefix: str) -> dict[str, Any]:
        by_service: dict[str, float] = {}
        for key, value in self.calls.items():
            by_service[key.split()[0]] = by_service.get(key.split()[0], 0.0) + value
        cpu = {name: round(s / files * 1000, 1) for name, s in sorted(self.cpu.items(), key=lambda i: -i[1]) if s > 0}
        out = {
            f"{prefix}_http_calls_per_file": round(sum(self.calls.values()) / files, 2),
            f"{prefix}_http_calls_per_file_by_service": {k: round(v / files, 2) for k, v in sorted(by_service.items())},
            f"{prefix}_http_calls_per_file_by_route": {
                k: round(v / files, 2) for k, v in sorted(self.calls.items(), key=lambda i: -i[1])
            },
            f"{prefix}_cpu_ms_per_file": round(sum(self.cpu.values()) / files * 1000, 1),
            f"{prefix}_cpu_ms_per_file_by_service": cpu,
            f"{prefix}_server_cpu_ms_per_file": round(sum(self.server_cpu.values()) / files * 1000, 1),
            f"{prefix}_server_cpu_ms_per_file_by_server": {
                name: round(s / files * 1000, 1) for name, s in sorted(self.server_cpu.items(), key=lambda i: -i[1])
            },
        }
        out |= {f"{prefix}_{k}": v for k, v in self.counts.per(files).items()}
        say(
            f"  {prefix}: {out[f'{prefix}_http_calls_per_file']} HTTP requests per file "
            f"({', '.join(f'{k} {v}' for k, v in out[f'{prefix}_http_calls_per_file_by_service'].items())}); "
            f"{self.counts.line(files)}; CPU ms per file {out[f'{prefix}_cpu_ms_per_file']} ({cpu}); "
            f"servers' CPU ms per file {out[f'{prefix}_server_cpu_ms_per_file']} "
            f"({out[f'{prefix}_server_cpu_ms_per_file_by_server']})"
        )
        for route, value in out[f"{prefix}_http_calls_per_file_by_route"].items():
            say(f"    {value:6.2f} {route}")
        return out


def put_phases(dav: httpx.Client, base: str, folder: Path, count: int, cost: Cost | None = None) -> dict[str, float]:
    """`count` small PUTs one after the other (new files, as rclone makes them), each answer's
    `Server-Timing` (the webdav service's phases: lookup, grant, body, upload, visible, facts) read
    back: p50 of each phase and of the whole request as the client saw it. Each PUT is followed,
    as rclone does, by a PROPFIND Depth 0 of the file (rclone's body), which must show its size,
    mtime and sha256 (read your writes); p50 of PUT and PROPFIND together. With `cost`, what the
    pairs cost per file (HTTP requests by service and route, database commands, CPU)."""
    files = sorted(folder.iterdir())[:count]
    dav.request("MKCOL", f"{base}phases/")
    with cost or contextlib.nullcontext():
        totals, pairs, phases = _put_then_propfind(dav, base, files)
    out: dict[str, Any] = cost.per(len(files), "put_small_pair") if cost else {}
    out |= {
        "put_small_count": len(files),
        "put_small_p50_ms": round(percentile(totals, 50), 1),
        "put_small_then_propfind_p50_ms": round(percentile(pairs, 50), 1),
    }
    out |= {f"put_small_{name}_p50_ms": round(percentile(values, 50), 1) for name, values in phases.items()}
    say(
        "  small PUTs one at a time, p50 ms: "
        + ", ".join(f"{k[10:-7]} {v}" for k, v in out.items() if k.endswith("_ms"))
    )
    return out


def _put_then_propfind(
    dav: httpx.Client, base: str, files: list[Path]
) -> tuple[list[float], list[float], dict[str, list[float]]]:
    totals: list[float] = []
    pairs: list[float] = []
    phases: dict[str, list[float]] = {}
    for path in files:
        data = path.read_bytes()
        started = time.perf_counter()
        answer = dav.put(f"{base}phases/{path.name}", content=data, headers={"X-OC-Mtime": "1700000000"})
        totals.append((time.perf_counter() - started) * 1000)
        if answer.status_code not in (201, 204):
            raise RuntimeError(f"PUT {path.name}: {answer.status_code} {answer.text[:300]}")
        found = dav.request("PROPFIND", f"{base}phases/{path.name}", content=PROPFIND_BODY, headers={"Depth": "0"})
        pairs.append((time.perf_counter() - started) * 1000)
        shown = found.content
        if found.status_code != 207 or not all(
            fact in shown
            for fact in (
                f"getcontentlength>{len(data)}<".encode(),
                hashlib.sha256(data).hexdigest().encode(),
                b"Tue, 14 Nov 2023 22:13:20 GMT",
            )
        ):
            raise RuntimeError(f"PROPFIND right after PUT {path.name}: {found.status_code} {shown[:600]!r}")
        for name, ms in server_timing(answer.headers.get("server-timing", "")).items():
            phases.setdefault(name, []).append(ms)
    return totals, pairs, phases


def server_timing(header: str) -> dict[str, float]:
    """The webdav service's `Server-Timing` phases (lookup, grant, body, upload, visible, facts), ms."""
    phases: dict[str, float] = {}
    for item in header.split(","):
        name, _, dur = item.strip().partition(";dur=")
        if name and dur:
            phases[name] = float(dur)
    return phases


def tree_facts(root: Path) -> dict[str, tuple[str, int]]:
    """Every file below `root`: its sha256 and modification time (whole seconds)."""
    return {
        str(path.relative_to(root)): (sha256_of(path), int(path.stat().st_mtime))
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def rclone_proof(
    env: dict[str, str], root: Path, small: int, large: int, large_mib: int, transfers: int
) -> dict[str, Any]:
    """Issue 38's rclone proof at full size: `rclone sync` of `small` small files (in folders) and
    `large` files of `large_mib` MiB up through WebDAV, then down into an empty folder; every
    sha256 and modification time equal (pass/fail, and the seconds each way)."""
    up, down = root / "proof-up", root / "proof-down"
    for i in range(small):
        folder = up / f"dir{i % 5}" / ("sub" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"file {i:05d}.txt"
        path.write_bytes(os.urandom(512 + (i * 37) % 4096))
        os.utime(path, (1_600_000_000 + i * 61, 1_600_000_000 + i * 61))
    for i in range(large):
        path = up / f"large-{i}.bin"
        with path.open("wb") as handle:
            for _ in range(large_mib):
                handle.write(os.urandom(MIB))
        os.utime(path, (1_650_000_000 + i, 1_650_000_000 + i))
    down.mkdir()
    up_s = timed(lambda: rclone(env, transfers, "sync", str(up), "dav:proof"))
    down_s = timed(lambda: rclone(env, transfers, "sync", "dav:proof", str(down)))
    sent, got = tree_facts(up), tree_facts(down)
    passed = sent == got
    differing = sorted(name for name in sent.keys() | got.keys() if sent.get(name) != got.get(name))
    say(
        f"  rclone sync proof: {len(sent)} files up {up_s:.1f} s, down {down_s:.1f} s; "
        f"{'PASS' if passed else 'FAIL'} ({len(differing)} differ: {differing[:5]})"
    )
    return {
        "proof_files": len(sent),
        "proof_small_files": small,
        "proof_large_files": large,
        "proof_large_mib": large_mib,
        "proof_sync_up_s": round(up_s, 1),
        "proof_sync_down_s": round(down_s, 1),
        "proof_pass": passed,
        "proof_differing": len(differing),
    }


def small_files(
    endpoints: Any,
    dav_url: str,
    user: str,
    password: str,
    folder: Path,
    count: int,
    transfers: int,
    proof: bool,
    cost: Cost | None = None,
) -> dict[str, Any]:
    obscured = subprocess.run(["rclone", "obscure", password], capture_output=True, text=True, check=True)
    env = {
        "RCLONE_CONFIG_DAV_TYPE": "webdav",
        "RCLONE_CONFIG_DAV_URL": dav_url,
        "RCLONE_CONFIG_DAV_VENDOR": "owncloud",
        "RCLONE_CONFIG_DAV_USER": user,
        "RCLONE_CONFIG_DAV_PASS": obscured.stdout.strip(),
        "RCLONE_CONFIG_S3_TYPE": "s3",
        "RCLONE_CONFIG_S3_PROVIDER": "Other",
        "RCLONE_CONFIG_S3_ENDPOINT": endpoints.s3_endpoint,
        "RCLONE_CONFIG_S3_ACCESS_KEY_ID": endpoints.s3_access_key,
        "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY": endpoints.s3_secret_key,
        "RCLONE_CONFIG_S3_REGION": "us-west-2",
        "RCLONE_CONFIG_S3_FORCE_PATH_STYLE": "true",
    }
    raw_target = f"s3:{BUCKET}/bench/rclone-{uuid.uuid4().hex[:8]}"
    raw = timed(lambda: rclone(env, transfers, "copy", str(folder), raw_target))
    say(f"  rclone to S3: {count} files in {raw:.2f} s")
    with cost or contextlib.nullcontext():
        ours = timed(lambda: rclone(env, transfers, "copy", str(folder), "dav:rclone-small"))
    say(f"  rclone to WebDAV: {count} files in {ours:.2f} s")
    costs: dict[str, Any] = cost.per(count, "rclone_dav") if cost else {}
    on_s3 = len(rclone(env, transfers, "lsf", raw_target).stdout.split())
    on_dav = len(rclone(env, transfers, "lsf", "dav:rclone-small").stdout.split())
    if on_s3 != count or on_dav != count:
        raise RuntimeError(f"rclone stored {on_s3} files on S3 and {on_dav} through WebDAV, not {count}")
    figures: dict[str, Any] = rclone_proof(env, folder.parent, count, 3, 50, transfers) if proof else {}
    return (
        figures
        | costs
        | {
            "rclone_files": count,
            "rclone_transfers": transfers,
            "rclone_raw_s3_s": round(raw, 3),
            "rclone_dav_s": round(ours, 3),
            "rclone_raw_s3_files_per_s": round(count / raw, 1),
            "rclone_dav_files_per_s": round(count / ours, 1),
            "ratio_rclone": round(raw / ours, 3),
        }
    )


# --- PROPFIND on a large folder ------------------------------------------------------------------


def make_documents(
    api: httpx.Client,
    auth: dict[str, str],
    folder: str,
    count: int,
    payloads: list[bytes],
    workers: int = 1,
    size: int = 50,
    name: str = "doc-{n:06d}.txt",
) -> float:
    """`count` documents named doc-NNNNNN.txt in `folder`, through the batch route with the sha256
    of bytes the account already stores (upload's dedupe makes each server-side), `size` a batch
    (50: a batch of 100 took metadata past upload's timeout under load), `workers` batches at a
    time. Seconds taken."""
    started = time.perf_counter()

    def ask(route: str, body: dict[str, Any], what: str) -> httpx.Response:
        """POST `route`; a loaded machine's 503 (metadata or quota slow to answer) or a timeout is
        waited out (its Retry-After, growing to 10 s) for up to 10 minutes, not fatal."""
        deadline, wait = time.monotonic() + 600, 1.0
        while True:
            if isinstance(auth, Login):
                auth.fresh()
            try:
                answer = api.post(route, headers=auth, json=body)
            except httpx.TransportError as error:
                if time.monotonic() > deadline:
                    raise
                say(f"    {what}: {type(error).__name__}, again in {wait:.0f} s")
            else:
                if answer.status_code == 401 and isinstance(auth, Login) and time.monotonic() < deadline:
                    auth.renew()
                    continue
                if answer.status_code != 503 or time.monotonic() > deadline:
                    if answer.is_error:
                        raise RuntimeError(f"{what}: {answer.status_code} {answer.text[:500]}")
                    return answer
                say(f"    {what}: 503 {answer.text[:120]}, again in {wait:.0f} s")
                wait = max(wait, float(answer.headers.get("retry-after", "1")))
            time.sleep(wait)
            wait = min(wait * 2, 10.0)

    def batch(first: int, s3: httpx.Client) -> None:
        payload = payloads[(first // size) % len(payloads)]
        sha = hashlib.sha256(payload).hexdigest()
        items = [
            {
                "filename": name.format(n=n),
                "size": len(payload),
                "content_type": "text/plain",
                "path": folder,
                "sha256": sha,
                "put": True,
            }
            for n in range(first, min(first + size, count))
        ]
        asked = time.perf_counter()
        granted = ask("/v1/uploads/batch", {"uploads": items}, f"batch at {first}")
        if first % 1000 == 0 and count > 1:
            say(f"    {first} of {count} made, this batch's grant {time.perf_counter() - asked:.2f} s")
        grants = [r["grant"] for r in granted.json()["results"]]
        assert all(grants), granted.text[:500]
        sent = [g for g in grants if not g.get("deduplicated")]
        for g in sent:
            s3.put(g["put"]["url"], content=payload, headers=g["put"]["headers"]).raise_for_status()
        if sent:
            ask("/v1/uploads/batch/complete", {"upload_ids": [g["upload_id"] for g in sent]}, f"completion at {first}")

    with httpx.Client(timeout=120) as s3, ThreadPoolExecutor(max_workers=workers) as pool:
        for made in [pool.submit(batch, first, s3) for first in range(0, count, size)]:
            made.result()
    return time.perf_counter() - started


def listed(api: httpx.Client, auth: dict[str, str], folder: str) -> int:
    """The folder's documents through the JSON API, every page of 200 (the baseline); how many."""
    cursor, seen = None, 0
    while True:
        params = {"path": folder, "limit": str(PAGE), "sort": "name", "order": "asc"} | (
            {"cursor": cursor} if cursor else {}
        )
        page = api.get("/v1/documents", headers=auth, params=params)
        if page.status_code == 401 and isinstance(auth, Login):
            auth.renew()
            page = api.get("/v1/documents", headers=auth, params=params)
        page.raise_for_status()
        body = page.json()
        seen += len(body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            return seen


def propfind(dav: httpx.Client, url: str) -> bytes:
    """One PROPFIND Depth 1 (the whole multistatus read); its body."""
    answer = dav.request(
        "PROPFIND", url, content=PROPFIND_BODY, headers={"Depth": "1", "Content-Type": "application/xml"}
    )
    if answer.status_code != 207:
        raise RuntimeError(f"PROPFIND {url}: {answer.status_code} {answer.text[:300]}")
    return answer.content


def members(multistatus: bytes) -> int:
    """How many members a Depth 1 multistatus lists (its responses less the folder itself)."""
    return sum(1 for element in ElementTree.fromstring(multistatus).iter("{DAV:}response")) - 1


SEEDS = 40
SWITCHED = ("webdav", "metadata")
"""The services `--against` restarts from the other checkout (PROPFIND's path: webdav, and the
metadata listing it reads)."""
CPU_OF = ("gateway", "webdav", "metadata")


def use_tree(system: Any, tree: Path | None) -> dict[str, int]:
    """Restart webdav and metadata from `tree`'s sources (its `services/<name>/src` first on
    PYTHONPATH; None: this checkout's, as installed); the pids of the services whose CPU is read."""
    for name in SWITCHED:
        proc = system.process(name)
        env = dict(proc.env or os.environ)
        env.pop("PYTHONPATH", None)
        if tree is not None:
            env["PYTHONPATH"] = os.pathsep.join(str(tree / "services" / n / "src") for n in SWITCHED)
        proc.env = env
        system.restart(name)
    return {name: pid for name, pid in system.pids().items() if name in CPU_OF}


def measure(
    api: httpx.Client,
    auth: dict[str, str],
    dav: httpx.Client,
    url: str,
    folder: str,
    count: int,
    repeats: int,
    pids: dict[str, int],
) -> dict[str, Any]:
    """`repeats` rounds of the JSON listing then the PROPFIND, one at a time: the times (ms) and
    each service's CPU (ms) of every request."""
    out: dict[str, Any] = {"listing": [], "dav": [], "cpu_listing": [], "cpu_dav": [], "members": set()}
    if isinstance(auth, Login):
        auth.renew()  # no sign-in within the timed listings
    out["members"].add(members(propfind(dav, url)))  # a warm-up, not counted
    listed(api, auth, folder)
    with Watch({n: p for n, p in pids.items() if n in WATCHED}) as watch:
        for _ in range(repeats):
            cpu, started = cpu_of(pids), time.perf_counter()
            assert listed(api, auth, folder) == count
            out["listing"].append((time.perf_counter() - started) * 1000)
            after = cpu_of(pids)
            out["cpu_listing"].append({n: (after[n] - cpu[n]) * 1000 for n in pids})
            cpu, started = after, time.perf_counter()
            answer = propfind(dav, url)
            out["dav"].append((time.perf_counter() - started) * 1000)
            after = cpu_of(pids)
            out["cpu_dav"].append({n: (after[n] - cpu[n]) * 1000 for n in pids})
            out["members"].add(members(answer))
    out["watch"] = watch
    return out


def summary(label: str, got: dict[str, Any], prefix: str = "") -> dict[str, float]:
    dav_times, listing = got["dav"], got["listing"]
    figures = {
        f"{prefix}propfind_{label}_p50_ms": round(percentile(dav_times, 50), 1),
        f"{prefix}propfind_{label}_p99_ms": round(percentile(dav_times, 99), 1),
        f"{prefix}json_listing_{label}_p50_ms": round(percentile(listing, 50), 1),
        f"{prefix}json_listing_{label}_p99_ms": round(percentile(listing, 99), 1),
        f"{prefix}ratio_propfind_{label}_p50": round(percentile(dav_times, 50) / percentile(listing, 50), 2),
    }
    for name in CPU_OF:
        for what, key in (("propfind", "cpu_dav"), ("json_listing", "cpu_listing")):
            spent = [c[name] for c in got[key] if name in c]
            if spent:
                figures[f"{prefix}{what}_{label}_{name}_cpu_ms_p50"] = round(statistics.median(spent), 1)
    return figures


def settle(endpoints: Any, timeout_s: float) -> None:
    async def run() -> None:
        try:
            await settled(endpoints, all_topics(), timeout_s=timeout_s)
        finally:
            await stop_tails()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()


def folders(
    api: httpx.Client, auth: dict[str, str], dav: httpx.Client, base: str, system: Any, endpoints: Any, args: Any
) -> dict[str, float]:
    # Each batch's documents are made over one of SEEDS payloads the account stores (upload's
    # dedupe finds its bytes): with one payload for all, metadata's dedupe lookup (the newest
    # version with that sha256) read every earlier copy, and each batch took longer than the last.
    payloads = [f"one document's bytes, stored once ({k})\n".encode() for k in range(SEEDS)]
    figures: dict[str, float] = {}
    for folder in ("/seed", "/propfind-few", "/propfind-many"):  # the folders first (MKCOL), as a client makes them
        made = dav.request("MKCOL", f"{base}{folder.lstrip('/')}/")
        if made.status_code not in (201, 405):
            raise RuntimeError(f"MKCOL {folder}: {made.status_code} {made.text[:300]}")
    for k, payload in enumerate(payloads):
        make_documents(api, auth, "/seed", 1, [payload], name=f"seed-{k:03d}.txt")
    deadline = time.monotonic() + 120
    while listed(api, auth, "/seed") < SEEDS:  # recorded by metadata: dedupe finds it from now on
        if time.monotonic() > deadline:
            raise RuntimeError("the seed document never showed")
        time.sleep(0.1)
    made_s: dict[str, float] = {}
    for label, folder, count in (("few", "/propfind-few", args.few_docs), ("many", "/propfind-many", args.folder_docs)):
        made_s[label] = make_documents(api, auth, folder, count, payloads)
        deadline = time.monotonic() + 600
        while (seen := listed(api, auth, folder)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{folder}: {seen} of {count} documents listed after 10 minutes")
            time.sleep(0.5)
        say(f"  {folder}: {count} documents made in {made_s[label]:.1f} s (batches, deduplicated)")
    # The documents' own work (indexing, previews, events) done before any PROPFIND is timed, so
    # the first checkout measured does not share the machine with it.
    started = time.perf_counter()
    settle(endpoints, args.settle_s)
    say(f"  settled in {time.perf_counter() - started:.1f} s")
    # Without --against: this checkout, once. With it: the other checkout's webdav and metadata
    # and this one's, `--rounds` times each (ABBA: a trend in the machine's load favours neither),
    # on the same documents (the same run's conditions).
    trees: list[tuple[str, Path | None]] = [("", None)]
    if args.against:
        pair: list[tuple[str, Path | None]] = [("against_", Path(args.against).resolve()), ("", None)]
        trees = [tree for r in range(args.rounds) for tree in (pair if r % 2 == 0 else pair[::-1])]  # ABBA...
    got: dict[tuple[str, str], dict[str, Any]] = {}
    for prefix, tree in trees:
        pids = use_tree(system, tree) if args.against else {n: p for n, p in system.pids().items() if n in CPU_OF}
        for label, folder, count in (
            ("few", "/propfind-few", args.few_docs),
            ("many", "/propfind-many", args.folder_docs),
        ):
            url = f"{base}{folder.lstrip('/')}/"
            one = measure(api, auth, dav, url, folder, count, args.repeats, pids)
            if one["members"] != {count}:
                raise RuntimeError(f"PROPFIND listed {one['members']} members of {folder}, not {count}")
            say(
                f"  {prefix or 'this '}tree, {count} documents: PROPFIND p50 {percentile(one['dav'], 50):.1f} / "
                f"p99 {percentile(one['dav'], 99):.1f} ms, JSON listing p50 {percentile(one['listing'], 50):.1f} / "
                f"p99 {percentile(one['listing'], 99):.1f} ms; {one['watch'].line()}; load {os.getloadavg()[0]:.1f}"
            )
            kept = got.setdefault((prefix, label), {"dav": [], "listing": [], "cpu_dav": [], "cpu_listing": []})
            for key in ("dav", "listing", "cpu_dav", "cpu_listing"):
                kept[key] += one[key]
            figures |= {
                f"{prefix}{k}": v
                for k, v in one["watch"].figures(f"propfind_{label}").items()
                if k.endswith(("_rss_growth_mib", "_rss_peak_mib"))
            }
    for (prefix, label), kept in got.items():
        figures |= summary(label, kept, prefix)
    figures |= folder_copy(api, auth, dav, base, args.few_docs)
    for label, count in (("few", args.few_docs), ("many", args.folder_docs)):
        figures |= {f"propfind_{label}_documents": count, f"propfind_{label}_make_s": round(made_s[label], 1)}
    figures["propfind_repeats"] = args.repeats * (args.rounds if args.against else 1)
    return figures


def folder_copy(api: httpx.Client, auth: dict[str, str], dav: httpx.Client, base: str, count: int) -> dict[str, float]:
    """COPY (Depth infinity) of the folder of `count` documents to a new folder, one request,
    until it is answered (the webdav service answers once metadata shows every copy); against
    the same documents copied one COPY each, one after another, into another new folder (what a
    client copying file by file sends). Each copy is checked: `count` documents listed."""
    source = f"{base}propfind-few/"
    started = time.perf_counter()
    copied = dav.request("COPY", source, headers={"Destination": f"{base}copy-folder/", "Depth": "infinity"})
    folder_s = time.perf_counter() - started
    if copied.status_code != 201:
        raise RuntimeError(f"COPY of the folder: {copied.status_code} {copied.text[:300]}")
    names = [f"doc-{n:06d}.txt" for n in range(count)]
    if dav.request("MKCOL", f"{base}copy-one-by-one/").status_code != 201:
        raise RuntimeError("MKCOL copy-one-by-one failed")
    started = time.perf_counter()
    for name in names:
        one = dav.request("COPY", f"{source}{name}", headers={"Destination": f"{base}copy-one-by-one/{name}"})
        if one.status_code != 201:
            raise RuntimeError(f"COPY of {name}: {one.status_code} {one.text[:300]}")
    one_by_one_s = time.perf_counter() - started
    for folder in ("/copy-folder", "/copy-one-by-one"):
        if (seen := listed(api, auth, folder)) != count:
            raise RuntimeError(f"{folder}: {seen} documents listed after the copy, not {count}")
    say(f"  COPY of a folder of {count} documents: {folder_s:.2f} s; one COPY per document: {one_by_one_s:.2f} s")
    return {
        "copy_folder_documents": count,
        "copy_folder_s": round(folder_s, 2),
        "copy_one_by_one_s": round(one_by_one_s, 2),
        "ratio_copy_one_by_one_to_folder": round(one_by_one_s / folder_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large-mib", type=int, default=1024)
    parser.add_argument(
        "--large-rounds",
        type=int,
        default=0,
        help="then that many rounds of the large file's PUT and GET, each beside its raw baseline, in the "
        "order A B B A (the ratios' median and spread; needs curl)",
    )
    parser.add_argument("--small", type=int, default=1000, help="files rclone copies (0: skip)")
    parser.add_argument("--small-kib", type=int, default=10)
    parser.add_argument("--transfers", type=int, default=8, help="rclone --transfers and --checkers")
    parser.add_argument(
        "--partitions",
        type=int,
        default=3,
        help="partitions of each topic (3, as in production; `scripts/up` makes 1: Tansu re-reads every "
        "partition a consumer asks for while its fetch waits, so the broker's CPU grows with them)",
    )
    parser.add_argument("--folder-docs", type=int, default=10_000, help="documents in the large folder (0: skip)")
    parser.add_argument("--few-docs", type=int, default=100, help="documents in the small folder")
    parser.add_argument("--repeats", type=int, default=20, help="PROPFINDs (and JSON listings) per folder")
    parser.add_argument(
        "--against",
        help="another checkout (e.g. a worktree of main): PROPFIND is also measured with its webdav and metadata "
        "(restarted from its sources), alternating with this one's on the same documents",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="with --against: rounds of each checkout (in the order ABBA...)"
    )
    parser.add_argument(
        "--settle-s", type=float, default=900, help="at most this long for the documents' own work before PROPFIND"
    )
    parser.add_argument(
        "--no-proof", action="store_true", help="skip the rclone sync proof (--small files and 3 x 50 MiB up and down)"
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON object of every figure")
    args = parser.parse_args()
    if args.small and shutil.which("rclone") is None:
        parser.error("rclone is not installed (scripts/bootstrap), or pass --small 0")
    if args.large_rounds and shutil.which("curl") is None:
        parser.error("--large-rounds times curl's transfers: install curl, or pass --large-rounds 0")
    load_start = os.getloadavg()[0]
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="docstore-bench-webdav-") as tmp:
        root = Path(tmp)
        big, quarter = root / "large.bin", root / "quarter.bin"
        with big.open("wb") as handle:
            for _ in range(args.large_mib):
                handle.write(os.urandom(MIB))
        with quarter.open("wb") as handle:
            for _ in range(max(1, args.large_mib // 4)):
                handle.write(os.urandom(MIB))
        small = root / "small"
        small.mkdir()
        for n in range(args.small):
            (small / f"file-{n:05d}.bin").write_bytes(os.urandom(args.small_kib * 1024))
        say("starting servers and services ...")
        servers = Servers(
            root / "servers", ports="auto", topics=all_topics(), buckets=[BUCKET], partitions=args.partitions
        )
        endpoints = servers.start()
        system = ServiceProcesses(endpoints, root / "system", ports="auto")
        try:
            urls = system.start()
            pids = {name: pid for name, pid in system.pids().items() if name in WATCHED}
            s3 = boto3.client(
                "s3",
                endpoint_url=endpoints.s3_endpoint,
                aws_access_key_id=endpoints.s3_access_key,
                aws_secret_access_key=endpoints.s3_secret_key,
                region_name="us-west-2",
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=32),
            )
            with httpx.Client(base_url=urls["gateway"], timeout=600) as api:
                user, auth, password = account(api)
                base = f"/remote.php/dav/files/{quote(user)}/"
                with httpx.Client(base_url=urls["gateway"], auth=(user, password), timeout=None) as dav:
                    if args.large_mib:
                        say(f"large file: {args.large_mib} MiB")
                        everyone = servers.pids() | system.pids() | {"bench": os.getpid()}
                        figures |= large(s3, dav, base, pids, root, big, quarter, (user, password), everyone)
                        if args.large_rounds:
                            say(f"large file: {args.large_rounds} rounds, each WebDAV transfer beside raw S3")
                            figures |= large_rounds(
                                s3, dav, base, root, big, (user, password), args.large_rounds, everyone
                            )
                    if args.small:
                        say(f"small files: {args.small} x {args.small_kib} KiB with rclone")
                        cost = Cost(endpoints, urls, system.pids(), servers.pids())
                        figures |= put_phases(dav, base, small, min(args.small, 30), cost)
                        figures |= small_files(
                            endpoints,
                            urls["gateway"] + base,
                            user,
                            password,
                            small,
                            args.small,
                            args.transfers,
                            not args.no_proof,
                            Cost(endpoints, urls, system.pids(), servers.pids()),
                        )
                    if args.folder_docs:
                        say(f"PROPFIND Depth 1: folders of {args.few_docs} and {args.folder_docs} documents")
                        figures |= folders(api, auth, dav, base, system, endpoints, args)
        finally:
            system.stop()
            servers.stop()
    figures |= {"load_average_1m_start": round(load_start, 2), "load_average_1m_end": round(os.getloadavg()[0], 2)}
    if "ratio_put" in figures:
        print(f"\nlarge file: {args.large_mib} MiB (one WebDAV request each way; raw: boto3, 10 threads / 1 thread)")
        for way in ("put", "get"):
            print(
                f"  {way.upper()}: WebDAV {figures[f'dav_{way}_s']:7.2f} s {figures[f'dav_{way}_mib_per_s']:7.1f} MiB/s; "
                f"raw {figures[f'raw_{way}_s']:.2f} s, one thread {figures[f'raw_{way}_one_thread_s']:.2f} s; "
                f"ratio raw/WebDAV {figures[f'ratio_{way}']:.2f} (one thread {figures[f'ratio_{way}_one_thread']:.2f}; goal >= 0.8)"
            )
            if way == "put":
                print(
                    f"  PUT recorded (a GET of it answers: metadata shows the version): "
                    f"{figures['dav_put_recorded_s']:.2f} s, ratio raw/WebDAV {figures['ratio_put_recorded']:.2f}"
                )
            if f"curl_{way}_s" in figures:
                print(
                    f"  {way.upper()} with curl: {figures[f'curl_{way}_s']:.2f} s, "
                    f"ratio raw/WebDAV {figures[f'ratio_{way}_curl']:.2f}"
                )
            if way == "get":
                print(
                    f"  GET redirected to the signed S3 URL: {figures['dav_get_redirect_s']:.2f} s, "
                    f"ratio raw/WebDAV {figures['ratio_get_redirect']:.2f}"
                )
            for name in WATCHED:
                print(
                    f"    {name}: RSS peak +{figures[f'{way}_{name}_rss_growth_mib']:.0f} MiB over "
                    f"{figures[f'{way}_{name}_rss_before_mib']:.0f} (a quarter the body: "
                    f"+{figures[f'{way}_quarter_{name}_rss_growth_mib']:.0f}); CPU {figures[f'{way}_{name}_cpu_s']:.1f} s"
                )
    if "large_rounds" in figures:
        print(f"  {figures['large_rounds']} rounds, raw beside WebDAV (A B B A), ratio raw/WebDAV median [each round]:")
        for name in ("put_curl", "put_curl_recorded", "put_floor", "get_curl", "get_redirect_curl"):
            each = ", ".join(f"{v:.2f}" for v in figures[f"rounds_ratio_{name}"])
            print(f"    {name}: {figures[f'rounds_ratio_{name}_median']:.2f} [{each}]")
        each = ", ".join(f"{v:.2f}" for v in figures["rounds_put_curl_of_floor"])
        print(
            f"    put_curl against the floor (floor time / WebDAV's): {figures['rounds_put_curl_of_floor_median']:.2f} [{each}]"
        )
    if "ratio_rclone" in figures:
        print(
            f"\nrclone copy, {args.small} x {args.small_kib} KiB, {args.transfers} transfers: WebDAV "
            f"{figures['rclone_dav_s']:.2f} s ({figures['rclone_dav_files_per_s']:.1f} files/s); straight to S3 "
            f"{figures['rclone_raw_s3_s']:.2f} s ({figures['rclone_raw_s3_files_per_s']:.1f}/s); ratio {figures['ratio_rclone']:.2f}"
        )
    if "proof_pass" in figures:
        print(
            f"rclone sync proof, {figures['proof_small_files']} small files and {figures['proof_large_files']} x "
            f"{figures['proof_large_mib']} MiB: up {figures['proof_sync_up_s']:.1f} s, down "
            f"{figures['proof_sync_down_s']:.1f} s, every sha256 and mtime equal: "
            f"{'PASS' if figures['proof_pass'] else 'FAIL'}"
        )
    if "put_small_p50_ms" in figures:
        print(
            "small PUTs one at a time, p50 ms: "
            + ", ".join(
                f"{k[10:-7] or 'whole'} {v}"
                for k, v in figures.items()
                if k.startswith("put_small_") and k.endswith("_ms")
            )
        )
    for prefix in ("against_", ""):
        for label in ("few", "many"):
            if f"{prefix}propfind_{label}_p50_ms" in figures:
                print(
                    f"{'--against tree: ' if prefix else ''}PROPFIND Depth 1, {figures[f'propfind_{label}_documents']} "
                    f"documents: p50 / p99 {figures[f'{prefix}propfind_{label}_p50_ms']:.1f} / "
                    f"{figures[f'{prefix}propfind_{label}_p99_ms']:.1f} ms; JSON listing "
                    f"{figures[f'{prefix}json_listing_{label}_p50_ms']:.1f} / "
                    f"{figures[f'{prefix}json_listing_{label}_p99_ms']:.1f} ms; CPU ms p50 (webdav / metadata / "
                    f"gateway) "
                    + " / ".join(
                        str(figures.get(f"{prefix}propfind_{label}_{n}_cpu_ms_p50"))
                        for n in ("webdav", "metadata", "gateway")
                    )
                )
    if "copy_folder_s" in figures:
        print(
            f"COPY of a folder of {figures['copy_folder_documents']} documents: {figures['copy_folder_s']:.2f} s; "
            f"one COPY per document: {figures['copy_one_by_one_s']:.2f} s "
            f"(ratio {figures['ratio_copy_one_by_one_to_folder']:.2f})"
        )
    print(
        f"load average (1 min): {figures['load_average_1m_start']:.2f} at the start, {figures['load_average_1m_end']:.2f} at the end"
    )
    if args.json:
        print(json.dumps({"bench": "webdav", **figures}))


if __name__ == "__main__":
    main()
