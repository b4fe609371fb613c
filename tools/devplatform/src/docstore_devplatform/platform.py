"""The whole local platform: servers, then two regions of services on them; and its state file.

Both regions share the servers: region B has its own databases (the names include the
region), its bucket ``docstore-<region>`` and its topics under ``KAFKA_TOPIC_PREFIX=<region>.``.

The supervisor (``python -m docstore_devplatform supervise``) runs :func:`supervise`;
``up``/``down``/``status`` talk to it through two files in the data dir:

* ``platform.pid``  - the supervisor's pid while it runs;
* ``platform.json`` - its state: ``starting`` (with progress lines), ``ready``
  (endpoints, service URLs, pids), ``failed`` (with the error) or ``stopped``.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

from docstore_devplatform import oidc
from docstore_devplatform.launch import KAFKA_LOG_BUCKET, BrokerStorage
from docstore_devplatform.ports import HOST, free_ports
from docstore_devplatform.procs import ManagedProcess, install_cleanup
from docstore_devplatform.restarts import RestartPolicy
from docstore_devplatform.servers import DEFAULT_REGION, Endpoints, Servers
from docstore_devplatform.services import (
    DEFAULT_APP,
    DEFAULT_REGION_B,
    FIXED_PORTS,
    FIXED_PORTS_B,
    SERVICES,
    ServiceProcesses,
    bucket_for,
    region_wiring,
    service_urls,
    topic_prefix_for,
)
from docstore_devplatform.state import PID_FILE, StateFile
from docstore_devplatform.tls import TLS_DIR, local_tls
from docstore_devplatform.traces import TRACES_FILE, TraceReceiver, otlp_env, otlp_port


def load_topics(prefixes: Sequence[str] = ("",)) -> tuple[list[str], str | None]:
    """Every Kafka topic from ``docstore_events.topics.all_topics(prefix)`` for each prefix, and a
    warning if unavailable."""
    try:
        from docstore_events.topics import all_topics
    except ImportError as exc:
        return [], f"docstore_events.topics not importable ({exc}); starting with no topics"
    try:
        return [topic for prefix in prefixes for topic in all_topics(prefix)], None
    except Exception as exc:  # noqa: BLE001 - someone else's module; report, don't crash
        return [], f"docstore_events.topics.all_topics() failed ({exc!r}); starting with no topics"


@dataclass
class PlatformConfig:
    """What ``up`` starts."""

    data_dir: Path
    region: str = DEFAULT_REGION
    region_b: str | None = DEFAULT_REGION_B
    """The second region (services on FIXED_PORTS_B); None or empty: one region only."""
    ports: Literal["fixed", "auto"] = "fixed"
    services: Sequence[str] = SERVICES
    app: str = DEFAULT_APP
    cors_origins: Sequence[str] = ("*",)
    extra_env: dict[str, str] = field(default_factory=dict)
    tls: bool = False
    """HTTPS gateways and TLS servers with a local CA in ``<data_dir>/tls`` (docstore_devplatform.tls)."""
    partitions: int = 1
    """Partitions of each topic the platform creates. One locally: one replica of each service
    reads every topic, and Tansu's idle work grows with the partitions every consumer asks for
    (see docs/ARCHITECTURE.md, "Long polls and idle cost"). Topics that exist keep theirs."""
    broker_storage: BrokerStorage = "s3"
    """Where the broker keeps its log: ``s3`` (durable, in the ``kafka-log`` SeaweedFS) or ``memory``."""
    broker_retention_hours: float = field(
        default_factory=lambda: float(os.environ.get("DOCSTORE_BROKER_RETENTION_HOURS") or 24)
    )
    """On ``s3``: batches older than this, read by every consumer group, are deleted from the log
    (``docstore_devplatform.broker_retention``; 0: kept for ever)."""


class _Shutdown(Exception):
    """Raised in the supervisor's main thread on SIGTERM/SIGINT."""


def _raise_shutdown(signum: int, _frame: object) -> None:
    raise _Shutdown(signal.Signals(signum).name)


