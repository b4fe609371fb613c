"""The test platform as a pytest plugin: the real servers, started once per test run, and the
fixtures every test folder shares. `pyproject.toml` loads it for every run
(``addopts = "-p docstore_devplatform.pytest_plugin"``), so no conftest imports fixtures and no
test edits ``sys.path``; it also loads `docstore_devplatform.e2e` (the whole system, both
regions: `system`, `region_b`, `region_urls`, `api`), so one run starts that system at most once
whichever folders ask for it.

`DOCSTORE_TEST_ENDPOINTS` chooses where the servers come from:
- unset: local processes on free loopback ports with data in a fresh folder
  (`docstore_devplatform.servers`);
- `containers`: containers started with testcontainers (`docstore_devplatform.containers`); where
  no Docker engine is reachable, every test that needs a server skips, saying so;
- `env`: the endpoints already in the environment (a running compose stack: deploy/README.md).
Integration tests get a topic prefix and database of their own, so they never share
consumer groups with each other or with the end-to-end system.

Every test that needs no server (none of `SERVER_FIXTURES` among its fixtures, and not marked
`integration` or `e2e`) is marked `quick`: `scripts/test -m quick` is the inner loop.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from docstore_devplatform import probes, test_groups
from docstore_devplatform.testing import (
    TEST_GROUP_MEMBERSHIP_ENV,
    TEST_TOPIC_PARTITIONS,
    EventPublisher,
    kafka_consumers_left_running,
    running_kafka_consumer_loops,
)
from docstore_events.topics import DEAD_LETTER_SUFFIX, all_topics

# The whole system (both regions) and its helpers' fixtures, registered once with this plugin; and
# the watchdog that ends a hung run with its stacks (pytest-timeout's signal misses async hangs).
pytest_plugins = ["docstore_devplatform.e2e", "docstore_devplatform.hang_watchdog"]

REGION = "us-west-2"
BUCKET = f"docstore-{REGION}"


def _endpoints_from_env():
    from docstore_devplatform.servers import Endpoints

    return Endpoints(
        kafka_bootstrap=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        mongo_url=os.environ["MONGODB_URL"],
        s3_endpoint=os.environ["S3_ENDPOINT_URL"],
        s3_access_key=os.environ["AWS_ACCESS_KEY_ID"],
        s3_secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        aws_endpoint=os.environ["AWS_ENDPOINT_URL_SES"],
        typesense_url=os.environ["TYPESENSE_URL"],
        typesense_api_key=os.environ["TYPESENSE_API_KEY"],
    )


@pytest.fixture(scope="session")
def test_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this run's own; server data and logs live here."""
    return tmp_path_factory.mktemp("docstore")


ENDPOINT_MODES = ("processes", "containers", "env")


def _endpoint_mode() -> str:
    mode = os.environ.get("DOCSTORE_TEST_ENDPOINTS") or "processes"
    if mode not in ENDPOINT_MODES:
        raise pytest.UsageError(f"DOCSTORE_TEST_ENDPOINTS={mode!r}: expected one of {', '.join(ENDPOINT_MODES)}")
    return mode


@pytest.fixture(scope="session")
def endpoints(test_data_dir: Path) -> Iterator[object]:
    """The real Kafka, MongoDB, S3, SES/STS and Typesense servers for this run."""
    mode = _endpoint_mode()
    if mode == "env":
        yield _endpoints_from_env()
        return
    if mode == "containers":
        from docstore_devplatform.containers import ContainerServers, docker_engine_problem

        problem = docker_engine_problem()
        if problem:
            pytest.skip(problem)
        servers = ContainerServers(topics=all_topics(), buckets=[BUCKET], partitions=TEST_TOPIC_PARTITIONS)
    else:
        from docstore_devplatform.servers import Servers

        # The broker's log stays in memory here (DOCSTORE_TEST_BROKER_STORAGE=s3 for the durable one):
        # see the README, "What runs", for the figures. tests/faults starts a
        # platform of its own with the durable broker.
        storage = os.environ.get("DOCSTORE_TEST_BROKER_STORAGE") or "memory"
        servers = Servers(
            test_data_dir / "servers",
            ports="auto",
            topics=all_topics(),
            buckets=[BUCKET],
            partitions=TEST_TOPIC_PARTITIONS,
            broker_storage=storage,
        )
    try:
        endpoints = servers.start()
        saved = dict(os.environ)
        # boto3 in tests and in-process apps read these, and the systems the tests start inherit them
        os.environ.update(endpoints.service_env() | TEST_GROUP_MEMBERSHIP_ENV)
        yield endpoints
        os.environ.clear()
        os.environ.update(saved)
    finally:
        servers.stop()


