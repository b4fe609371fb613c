"""The test servers as containers, for `DOCSTORE_TEST_ENDPOINTS=containers` (docstore_devplatform.pytest_plugin).

Kafka (KRaft, testcontainers' `KafkaContainer`), MongoDB (a single-node replica set, which
transactions and change streams need), SeaweedFS for S3, Typesense, and moto for SES/STS, each
on a port Docker maps on the engine's host; `start()` waits until each really serves and
creates the topics and buckets, as `Servers.start()` does for local processes. The images are
docker-compose.yml's (tests/deploy checks they agree), so compose and this mode run the same
versions.

A Docker engine is needed. `docker_engine_problem()` says why none is usable, and the endpoints
fixture skips with that reason. `testcontainers` is a root dev-group dependency: imported here
only, when the mode is chosen.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from docstore_devplatform.launch import weed_s3_config
from docstore_devplatform.servers import (
    DEV_S3_ACCESS_KEY,
    DEV_S3_SECRET_KEY,
    DEV_TYPESENSE_API_KEY,
    PROBE_BUCKET,
    Endpoints,
)
from docstore_devplatform.waiting import wait_until

# docker-compose.yml runs apache/kafka; testcontainers' KafkaContainer drives Confluent's image
# (its KRaft start script is written for it), so Kafka alone is pinned here.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
MONGODB_IMAGE = "mongo:8.0.12"
S3_IMAGE = "chrislusf/seaweedfs:4.48"
TYPESENSE_IMAGE = "typesense/typesense:0.24.1"
MOTO_IMAGE = "motoserver/moto:5.1.4"
# The compose service each image is compared with (tests/deploy/test_containers_mode.py).
COMPOSE_IMAGES = {"mongodb": MONGODB_IMAGE, "s3": S3_IMAGE, "typesense": TYPESENSE_IMAGE, "moto": MOTO_IMAGE}


def _ping_engine() -> None:
    from testcontainers.core.docker_client import DockerClient  # DOCKER_HOST, docker context, TC_HOST

    DockerClient(timeout=10).client.ping()


def docker_engine_problem(ping: Callable[[], object] | None = None) -> str | None:
    """Why containers mode cannot run here (no testcontainers, no reachable Docker engine), or None.

    `ping` reaches the engine (default: testcontainers' client, which honours DOCKER_HOST,
    the current docker context and TC_HOST); it raises when none answers."""
    if ping is None:
        try:
            import testcontainers  # noqa: F401
        except ImportError:
            return "DOCSTORE_TEST_ENDPOINTS=containers needs the testcontainers package (root dev group): uv sync"
        ping = _ping_engine
    try:
        ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the engine means "no engine"
        import os

        where = os.environ.get("DOCKER_HOST") or "the default socket (unix:///var/run/docker.sock)"
        return (
            f"DOCSTORE_TEST_ENDPOINTS=containers needs a Docker engine, and none is reachable at {where}: "
            f"{type(exc).__name__}: {exc}. Start one (or set DOCKER_HOST), or run without the variable "
            "(local server processes) or with =env (a running compose stack)."
        )
    return None


class ContainerServers:
    """Kafka, MongoDB, S3, SES/STS and Typesense as containers; `start()` gives their Endpoints."""

    def __init__(
        self,
        *,
        topics: Sequence[str],
        buckets: Sequence[str],
        cors_origins: Sequence[str] = ("*",),
        partitions: int = 3,
        startup_timeout: float = 300.0,
    ) -> None:
        self.topics = list(topics)
        self.buckets = list(buckets)
        self.cors_origins = list(cors_origins)
        self.partitions = partitions
        self.startup_timeout = startup_timeout
        self._containers: dict[str, Any] = {}

    def start(self) -> Endpoints:
        """Start every container, wait until each serves, create topics and buckets."""
        try:
            self._start_containers()
            endpoints = self.endpoints
            for what, check in self._readiness_steps(endpoints):
                wait_until(check, what=what, timeout=self.startup_timeout, interval=0.5)
        except BaseException:
            self.stop()
            raise
        return endpoints

    def stop(self) -> None:
        """Remove every container started (testcontainers' reaper also does, should this process die)."""
        for container in self._containers.values():
            try:
                container.stop()
            except Exception:  # noqa: BLE001, S112 - stop the others too
                continue
        self._containers.clear()

    @property
    def endpoints(self) -> Endpoints:
        def url(name: str, port: int) -> str:
            container = self._containers[name]
            return f"http://{container.get_container_host_ip()}:{container.get_exposed_port(port)}"

        mongo = self._containers["mongo"]
        return Endpoints(
            kafka_bootstrap=self._containers["kafka"].get_bootstrap_server(),
            # The replica set names its member localhost:27017 (inside the container): connect
            # directly to the mapped port instead of following the advertised host.
            mongo_url=f"mongodb://{mongo.get_container_host_ip()}:{mongo.get_exposed_port(27017)}/?directConnection=true",
            s3_endpoint=url("s3", 8333),
            s3_access_key=DEV_S3_ACCESS_KEY,
            s3_secret_key=DEV_S3_SECRET_KEY,
            aws_endpoint=url("aws", 5000),
            typesense_url=url("typesense", 8108),
            typesense_api_key=DEV_TYPESENSE_API_KEY,
        )

    # --- internals -----------------------------------------------------------

    def _start_containers(self) -> None:
        from testcontainers.community.kafka import KafkaContainer
        from testcontainers.core.container import DockerContainer

        # Pulls may take minutes; the start of each is checked by `_readiness_steps`.
        kafka = KafkaContainer(KAFKA_IMAGE).with_kraft().with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        self._containers["kafka"] = kafka.start(timeout=int(self.startup_timeout))
        mongo = DockerContainer(MONGODB_IMAGE).with_command(["mongod", "--replSet", "rs0", "--bind_ip_all"])
        self._containers["mongo"] = mongo.with_exposed_ports(27017).start()
        s3 = (
            DockerContainer(S3_IMAGE)
            .with_command(
                [
                    "server",
                    "-dir=/data",
                    "-ip=127.0.0.1",
                    "-ip.bind=0.0.0.0",
                    "-volume.max=0",
                    "-s3",
                    "-s3.port=8333",
                    "-s3.config=/etc/seaweedfs/s3.json",
                    "-s3.iam.readOnly=false",  # upload's temporary credentials (launch.weed_argv)
                ]
            )
            .with_copy_into_container(
                weed_s3_config(DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY).encode(), "/etc/seaweedfs/s3.json"
            )
            .with_exposed_ports(8333)
        )
        self._containers["s3"] = s3.start()
        typesense = (
            DockerContainer(TYPESENSE_IMAGE)
            .with_command(
                [
                    "--data-dir",
                    "/data",
                    "--api-key",
                    DEV_TYPESENSE_API_KEY,
                    "--api-address",
                    "0.0.0.0",
                    "--api-port",
                    "8108",
                    "--enable-cors",
                ]
            )
            .with_tmpfs_mount("/data")
            .with_exposed_ports(8108)
        )
        self._containers["typesense"] = typesense.start()
        self._containers["aws"] = DockerContainer(MOTO_IMAGE).with_exposed_ports(5000).start()

    def _readiness_steps(self, ep: Endpoints) -> list[tuple[str, Callable[[], object]]]:
        from docstore_devplatform import probes

        s3 = probes.s3_client(ep.s3_endpoint, ep.s3_access_key, ep.s3_secret_key)

        def buckets() -> None:
            for bucket in [PROBE_BUCKET, *self.buckets]:
                probes.ensure_bucket(s3, bucket, self.cors_origins)

        return [
            (f"kafka: metadata from {ep.kafka_bootstrap}", functools.partial(probes.check_kafka, ep.kafka_bootstrap)),
            (
                f"kafka: create {len(self.topics)} topics",
                functools.partial(probes.create_topics, ep.kafka_bootstrap, self.topics, self.partitions),
            ),
            ("mongo: replica set rs0 initiated", functools.partial(initiate_replica_set, ep.mongo_url)),
            (f"mongo: ping and transaction on {ep.mongo_url}", functools.partial(probes.check_mongo, ep.mongo_url)),
            (f"s3: create buckets {self.buckets} with CORS", buckets),
            ("s3: object PUT then GET", functools.partial(probes.check_s3_object_io, s3, PROBE_BUCKET)),
            ("aws: moto API", functools.partial(probes.check_http_ok, f"{ep.aws_endpoint}/moto-api/data.json")),
            (
                "typesense: health ok",
                functools.partial(probes.check_http_ok, f"{ep.typesense_url}/health", expect_json={"ok": True}),
            ),
        ]


def initiate_replica_set(mongo_url: str) -> None:
    """Make the fresh mongod a one-member replica set (once), then wait for it to be primary."""
    import pymongo
    from pymongo.errors import OperationFailure

    with pymongo.MongoClient(mongo_url, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000) as client:
        try:
            client.admin.command("replSetInitiate", {"_id": "rs0", "members": [{"_id": 0, "host": "localhost:27017"}]})
        except OperationFailure as exc:
            if exc.code != 23:  # AlreadyInitialized: a retry after a first call that got through
                raise
        if not client.admin.command("hello").get("isWritablePrimary"):
            raise RuntimeError("replica set initiated, not primary yet")
