"""Start the DocStore services as uvicorn processes wired to the local servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

import httpx

from docstore_devplatform.ports import HOST, free_ports, is_port_free
from docstore_devplatform.procs import ManagedProcess, stop_all
from docstore_devplatform.servers import DEFAULT_REGION, PLATFORM_MEMBERSHIP_ENV, Endpoints
from docstore_devplatform.tls import LocalTLS
from docstore_devplatform.waiting import StartupError

SERVICES = ("metadata", "upload", "quota", "indexer", "notify", "analytics", "accounts", "webdav", "links", "gateway")

#: The dev platform's fixed ports.
FIXED_PORTS: Mapping[str, int] = {
    "gateway": 8080,
    "metadata": 8081,
    "upload": 8082,
    "quota": 8083,
    "indexer": 8084,
    "notify": 8085,
    "accounts": 8086,
    "webdav": 8087,
    "analytics": 8088,
    "links": 8089,
}

#: The second region's fixed ports (``scripts/up`` runs two regions on one machine).
FIXED_PORTS_B: Mapping[str, int] = {
    "gateway": 8090,
    "metadata": 8091,
    "upload": 8092,
    "quota": 8093,
    "indexer": 8094,
    "notify": 8095,
    "accounts": 8096,
    "webdav": 8097,
    "analytics": 8098,
    "links": 8099,
}

#: The second region ``scripts/up`` starts beside the first.
DEFAULT_REGION_B = "ap-southeast-2"

#: Shared by the regions of the local platform (development only; production takes a Secret).
DEV_REPLICATION_SECRET = "docstore-dev-replication-secret"

#: uvicorn target of each service; ``{name}`` is the service name.
DEFAULT_APP = "docstore_{name}.main:app"


def bucket_for(region: str) -> str:
    """The S3 bucket holding a region's files."""
    return f"docstore-{region}"


def topic_prefix_for(region: str, primary: str = DEFAULT_REGION) -> str:
    """Topic prefix of a region on a shared broker: none for the first region, ``<region>.`` otherwise."""
    return "" if region == primary else f"{region}."


def region_wiring(
    urls_by_region: Mapping[str, Mapping[str, str]], region: str, *, primary: str = DEFAULT_REGION
) -> dict[str, str]:
    """Environment that ties the services of ``region`` to the other regions on one machine.

    ``REGION_GATEWAYS`` (every region's gateway: redirects and CORS), ``PEER_ACCOUNTS_URLS``
    (every other region's accounts service: where replicas of this region's accounts go),
    ``REPLICATION_SECRET`` and the region's ``KAFKA_TOPIC_PREFIX`` on the shared broker.
    """
    return {
        "REGION_GATEWAYS": json.dumps(
            {name: urls["gateway"] for name, urls in urls_by_region.items() if "gateway" in urls}
        ),
        "PEER_ACCOUNTS_URLS": json.dumps(
            {name: urls["accounts"] for name, urls in urls_by_region.items() if name != region and "accounts" in urls}
        ),
        "REPLICATION_SECRET": DEV_REPLICATION_SECRET,
        "KAFKA_TOPIC_PREFIX": topic_prefix_for(region, primary),
    }


def service_urls(ports: Mapping[str, int], *, tls: bool = False) -> dict[str, str]:
    """Base URL of each service, ``http://127.0.0.1:PORT``; the gateway's ``https://`` with ``tls``
    (the services' calls to each other stay plain on loopback: docstore_devplatform.tls)."""
    return {name: f"{'https' if tls and name == 'gateway' else 'http'}://{HOST}:{port}" for name, port in ports.items()}


