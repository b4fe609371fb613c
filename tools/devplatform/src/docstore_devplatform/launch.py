"""Ports and command lines of the five local servers (pure functions, no processes)."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Literal

from docstore_devplatform.paths import Binaries
from docstore_devplatform.ports import GRPC_OFFSET, HOST, free_ports
from docstore_devplatform.tls import LocalTLS

SECANTUS_LAUNCHER = Path(__file__).with_name("secantusd.py")
"""Starts SecantusDB with the fix described there; run by the servers venv's Python."""

#: Names of the servers, in start order. ``kafka-log`` is the SeaweedFS that holds the broker's
#: log (Tansu's ``s3://`` storage engine); it runs only with the durable broker (the default).
SERVER_NAMES = ("kafka-log", "kafka", "mongo", "s3", "aws", "typesense")

#: Tansu's storage engines: ``s3`` keeps topics, records and committed offsets in the bucket
#: :data:`KAFKA_LOG_BUCKET` of the ``kafka-log`` SeaweedFS (they survive ``kill -9``);
#: ``memory`` loses everything when the broker stops.
BrokerStorage = Literal["s3", "memory"]
BROKER_STORAGES: tuple[BrokerStorage, ...] = ("s3", "memory")
KAFKA_LOG_BUCKET = "tansu"


@dataclass(frozen=True)
class ServerPorts:
    """Every port the servers listen on. The defaults are the dev platform's fixed ports.

    SeaweedFS opens a gRPC port at HTTP port + 10000 for each ``weed_*`` port and for
    ``s3``; both are reserved when ports are chosen automatically.
    """

    kafka: int = 9092
    mongo: int = 27017
    s3: int = 8333
    aws: int = 5000
    typesense: int = 8108
    typesense_peering: int = 8107
    weed_master: int = 9333
    weed_volume: int = 9340
    weed_filer: int = 8888
    weed_webdav: int = 7333
    weed_admin: int = 23646
    # The second SeaweedFS, which holds only the broker's log (``kafka-log``).
    kafka_log_s3: int = 8334
    kafka_log_master: int = 9334
    kafka_log_volume: int = 9341
    kafka_log_filer: int = 8889
    kafka_log_webdav: int = 7334
    kafka_log_admin: int = 23647

    @classmethod
    def auto(cls) -> ServerPorts:
        """Free loopback ports, none of them a default port."""
        weed_names = [*_WEED_FIELDS, *_KAFKA_LOG_FIELDS]
        other_names = [f.name for f in fields(cls) if f.name not in weed_names]
        chosen = dict(zip(weed_names, free_ports(len(weed_names), offset=GRPC_OFFSET), strict=True))
        chosen |= dict(zip(other_names, free_ports(len(other_names)), strict=True))
        return cls(**chosen)

    def all_ports(self) -> set[int]:
        """Every port in use, including SeaweedFS's gRPC ports."""
        ports = {getattr(self, f.name) for f in fields(self)}
        weed = {getattr(self, name) for name in (*_WEED_FIELDS, *_KAFKA_LOG_FIELDS)}
        return ports | {p + GRPC_OFFSET for p in weed}

    def kafka_log(self) -> ServerPorts:
        """The ports of the broker log's SeaweedFS in the places :func:`weed_argv` reads."""
        return replace(self, **dict(zip(_WEED_FIELDS, (getattr(self, f) for f in _KAFKA_LOG_FIELDS), strict=True)))


_WEED_FIELDS = ("s3", "weed_master", "weed_volume", "weed_filer", "weed_webdav", "weed_admin")
_KAFKA_LOG_FIELDS = tuple(f"kafka_log_{name.removeprefix('weed_')}" for name in _WEED_FIELDS)


def tansu_argv(binaries: Binaries, ports: ServerPorts, storage: BrokerStorage = "s3") -> list[str]:
    """Tansu broker advertising its loopback address; its log in the ``kafka-log`` SeaweedFS
    (``s3``, with :func:`tansu_env`) or in memory."""
    url = f"tcp://{HOST}:{ports.kafka}"
    engine = f"s3://{KAFKA_LOG_BUCKET}/" if storage == "s3" else "memory://tansu/"
    return [
        str(binaries.tansu), "broker",
        "--listener-url", url, "--advertised-listener-url", url,
        "--storage-engine", engine,
    ]  # fmt: skip


def tansu_env(ports: ServerPorts, access_key: str, secret_key: str, region: str) -> dict[str, str]:
    """What Tansu's ``s3://`` engine (the Rust ``object_store`` crate) reads to reach the
    ``kafka-log`` SeaweedFS over plain http on loopback."""
    return {
        "AWS_ENDPOINT": f"http://{HOST}:{ports.kafka_log_s3}",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": region,
    }