@pytest_asyncio.fixture
async def isolated(endpoints, request: pytest.FixtureRequest) -> AsyncIterator[dict[str, str]]:
    """Settings values for one in-process service under test: own database, own topics.

    Each topic has one partition (`TEST_TOPIC_PARTITIONS`, which says why) unless the test is
    marked `partitions(n)`.

    The topics are deleted when the test ends: every metadata request lists all topics, so a
    broker holding every test's topics (about 110 each) made the whole run slower as it went,
    until S3 notifications and end-to-end mails missed their waits late in CI. A test that leaves
    a Kafka consumer running fails: on deleted topics it spins on metadata requests.
    """
    consumers_before = running_kafka_consumer_loops()
    suffix = uuid.uuid4().hex[:10]
    prefix = f"t{suffix}."
    topics = all_topics(prefix)
    # Dead-letter topics are left to the broker, which creates one when its first message arrives.
    marker = request.node.get_closest_marker("partitions")
    await asyncio.to_thread(
        probes.create_topics,
        endpoints.kafka_bootstrap,
        [t for t in topics if not t.endswith(DEAD_LETTER_SUFFIX)],
        marker.args[0] if marker else TEST_TOPIC_PARTITIONS,
    )
    yield {
        "kafka_bootstrap_servers": endpoints.kafka_bootstrap,
        "kafka_topic_prefix": prefix,
        "mongodb_url": endpoints.mongo_url,
        "mongodb_database": f"test_{suffix}",
        "region": REGION,
    }
    left_running = await kafka_consumers_left_running(consumers_before)
    await asyncio.to_thread(probes.delete_topics, endpoints.kafka_bootstrap, topics)
    if left_running:
        names = sorted(task.get_coro().__qualname__ for task in left_running)
        pytest.fail(f"Kafka consumers still run after the test (stop them in its fixtures): {names}")


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans the process's tracer provider ends during the test.

    Only the first provider set in a process sticks, so one is installed only if none is, and
    this test's exporter is added to it.
    """
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


@pytest_asyncio.fixture
async def publisher(isolated: dict[str, str]) -> AsyncIterator[EventPublisher]:
    """Feeds events into the isolated topics, as the services' producers would."""
    producer = AIOKafkaProducer(bootstrap_servers=isolated["kafka_bootstrap_servers"], acks="all")
    await producer.start()
    try:
        yield EventPublisher(producer, isolated["kafka_topic_prefix"])
    finally:
        await producer.stop()


#: A test that uses any of these (directly or through another fixture) needs servers.
SERVER_FIXTURES = frozenset({"endpoints", "test_data_dir"})
#: Folders whose tests start servers or a system of their own.
SYSTEM_FOLDERS = frozenset({"integration", "e2e", "browser", "security", "faults"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "quick: needs no server and starts no system (set by the plugin): `scripts/test -m quick`"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark `quick` every test that needs no server: none of `SERVER_FIXTURES` among its fixtures,
    not marked `integration` or `e2e`, and not in a folder of system tests (`SYSTEM_FOLDERS`).
    Fail the run if a test uses a system from outside that system's worker group (`test_groups`),
    and run the shared system's tests last, so the system is up only while they run."""
    test_groups.check_groups(items)
    test_groups.shared_system_last(items)
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            continue
        if item.get_closest_marker("integration") or item.get_closest_marker("e2e"):
            continue
        if SYSTEM_FOLDERS.intersection(item.path.parts):
            continue
        item.add_marker(pytest.mark.quick)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """On several workers (`-n 2`), hand out DocStore's groups: one system start per system."""
    return test_groups.GroupScheduling(config, log)