def supervise(config: PlatformConfig) -> int:
    """Start servers and services, publish state, then wait for SIGTERM and stop them all.

    Runs in the foreground; ``up`` starts it detached. Returns the exit status.
    """
    data_dir = config.data_dir.resolve()
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    pid_file = data_dir / PID_FILE
    pid_file.write_text(str(os.getpid()))
    state = StateFile(data_dir)
    state.update()
    # A signal unwinds to the `finally` below, which stops services first, then servers.
    install_cleanup(signals=False)
    signal.signal(signal.SIGTERM, _raise_shutdown)
    signal.signal(signal.SIGINT, _raise_shutdown)
    servers: Servers | None = None
    regions: list[ServiceProcesses] = []
    receivers: list[TraceReceiver] = []
    providers: list[oidc.OidcProvider] = []
    try:
        names = [config.region] + ([config.region_b] if config.region_b else [])
        topics, warning = load_topics([topic_prefix_for(name, config.region) for name in names])
        if warning:
            state.progress(f"warning: {warning}")
        buckets = [bucket_for(name) for name in names]
        tls = None
        if config.tls:
            tls = local_tls(data_dir / TLS_DIR)
            # The supervisor's own probes (readiness of S3, Typesense, the gateways) trust the CA too.
            os.environ.update(tls.client_env())
            state.progress(f"TLS: local CA {tls.ca_file}")
        state.progress(
            f"starting servers; broker log {config.broker_storage}; {len(topics)} topics, buckets {', '.join(buckets)}"
        )
        servers = Servers(
            data_dir,
            ports=config.ports,
            topics=topics,
            buckets=buckets,
            cors_origins=config.cors_origins,
            partitions=config.partitions,
            tls=tls,
            broker_storage=config.broker_storage,
        )
        endpoints = servers.start()
        state.progress("servers ready")
        # Every service exports its spans here (see docstore_devplatform.traces).
        receiver = TraceReceiver(data_dir / "logs" / TRACES_FILE, port=otlp_port(config.ports)).start()
        receivers.append(receiver)
        tracing_env = otlp_env(receiver.endpoint)
        state.progress(f"OTLP receiver {receiver.endpoint}, spans in {receiver.path}")
        ports = _region_ports(config, names)
        urls_by_region = {name: service_urls(ports[name], tls=tls is not None) for name in names}
        provider_env: dict[str, str] = {}
        if oidc.installed():
            gateways = oidc.callback_urls(urls["gateway"] for urls in urls_by_region.values() if "gateway" in urls)
            port = oidc.FIXED_PORT if config.ports == "fixed" else free_ports(1)[0]
            provider = oidc.OidcProvider(data_dir, port, gateways).start()
            providers.append(provider)
            provider_env = provider.service_env()
            state.progress(f"OpenID provider {provider.issuer}")
        else:
            state.progress("warning: oidc-provider not installed (scripts/bootstrap); no OpenID sign-in")
        for index, name in enumerate(names):
            state.progress(f"starting services of {name}: {', '.join(config.services)}")
            processes = ServiceProcesses(
                endpoints,
                data_dir if index == 0 else data_dir / name,  # region B logs to .data/<region>/logs/
                region=name,
                ports=ports[name],
                names=config.services,
                app=config.app,
                extra_env=region_wiring(urls_by_region, name, primary=config.region)
                | tracing_env
                | provider_env
                | config.extra_env,
                tls=tls,
            )
            regions.append(processes)
            processes.start()
        state.progress("services ready")
        primary = regions[0]
        state.update(
            state="ready",
            region=config.region,
            data_dir=str(data_dir),
            broker_storage=config.broker_storage,
            logs=str(data_dir / "logs"),
            traces=str(receiver.path),
            otlp_endpoint=receiver.endpoint,
            endpoints=endpoints.to_dict(),
            tls=tls.to_dict() if tls else None,
            services=dict(primary.urls),
            regions={
                p.region: {
                    "services": dict(p.urls),
                    "logs": str(p.data_dir / "logs"),
                    "topic_prefix": topic_prefix_for(p.region, config.region),
                    "bucket": bucket_for(p.region),
                }
                for p in regions
            },
            pids={
                "servers": servers.pids(),
                "services": primary.pids(),
                **{f"{p.region}-services": p.pids() for p in regions[1:]},
            },
        )
        if config.broker_storage == "s3" and config.broker_retention_hours > 0:
            _retain(servers, endpoints, timedelta(hours=config.broker_retention_hours))
        _watch(servers, regions, state)
        return 0
    except _Shutdown:
        return 0
    except Exception as exc:  # noqa: BLE001 - report every startup failure through the state file
        state.update(state="failed", error=f"{type(exc).__name__}: {exc}")
        print(f"platform failed: {exc}", flush=True)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finish stopping, in order
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for processes in reversed(regions):
            processes.stop()
        for provider in providers:
            provider.stop()
        if servers is not None:
            servers.stop()
        for receiver in receivers:
            receiver.stop()
        if state.state["state"] != "failed":
            state.update(state="stopped")
        pid_file.unlink(missing_ok=True)


