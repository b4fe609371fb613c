"""The whole local platform for one region: servers, then services; and its state file.

The supervisor (``python -m docstore_devplatform supervise``) runs :func:`supervise`;
``up``/``down``/``status`` talk to it through two files in the data dir:

* ``platform.pid``  - the supervisor's pid while it runs;
* ``platform.json`` - its state: ``starting`` (with progress lines), ``ready``
  (endpoints, service URLs, pids), ``failed`` (with the error) or ``stopped``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from docstore_devplatform.launch import SERVER_NAMES
from docstore_devplatform.procs import install_cleanup
from docstore_devplatform.servers import DEFAULT_REGION, Servers
from docstore_devplatform.services import (
    DEFAULT_APP,
    SERVICES,
    ServiceProcesses,
    bucket_for,
)
from docstore_devplatform.state import PID_FILE, StateFile


def load_topics() -> tuple[list[str], str | None]:
    """Every Kafka topic from ``docstore_events.topics.all_topics()``, and a warning if unavailable."""
    try:
        from docstore_events.topics import all_topics  # type: ignore[import-not-found]
    except ImportError as exc:
        return [], f"docstore_events.topics not importable ({exc}); starting with no topics"
    try:
        return list(all_topics()), None
    except Exception as exc:  # noqa: BLE001 - someone else's module; report, don't crash
        return [], f"docstore_events.topics.all_topics() failed ({exc!r}); starting with no topics"


@dataclass
class PlatformConfig:
    """What ``up`` starts."""

    data_dir: Path
    region: str = DEFAULT_REGION
    ports: str = "fixed"  # or "auto"
    services: Sequence[str] = SERVICES
    app: str = DEFAULT_APP
    cors_origins: Sequence[str] = ("*",)
    extra_env: dict[str, str] = field(default_factory=dict)


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
    services: ServiceProcesses | None = None
    try:
        topics, warning = load_topics()
        if warning:
            state.progress(f"warning: {warning}")
        bucket = bucket_for(config.region)
        state.progress(f"starting servers: {', '.join(SERVER_NAMES)}; {len(topics)} topics, bucket {bucket}")
        servers = Servers(
            data_dir,
            ports=config.ports,  # type: ignore[arg-type]
            topics=topics,
            buckets=[bucket],
            cors_origins=config.cors_origins,
        )
        endpoints = servers.start()
        state.progress("servers ready")
        state.progress(f"starting services: {', '.join(config.services)}")
        services = ServiceProcesses(
            endpoints,
            data_dir,
            region=config.region,
            ports=config.ports,  # type: ignore[arg-type]
            names=config.services,
            app=config.app,
            extra_env=config.extra_env,
        )
        urls = services.start()
        state.progress("services ready")
        state.update(
            state="ready",
            region=config.region,
            data_dir=str(data_dir),
            logs=str(data_dir / "logs"),
            endpoints=endpoints.to_dict(),
            services=urls,
            pids={"servers": servers.pids(), "services": services.pids()},
        )
        _watch(servers, services, state)
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
        if services is not None:
            services.stop()
        if servers is not None:
            servers.stop()
        if state.state["state"] != "failed":
            state.update(state="stopped")
        pid_file.unlink(missing_ok=True)


def _watch(servers: Servers, services: ServiceProcesses, state: StateFile) -> None:
    """Until a signal arrives: note children that exit, so ``status`` can show them."""
    procs = {name: servers.process(name) for name in SERVER_NAMES}
    procs |= {name: services.process(name) for name in services.names}
    exited: dict[str, int | None] = {}
    while True:
        time.sleep(1.0)  # a signal interrupts this with _Shutdown
        new = {name: proc.returncode() for name, proc in procs.items() if not proc.alive() and name not in exited}
        if new:
            for name, status in sorted(new.items()):
                print(f"{time.strftime('%H:%M:%S')} {name} exited with status {status}", flush=True)
            exited |= new
            state.update(exited=exited, pids={"servers": servers.pids(), "services": services.pids()})