def secantus_argv(binaries: Binaries, ports: ServerPorts, data_dir: Path, tls: LocalTLS | None = None) -> list[str]:
    """SecantusDB on WiredTiger files under ``data_dir``; TLS-wrapped with ``tls``'s certificate.
    Started through ``secantusd.py`` (SecantusDB with the fixes named there) when the servers venv's
    Python is known.

    ``--sync-on-commit``: a commit returns once its journal record is on disk. Without it
    (SecantusDB's default, mongod's ``j: false``) WiredTiger keeps committed records in its
    log buffer for a while, and ``kill -9`` lost 1-13 acknowledged transactions of ~300-600 in
    three runs of five writers (issue 32: an upload that answered "complete", or a consumer's
    effect whose offset was already committed, gone). A production replica set acknowledges
    ``w: majority``, journaled. The cost is one fsync per commit (~0.2 ms on this disk)."""
    tls_args = ["--tls-cert-file", str(tls.cert_file), "--tls-key-file", str(tls.key_file)] if tls else []
    # -P: the launcher's folder (this package, with its `platform.py`) stays off `sys.path`.
    python = binaries.servers_python
    command = [str(python), "-P", str(SECANTUS_LAUNCHER)] if python else [str(binaries.secantusd)]
    return [
        *command,
        "--host", HOST,
        "--port", str(ports.mongo),
        "--storage-path", str(data_dir),
        "--log-level", "WARNING",
        "--sync-on-commit",
        *tls_args,
    ]  # fmt: skip


def weed_argv(
    binaries: Binaries, ports: ServerPorts, data_dir: Path, s3_config: Path, tls: LocalTLS | None = None
) -> list[str]:
    """``weed mini`` with every port set explicitly; WebDAV, Iceberg, Lance and admin UI off.
    With ``tls``, the S3 port serves HTTPS only (SeaweedFS: a key and no ``-s3.port.https``)."""

    def http_and_grpc(flag: str, port: int) -> list[str]:
        return [f"-{flag}.port={port}", f"-{flag}.port.grpc={port + GRPC_OFFSET}"]

    return [
        str(binaries.weed), "mini",
        f"-dir={data_dir}",
        f"-ip={HOST}", f"-ip.bind={HOST}",
        f"-s3.config={s3_config}",
        # upload creates (and deletes) short-lived prefix-scoped identities through the embedded
        # IAM API on the S3 port (services/upload README, "Temporary upload credentials").
        "-s3.iam.readOnly=false",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false", f"-webdav.port={ports.weed_webdav}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        *http_and_grpc("s3", ports.s3),
        *http_and_grpc("master", ports.weed_master),
        *http_and_grpc("volume", ports.weed_volume),
        *http_and_grpc("filer", ports.weed_filer),
        *http_and_grpc("admin", ports.weed_admin),
        *([f"-s3.cert.file={tls.cert_file}", f"-s3.key.file={tls.key_file}"] if tls else []),
    ]  # fmt: skip


def weed_s3_config(access_key: str, secret_key: str) -> str:
    """The ``-s3.config`` JSON: one identity with every S3 action."""
    identity = {
        "name": "docstore-admin",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    return json.dumps({"identities": [identity]}, indent=2)


def weed_notification_toml(kafka_bootstrap: str, topic: str | None) -> str:
    """The ``notification.toml`` ``weed`` reads from its working directory: every filer change
    (so every S3 object written or deleted) published to ``topic`` on Kafka, or nothing when
    ``topic`` is None (written anyway, so a ``$HOME/.seaweedfs/notification.toml`` is not used).

    Messages are keyed by the filer path (``/buckets/<bucket>/<object key>``) and carry a
    protobuf ``filer_pb.EventNotification``. ``weed`` exits at start when it cannot reach the
    broker, so Kafka must be up first.
    """
    if topic is None:
        return "[notification.kafka]\nenabled = false\n"
    return (
        f"[notification.kafka]\nenabled = true\nhosts = [{json.dumps(kafka_bootstrap)}]\ntopic = {json.dumps(topic)}\n"
    )


def moto_argv(binaries: Binaries, ports: ServerPorts, tls: LocalTLS | None = None) -> list[str]:
    """moto server (used for SES and STS only); HTTPS with ``tls``'s certificate."""
    tls_args = ["--ssl-cert", str(tls.cert_file), "--ssl-key", str(tls.key_file)] if tls else []
    return [str(binaries.moto_server), "-H", HOST, "-p", str(ports.aws), *tls_args]


def typesense_argv(
    binaries: Binaries, ports: ServerPorts, data_dir: Path, api_key: str, tls: LocalTLS | None = None
) -> list[str]:
    """Typesense with API and peering bound to loopback; the API on HTTPS with ``tls``."""
    tls_args = [f"--ssl-certificate={tls.cert_file}", f"--ssl-certificate-key={tls.key_file}"] if tls else []
    return [
        str(binaries.typesense),
        f"--data-dir={data_dir}",
        f"--api-key={api_key}",
        f"--api-address={HOST}", f"--api-port={ports.typesense}",
        f"--peering-address={HOST}", f"--peering-port={ports.typesense_peering}",
        *tls_args,
    ]  # fmt: skip