def build_service_env(
    endpoints: Endpoints,
    urls: Mapping[str, str],
    *,
    region: str = DEFAULT_REGION,
    base: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment every service process gets.

    The platform's group membership (``PLATFORM_MEMBERSHIP_ENV``, which ``base`` may override),
    ``base`` (default ``os.environ``) + the servers' variables + ``REGION``,
    ``S3_BUCKET``, ``ENVIRONMENT=development``, ``<NAME>_URL`` for every service,
    then ``extra`` (which wins).
    """
    env = PLATFORM_MEMBERSHIP_ENV | dict(os.environ if base is None else base)
    env |= endpoints.service_env(region)
    env |= {"REGION": region, "S3_BUCKET": bucket_for(region), "ENVIRONMENT": "development"}
    env |= {"UPLOAD_CREDENTIALS": "seaweedfs"}  # temporary upload credentials from SeaweedFS's IAM API
    env |= {f"{name.upper()}_URL": url for name, url in urls.items()}
    env |= dict(extra or {})
    return env


class ServiceProcesses:
    """The DocStore services, one ``python -m uvicorn`` child each, logging to ``<data_dir>/logs/<name>.log``.

    ``ports="auto"`` picks free ports (never a default one); ``"fixed"`` uses
    :data:`FIXED_PORTS`; or pass a name -> port mapping. Every port is known before
    any service starts, so each one gets every ``<NAME>_URL``.

    With ``tls``, the gateway runs as ``python -m docstore_gateway`` with ``tls``'s certificate in
    its settings (``GATEWAY_TLS_CERT_FILE``...), so it serves HTTPS the way a pod does; every
    service trusts the CA (``tls.client_env()``).
    """

    def __init__(
        self,
        endpoints: Endpoints,
        data_dir: Path,
        *,
        region: str = DEFAULT_REGION,
        ports: Literal["auto", "fixed"] | Mapping[str, int] = "auto",
        extra_env: Mapping[str, str] | None = None,
        names: Iterable[str] = SERVICES,
        app: str = DEFAULT_APP,
        ready_timeout: float = 60.0,
        stop_timeout: float = 10.0,
        tls: LocalTLS | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.tls = tls
        self.data_dir = Path(data_dir).resolve()
        self.region = region
        self.names = tuple(names)
        unknown = set(self.names) - set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services {sorted(unknown)}; known: {SERVICES}")
        if ports == "auto":
            ports = dict(zip(self.names, free_ports(len(self.names)), strict=True))
        elif ports == "fixed":
            ports = FIXED_PORTS
        self.ports = {name: ports[name] for name in self.names}
        self.urls = service_urls(self.ports, tls=tls is not None)
        self.app = app
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.env = build_service_env(
            endpoints, self.urls, region=region, extra=(tls.client_env() if tls else {}) | dict(extra_env or {})
        )
        self._procs = {name: self._make_process(name) for name in self.names}

    def _make_process(self, name: str) -> ManagedProcess:
        argv = [
            sys.executable, "-m", "uvicorn", self.app.format(name=name), "--factory",
            "--host", HOST, "--port", str(self.ports[name]),
            # uvicorn would trust X-Forwarded-For from 127.0.0.1, where every local client is: a
            # client would choose its own address. The gateway reads it from GATEWAY_TRUSTED_PROXIES.
            "--no-proxy-headers",
        ]  # fmt: skip
        log = self.data_dir / "logs" / f"{name}.log"
        if self.tls and name == "gateway":
            # The gateway's own entry point reads host, port and certificate from its settings.
            argv = [sys.executable, "-m", "docstore_gateway"]
            port = {"GATEWAY_HOST": HOST, "GATEWAY_PORT": str(self.ports[name])}
            return ManagedProcess(name, argv, log, env=self.env | port | self.tls.gateway_env(), cwd=self.data_dir)
        return ManagedProcess(name, argv, log, env=self.env, cwd=self.data_dir)

    def start(self) -> dict[str, str]:
        """Start every service; return name -> base URL once each answers ``GET /readyz`` with 200."""
        busy = {name: port for name, port in self.ports.items() if not is_port_free(port)}
        if busy:
            raise StartupError(f"service ports already in use: {busy}")
        try:
            for proc in self._procs.values():
                proc.start()
            self._wait_ready(self.names)
        except BaseException:
            self.stop()
            raise
        return dict(self.urls)

    def resume(self) -> dict[str, str]:
        """Start again every service that is not running (after ``stop``) and wait until all are ready.

        No free-port check: a port its own service just left may still have connections in
        TIME_WAIT, which uvicorn (SO_REUSEADDR) binds through but a plain bind probe does not.
        """
        for proc in self._procs.values():
            proc.start()  # no-op for a running one
        self._wait_ready(self.names)
        return dict(self.urls)

    def operator(self, module: str, *args: str, timeout: float = 120.0) -> str:
        """Run an operator command (`python -m <module> <args>`) with the services' environment,
        as an operator would in a pod; its standard output. Raises on a non-zero exit."""
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            env=self.env,
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise StartupError(f"{module} {' '.join(args)} exited {done.returncode}: {done.stdout}{done.stderr}")
        return done.stdout

    def stop(self) -> None:
        """SIGTERM every service, SIGKILL after ``stop_timeout``."""
        stop_all(self._procs.values(), timeout=self.stop_timeout)

    def kill(self, name: str) -> None:
        """SIGKILL one service (crash tests)."""
        self._procs[name].kill()

    def restart(self, name: str) -> None:
        """Stop one service (if running), start it again and wait until it is ready."""
        proc = self._procs[name]
        proc.stop(self.stop_timeout)
        proc.start()
        self._wait_ready([name])

    def process(self, name: str) -> ManagedProcess:
        """The child process running service ``name``."""
        return self._procs[name]

    def pids(self) -> dict[str, int]:
        """Pids of the services that are running."""
        return {name: p.pid for name, p in self._procs.items() if p.alive() and p.pid}

    def _wait_ready(self, names: Iterable[str]) -> None:
        """Poll every pending service's /readyz together until all answer 200."""
        pending = set(names)
        last: dict[str, str] = {}
        deadline = time.monotonic() + self.ready_timeout
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name in sorted(pending):
                    proc = self._procs[name]
                    if not proc.alive():
                        raise StartupError(f"service {name} died while starting.\n{proc.describe_failure()}")
                    try:
                        response = client.get(f"{self.urls[name]}/readyz")
                        if response.status_code == 200:
                            pending.discard(name)
                            continue
                        last[name] = f"/readyz -> {response.status_code} {response.text[:200]}"
                    except httpx.HTTPError as exc:
                        last[name] = repr(exc)
                if pending and time.monotonic() >= deadline:
                    tails = "\n".join(self._procs[name].describe_failure() for name in sorted(pending))
                    raise StartupError(
                        f"services {sorted(pending)} not ready after {self.ready_timeout:.0f} s (last: {last})\n{tails}"
                    )
                if pending:
                    time.sleep(0.1)
