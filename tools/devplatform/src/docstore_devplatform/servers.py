"""Start and stop the real local servers as child processes.

>>> with Servers(tmp_path, topics=["files.v1"], buckets=["docstore-us-west-2"]) as endpoints:
...     os.environ.update(endpoints.service_env())

========== =========================== ======================================
name       server                      state kept in ``data_dir``
========== =========================== ======================================
kafka-log  SeaweedFS ``weed mini``     ``kafka-log/``: the broker's log (bucket ``tansu``)
kafka      Tansu (Kafka protocol)      in ``kafka-log`` (``s3://tansu/``); with
                                       ``broker_storage="memory"``: none, topics
                                       are re-created on start
mongo      SecantusDB (Mongo protocol) ``mongo/``
s3         SeaweedFS ``weed mini``     ``s3/``
aws        moto (SES and STS only)     none
typesense  Typesense                   ``typesense/``
========== =========================== ======================================

Logs go to ``<data_dir>/logs/<name>.log``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from docstore_devplatform.launch import (
    KAFKA_LOG_BUCKET,
    SERVER_NAMES,
    BrokerStorage,
    ServerPorts,
    moto_argv,
    secantus_argv,
    tansu_argv,
    tansu_env,
    typesense_argv,
    weed_argv,
    weed_notification_toml,
    weed_s3_config,
)
from docstore_devplatform.paths import Binaries, find_binaries
from docstore_devplatform.ports import HOST, is_port_free
from docstore_devplatform.procs import ManagedProcess, stop_all
from docstore_devplatform.tls import LocalTLS
from docstore_devplatform.waiting import StartupError, wait_until

__all__ = ["S3_EVENTS_TOPIC", "SERVER_NAMES", "Endpoints", "ServerPorts", "Servers", "StartupError"]

DEV_S3_ACCESS_KEY = "docstore"
DEV_S3_SECRET_KEY = "docstore-dev-secret"  # local servers only, never a real credential
DEV_TYPESENSE_API_KEY = "docstore-dev-typesense-key"
DEFAULT_REGION = "us-west-2"
PROBE_BUCKET = "devplatform-readiness"
#: Where SeaweedFS publishes its bucket notifications (every filer change); shared by the regions.
S3_EVENTS_TOPIC = "docstore.s3-events"
_MONGO_CA_PARAM = "&tlsCAFile="


PLATFORM_MEMBERSHIP_ENV = {"KAFKA_SESSION_TIMEOUT_MS": "6000", "KAFKA_HEARTBEAT_INTERVAL_MS": "2000"}
"""Consumer-group membership of the platform `scripts/up` starts (and of the benches' systems),
unless their environment names its own (the test systems': `testing.TEST_GROUP_MEMBERSHIP_ENV`).
Tansu holds each JoinGroup for half the session timeout, so a join takes 3 s (5 s at Kafka's and
production's 10 s). On the durable broker log each heartbeat is a PUT of the group's state to the
log's store: with heartbeats every 600 ms the idle platform (20 groups) took 0.31 cores, every 2 s
0.18, and every 3 s (10 s sessions) also 0.18 (`bench/idle.py`, 2026-11-30)."""


@dataclass(frozen=True)
class Endpoints:
    """How clients reach the running servers."""

    kafka_bootstrap: str
    mongo_url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    aws_endpoint: str
    typesense_url: str
    typesense_api_key: str
    s3_events_topic: str = ""
    """The Kafka topic S3 publishes its bucket notifications to; empty: none."""
    ca_file: str = ""
    """The local CA that signs the servers' certificates (``up --tls``); empty: plain servers."""

    def service_env(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """Environment variables the DocStore services read their server settings from."""
        return (
            {
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
                "MONGODB_URL": self.mongo_url,
                "S3_ENDPOINT_URL": self.s3_endpoint,
                "AWS_ACCESS_KEY_ID": self.s3_access_key,
                "AWS_SECRET_ACCESS_KEY": self.s3_secret_key,
                "AWS_DEFAULT_REGION": region,
                "AWS_ENDPOINT_URL_SES": self.aws_endpoint,
                "AWS_ENDPOINT_URL_STS": self.aws_endpoint,
                "TYPESENSE_URL": self.typesense_url,
                "TYPESENSE_API_KEY": self.typesense_api_key,
            }
            | ({"S3_EVENTS_TOPIC": self.s3_events_topic} if self.s3_events_topic else {})
            | self._tls_env()
        )

    def _tls_env(self) -> dict[str, str]:
        """With TLS, each client is told the CA through its own setting: the services' MongoDB URL
        loses its ``tlsCAFile`` (MONGODB_TLS_CA_FILE must carry it), botocore reads AWS_CA_BUNDLE,
        httpx (Typesense, peer gateways) SSL_CERT_FILE."""
        if not self.ca_file:
            return {}
        return {
            "MONGODB_URL": self.mongo_url.split(_MONGO_CA_PARAM)[0],
            "MONGODB_TLS_CA_FILE": self.ca_file,
            "AWS_CA_BUNDLE": self.ca_file,
            "SSL_CERT_FILE": self.ca_file,
        }

    def to_dict(self) -> dict[str, str]:
        """Plain dict (for JSON state files)."""
        return asdict(self)

    @classmethod
    def for_ports(
        cls, ports: ServerPorts, *, s3_events_topic: str | None = None, tls: LocalTLS | None = None
    ) -> Endpoints:
        """The endpoints of servers listening on ``ports`` with the dev credentials; https (and a
        MongoDB URL with ``tls=true`` and the CA) when the servers use ``tls``'s certificate."""
        scheme = "https" if tls else "http"
        # SecantusDB advertises a single-node replica set; a direct connection avoids
        # depending on the advertised host name and still allows transactions and
        # change streams.
        mongo_url = f"mongodb://{HOST}:{ports.mongo}/?directConnection=true"
        if tls:
            mongo_url += f"&tls=true{_MONGO_CA_PARAM}{quote(str(tls.ca_file), safe='/')}"
        return cls(
            kafka_bootstrap=f"{HOST}:{ports.kafka}",
            mongo_url=mongo_url,
            s3_endpoint=f"{scheme}://{HOST}:{ports.s3}",
            s3_access_key=DEV_S3_ACCESS_KEY,
            s3_secret_key=DEV_S3_SECRET_KEY,
            aws_endpoint=f"{scheme}://{HOST}:{ports.aws}",
            typesense_url=f"{scheme}://{HOST}:{ports.typesense}",
            typesense_api_key=DEV_TYPESENSE_API_KEY,
            s3_events_topic=s3_events_topic or "",
            ca_file=str(tls.ca_file) if tls else "",
        )


#: Servers that must serve before another is launched: Tansu's ``s3://`` engine cannot answer
#: even a metadata request without its SeaweedFS, and ``weed`` exits at start when it cannot
#: reach the broker it notifies. (Hence two SeaweedFS: one holding the broker's log, one the
#: documents and notifying the broker; a single one could not start, nor restart, first.)
NEEDS: dict[str, str] = {"kafka": "kafka-log", "s3": "kafka"}


class Servers:
    """The local servers as child processes; also a context manager yielding :class:`Endpoints`.

    ``broker_storage="s3"`` (the default) keeps Tansu's log in a SeaweedFS of its own
    (``kafka-log``), so topics, records and committed offsets survive a ``kill -9`` of the broker
    and a restart of the platform; ``"memory"`` starts the broker empty every time, without
    ``kafka-log``.

    ``ports="auto"`` (default) picks free loopback ports that are never a default port,
    so test servers run beside the dev platform; ``ports="fixed"`` uses the dev
    defaults (Kafka 9092, Mongo 27017, S3 8333, moto 5000, Typesense 8108); or pass a
    :class:`ServerPorts`.

    SeaweedFS publishes every filer change to ``s3_events_topic`` (created with the other
    topics, and its ``.dlq``); None turns its notifications off.

    With ``tls`` (docstore_devplatform.tls), S3, MongoDB, Typesense and moto serve TLS with its
    certificate; the caller's process must trust its CA (``tls.client_env()``) for the probes.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        ports: Literal["auto", "fixed"] | ServerPorts = "auto",
        topics: Iterable[str] = (),
        buckets: Iterable[str] = (),
        s3_events_topic: str | None = S3_EVENTS_TOPIC,
        cors_origins: Iterable[str] = ("*",),
        partitions: int = 3,
        startup_timeout: float = 60.0,
        stop_timeout: float = 10.0,
        binaries: Binaries | None = None,
        tls: LocalTLS | None = None,
        broker_storage: BrokerStorage = "s3",
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.broker_storage: BrokerStorage = broker_storage
        self.names: tuple[str, ...] = tuple(n for n in SERVER_NAMES if n != "kafka-log" or broker_storage == "s3")
        self.tls = tls
        if ports == "auto":
            ports = ServerPorts.auto()
        elif ports == "fixed":
            ports = ServerPorts()
        self.ports: ServerPorts = ports
        self.s3_events_topic = s3_events_topic
        self.topics = list(topics)
        if s3_events_topic:
            self.topics += [t for t in (s3_events_topic, f"{s3_events_topic}.dlq") if t not in self.topics]
        self.buckets = list(buckets)
        self.cors_origins = list(cors_origins)
        self.partitions = partitions
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.endpoints = Endpoints.for_ports(self.ports, s3_events_topic=s3_events_topic, tls=tls)
        self._binaries = binaries
        self._procs: dict[str, ManagedProcess] = {}

    # --- lifecycle ---------------------------------------------------------

    def start(self) -> Endpoints:
        """Start all servers, wait until each really serves, create topics and buckets."""
        self._check_ports_free()
        try:
            ready: set[str] = set()
            needs = {name: NEEDS.get(name) for name in self.names}
            if not self.s3_events_topic:
                needs["s3"] = None
            # Those that wait for no other start first, so MongoDB, moto and Typesense come up
            # while the broker's store and the broker do (issue 32: the durable broker's chain).
            first = [name for name in self.names if needs.get(name) not in self.names]
            for name in first + [name for name in self.names if name not in first]:
                needed = needs.get(name)
                if needed in self.names and needed not in ready:
                    self._wait_ready(needed)
                    ready.add(needed)
                self._launch(name)
            for name in self.names:
                if name not in ready:
                    self._wait_ready(name)
        except BaseException:
            self.stop()
            raise
        return self.endpoints

    def stop(self) -> None:
        """Stop every server: SIGTERM together, SIGKILL whatever is left after ``stop_timeout``."""
        stop_all(self._procs.values(), timeout=self.stop_timeout)

    def start_one(self, name: str) -> None:
        """(Re)start one server and wait until it is ready (re-creating topics or buckets)."""
        self._launch(name)
        self._wait_ready(name)

    def stop_one(self, name: str, *, kill: bool = False) -> None:
        """Stop one server gracefully, or SIGKILL it with ``kill=True`` (crash tests)."""
        proc = self._procs[name]
        proc.kill() if kill else proc.stop(self.stop_timeout)

    def process(self, name: str) -> ManagedProcess:
        """The child process running server ``name``."""
        return self._procs[name]

    def pids(self) -> dict[str, int]:
        """Pids of the servers that are running."""
        return {name: p.pid for name, p in self._procs.items() if p.alive() and p.pid}

    def log_path(self, name: str) -> Path:
        """The log file of server ``name``."""
        return self.data_dir / "logs" / f"{name}.log"

    def __enter__(self) -> Endpoints:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- internals -----------------------------------------------------------

    def _check_ports_free(self) -> None:
        busy = sorted(p for p in self.ports.all_ports() if not is_port_free(p))
        if busy:
            raise StartupError(
                f"ports already in use on {HOST}: {busy}. Another platform running? "
                "Try `python -m docstore_devplatform status`, or use auto ports."
            )

    def _launch(self, name: str) -> None:
        binaries = self._binaries = self._binaries or find_binaries()
        data = self.data_dir / name
        env: dict[str, str] | None = None
        cwd = self.data_dir
        if name == "kafka":
            argv = tansu_argv(binaries, self.ports, self.broker_storage)
            if self.broker_storage == "s3":
                keys = (self.endpoints.s3_access_key, self.endpoints.s3_secret_key)
                env = os.environ | tansu_env(self.ports, *keys, DEFAULT_REGION)
        elif name == "kafka-log":
            data.mkdir(parents=True, exist_ok=True)
            config = data / "s3-identities.json"
            config.write_text(weed_s3_config(self.endpoints.s3_access_key, self.endpoints.s3_secret_key))
            (data / "notification.toml").write_text(weed_notification_toml("", None))  # read from its cwd
            argv = weed_argv(binaries, self.ports.kafka_log(), data, config)  # plain http, loopback only
            cwd = data
        elif name == "mongo":
            data.mkdir(parents=True, exist_ok=True)
            argv = secantus_argv(binaries, self.ports, data, self.tls)
        elif name == "s3":
            data.mkdir(parents=True, exist_ok=True)
            config = self.data_dir / "s3-identities.json"
            config.write_text(weed_s3_config(self.endpoints.s3_access_key, self.endpoints.s3_secret_key))
            # weed reads ./notification.toml: its working directory is the data dir (below).
            notification = weed_notification_toml(self.endpoints.kafka_bootstrap, self.s3_events_topic or None)
            (self.data_dir / "notification.toml").write_text(notification)
            argv = weed_argv(binaries, self.ports, data, config, self.tls)
        elif name == "aws":
            argv = moto_argv(binaries, self.ports, self.tls)
        elif name == "typesense":
            data.mkdir(parents=True, exist_ok=True)
            argv = typesense_argv(binaries, self.ports, data, self.endpoints.typesense_api_key, self.tls)
        else:
            raise ValueError(f"unknown server {name!r}; known: {SERVER_NAMES}")
        proc = self._procs.get(name)
        if proc is None or proc.argv != argv:
            proc = self._procs[name] = ManagedProcess(name, argv, self.log_path(name), env=env, cwd=cwd)
        proc.start()

    def _wait_ready(self, name: str) -> None:
        proc = self._procs[name]
        for what, check in self._readiness_steps(name):
            wait_until(check, what=f"{name}: {what}", timeout=self.startup_timeout, proc=proc)

    def _readiness_steps(self, name: str) -> list[tuple[str, Callable[[], object]]]:
        from docstore_devplatform import (
            probes,  # boto3, pymongo, aiokafka: imported only when needed
        )

        ep = self.endpoints
        if name == "kafka-log":
            store = probes.s3_client(f"http://{HOST}:{self.ports.kafka_log_s3}", ep.s3_access_key, ep.s3_secret_key)
            return [
                (f"create bucket {KAFKA_LOG_BUCKET}", functools.partial(probes.create_bucket, store, KAFKA_LOG_BUCKET)),
                ("object PUT then GET", functools.partial(probes.check_s3_object_io, store, KAFKA_LOG_BUCKET)),
            ]
        if name == "kafka":
            return [
                (f"metadata from {ep.kafka_bootstrap}", functools.partial(probes.check_kafka, ep.kafka_bootstrap)),
                (
                    f"create {len(self.topics)} topics",
                    functools.partial(probes.create_topics, ep.kafka_bootstrap, self.topics, self.partitions),
                ),
            ]
        if name == "mongo":
            return [(f"ping and transaction on {ep.mongo_url}", functools.partial(probes.check_mongo, ep.mongo_url))]
        if name == "s3":
            s3 = probes.s3_client(ep.s3_endpoint, ep.s3_access_key, ep.s3_secret_key)

            def buckets() -> None:
                for bucket in [PROBE_BUCKET, *self.buckets]:
                    probes.ensure_bucket(s3, bucket, self.cors_origins)

            return [
                (f"create buckets {self.buckets} with CORS", buckets),
                ("object PUT then GET", functools.partial(probes.check_s3_object_io, s3, PROBE_BUCKET)),
            ]
        if name == "aws":
            return [("moto API", functools.partial(probes.check_http_ok, f"{ep.aws_endpoint}/moto-api/data.json"))]
        if name == "typesense":
            health = f"{ep.typesense_url}/health"
            return [("health ok", functools.partial(probes.check_http_ok, health, expect_json={"ok": True}))]
        raise ValueError(f"unknown server {name!r}")
