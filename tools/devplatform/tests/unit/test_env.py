from pathlib import Path

import pytest

from docstore_devplatform.e2e import SYSTEM_ENV
from docstore_devplatform.launch import ServerPorts, weed_argv, weed_notification_toml
from docstore_devplatform.paths import Binaries
from docstore_devplatform.servers import S3_EVENTS_TOPIC, Endpoints, Servers
from docstore_devplatform.services import (
    FIXED_PORTS,
    SERVICES,
    ServiceProcesses,
    build_service_env,
    service_urls,
)
from docstore_devplatform.testing import TEST_GROUP_MEMBERSHIP_ENV

ENDPOINTS = Endpoints.for_ports(ServerPorts())


def test_endpoints_for_fixed_ports():
    assert ENDPOINTS.kafka_bootstrap == "127.0.0.1:9092"
    assert ENDPOINTS.mongo_url == "mongodb://127.0.0.1:27017/?directConnection=true"
    assert ENDPOINTS.s3_endpoint == "http://127.0.0.1:8333"
    assert ENDPOINTS.aws_endpoint == "http://127.0.0.1:5000"
    assert ENDPOINTS.typesense_url == "http://127.0.0.1:8108"


def test_service_env_of_endpoints():
    env = ENDPOINTS.service_env()
    assert env == {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
        "MONGODB_URL": ENDPOINTS.mongo_url,
        "S3_ENDPOINT_URL": "http://127.0.0.1:8333",
        "AWS_ACCESS_KEY_ID": ENDPOINTS.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": ENDPOINTS.s3_secret_key,
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_ENDPOINT_URL_SES": "http://127.0.0.1:5000",
        "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5000",
        "TYPESENSE_URL": "http://127.0.0.1:8108",
        "TYPESENSE_API_KEY": ENDPOINTS.typesense_api_key,
    }
    assert ENDPOINTS.service_env("ap-southeast-2")["AWS_DEFAULT_REGION"] == "ap-southeast-2"


def test_build_service_env_layers_base_servers_region_urls_and_extra():
    urls = service_urls(FIXED_PORTS)
    env = build_service_env(
        ENDPOINTS,
        urls,
        region="ap-southeast-2",
        base={"PATH": "/bin", "MONGODB_URL": "overridden"},
        extra={"ENVIRONMENT": "test", "X": "1"},
    )
    assert env["PATH"] == "/bin"
    assert env["MONGODB_URL"] == ENDPOINTS.mongo_url
    assert env["REGION"] == env["AWS_DEFAULT_REGION"] == "ap-southeast-2"
    assert env["S3_BUCKET"] == "docstore-ap-southeast-2"
    assert env["ENVIRONMENT"] == "test"
    assert env["X"] == "1"
    assert env["GATEWAY_URL"] == "http://127.0.0.1:8080"
    assert {f"{n.upper()}_URL" for n in SERVICES} <= env.keys()


def test_the_platform_joins_groups_with_slower_heartbeats_unless_its_environment_says_otherwise():
    """Tansu holds a JoinGroup for half the session timeout, and on its durable log each heartbeat
    is a write: the platform's services heartbeat every 2 s; the test systems set their own."""
    platform = build_service_env(ENDPOINTS, {}, base={})
    assert platform["KAFKA_SESSION_TIMEOUT_MS"] == "6000"
    assert platform["KAFKA_HEARTBEAT_INTERVAL_MS"] == "2000"
    tests = build_service_env(ENDPOINTS, {}, base=TEST_GROUP_MEMBERSHIP_ENV)
    assert tests["KAFKA_SESSION_TIMEOUT_MS"] == "2000"
    assert tests["KAFKA_HEARTBEAT_INTERVAL_MS"] == "600"
    assert TEST_GROUP_MEMBERSHIP_ENV.items() <= SYSTEM_ENV.items()


def test_service_processes_assign_every_port_before_start(tmp_path: Path):
    procs = ServiceProcesses(ENDPOINTS, tmp_path, ports="auto", names=["gateway", "quota"])
    assert set(procs.urls) == {"gateway", "quota"}
    assert not set(procs.ports.values()) & set(FIXED_PORTS.values())
    assert procs.env["QUOTA_URL"] == procs.urls["quota"]
    fixed = ServiceProcesses(ENDPOINTS, tmp_path, ports="fixed")
    assert fixed.urls["gateway"] == "http://127.0.0.1:8080"
    assert fixed.process("notify").argv[-6:] == [
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        "8085",
        "--no-proxy-headers",  # X-Forwarded-For only from GATEWAY_TRUSTED_PROXIES (issue 33)
    ]
    assert "docstore_notify.main:app" in fixed.process("notify").argv


def test_unknown_service_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown services"):
        ServiceProcesses(ENDPOINTS, tmp_path, names=["billing"])


def test_weed_argv_sets_every_port_and_grpc_port():
    ports = ServerPorts.auto()
    fake = Binaries(*(Path(f"/bin/{n}") for n in ("tansu", "secantusd", "weed", "moto", "typesense")))
    argv = weed_argv(fake, ports, Path("/d"), Path("/c.json"))
    for flag in ("s3", "master", "volume", "filer", "admin"):
        assert any(a.startswith(f"-{flag}.port=") for a in argv)
        assert any(a.startswith(f"-{flag}.port.grpc=") for a in argv)
    assert f"-s3.port={ports.s3}" in argv and f"-s3.port.grpc={ports.s3 + 10000}" in argv
    assert "-ip=127.0.0.1" in argv and "-ip.bind=127.0.0.1" in argv


def test_weed_notification_toml_publishes_to_kafka_or_nothing():
    on = weed_notification_toml("127.0.0.1:9092", "docstore.s3-events")
    assert on.splitlines() == [
        "[notification.kafka]",
        "enabled = true",
        'hosts = ["127.0.0.1:9092"]',
        'topic = "docstore.s3-events"',
    ]
    assert "enabled = false" in weed_notification_toml("127.0.0.1:9092", None)


def test_s3_events_topic_reaches_the_services_and_the_topic_list(tmp_path: Path):
    servers = Servers(tmp_path, ports="fixed", topics=["a"])
    assert servers.topics == ["a", S3_EVENTS_TOPIC, f"{S3_EVENTS_TOPIC}.dlq"]
    assert servers.endpoints.service_env()["S3_EVENTS_TOPIC"] == S3_EVENTS_TOPIC
    off = Servers(tmp_path, ports="fixed", s3_events_topic=None)
    assert off.topics == [] and "S3_EVENTS_TOPIC" not in off.endpoints.service_env()