def _region_ports(config: PlatformConfig, names: Sequence[str]) -> dict[str, dict[str, int]]:
    """Service ports of each region: FIXED_PORTS / FIXED_PORTS_B, or free ones, all known up front
    (each region's services are told the others' URLs)."""
    if config.ports == "fixed":
        return {
            name: {s: fixed[s] for s in config.services}
            for name, fixed in zip(names, (FIXED_PORTS, FIXED_PORTS_B), strict=False)
        }
    return {name: dict(zip(config.services, free_ports(len(config.services)), strict=True)) for name in names}


def _watch(servers: Servers, regions: Sequence[ServiceProcesses], state: StateFile) -> None:
    """Until a signal arrives: restart every child that exits, with backoff (restarts.RestartPolicy),
    and keep ``status``'s view (pids, restart counts, children waiting for a restart) current.

    Runs in the supervisor's main thread, so a SIGTERM (``down``) unwinds out of it, even in the
    middle of a restart, into ``supervise``'s ``finally``: no restart happens during a shutdown.
    A server is restarted and waited for as at start-up (``Servers.start_one``: the broker's topics
    created again if missing); a service is started and left to become ready by itself.
    """
    restart: dict[str, Callable[[], None]] = {}
    procs: dict[str, ManagedProcess] = {}
    for name in servers.names:
        procs[name] = servers.process(name)
        restart[name] = functools.partial(servers.start_one, name)
    for index, services in enumerate(regions):
        suffix = "" if index == 0 else f"@{services.region}"
        for name in services.names:
            procs[f"{name}{suffix}"] = services.process(name)
            restart[f"{name}{suffix}"] = functools.partial(_start_service, services, name)
    now = time.monotonic()
    policies = {name: RestartPolicy(last_start=now) for name in procs}
    exited: dict[str, int | None] = {}

    def publish() -> None:
        state.update(
            exited=exited,
            restarts={name: p.restarts for name, p in policies.items() if p.restarts},
            pids={
                "servers": servers.pids(),
                "services": regions[0].pids(),
                **{f"{p.region}-services": p.pids() for p in regions[1:]},
            },
        )

    while True:
        time.sleep(0.5)  # a signal interrupts this with _Shutdown
        changed = False
        for name, proc in procs.items():
            policy = policies[name]
            now = time.monotonic()
            if proc.alive():
                continue
            if name not in exited:
                exited[name] = proc.returncode()
                delay = policy.exited(now) - now
                _log(f"{name} exited with status {exited[name]}; restart {policy.restarts + 1} in {delay:.0f} s")
                changed = True
            if not policy.due(now):
                continue
            policy.started(now)
            try:
                restart[name]()
            except Exception as exc:  # noqa: BLE001 - a failed restart is retried with more backoff
                _log(f"{name}: restart {policy.restarts} failed: {exc}")
            if proc.alive():
                exited.pop(name, None)
                _log(f"{name} restarted (restart {policy.restarts}, pid {proc.pid})")
            changed = True
        if changed:
            publish()


def _retain(servers: Servers, endpoints: Endpoints, retention: timedelta) -> None:
    """Every ``broker_retention.CHECK_SECONDS``, in a thread of its own, delete from the broker's
    log what retention allows (Tansu 0.6's ``s3://`` engine has no retention of its own)."""
    from docstore_devplatform import broker_retention, probes  # boto3, aiokafka: only when needed

    store = probes.s3_client(
        f"http://{HOST}:{servers.ports.kafka_log_s3}", endpoints.s3_access_key, endpoints.s3_secret_key
    )

    def loop() -> None:
        while True:
            time.sleep(broker_retention.CHECK_SECONDS)
            try:
                deleted = broker_retention.sweep(
                    store, KAFKA_LOG_BUCKET, endpoints.kafka_bootstrap, retention=retention
                )
            except Exception as exc:  # noqa: BLE001 - the broker or its store away: next time
                _log(f"broker retention: {type(exc).__name__}: {exc}"[:300])
                continue
            if deleted:
                _log(f"broker retention: {deleted} batches older than {retention} and read by every group deleted")

    threading.Thread(target=loop, name="broker-retention", daemon=True).start()


def _start_service(services: ServiceProcesses, name: str) -> None:
    services.process(name).start()


def _log(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)
