"""`DOCSTORE_TEST_ENDPOINTS=containers`: the test servers as containers (testcontainers).

Where a Docker engine is reachable, the servers start and answer; where none is (as on the
machines this suite usually runs on), every test that needs a server skips with a reason that
names the missing engine, and nothing else fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from deploy_support import REPO, compose_config_json

from docstore_devplatform import containers, probes


def test_an_engine_that_does_not_answer_is_a_reason_to_skip() -> None:
    def refused() -> None:
        raise ConnectionRefusedError("connection refused")

    reason = containers.docker_engine_problem(refused)
    assert reason is not None
    assert "needs a Docker engine" in reason and "ConnectionRefusedError" in reason


def test_an_engine_that_answers_is_no_reason_to_skip() -> None:
    assert containers.docker_engine_problem(lambda: True) is None


def test_without_an_engine_the_servers_fixture_skips_with_the_reason(tmp_path: Path) -> None:
    """The real decision, in a pytest of its own pointed at a socket nobody serves."""
    # HOME: no ~/.testcontainers.properties (tc.host) or docker context may name a real engine.
    env = {k: v for k, v in os.environ.items() if k not in ("TC_HOST", "DOCKER_CONTEXT")}
    env |= {
        "DOCSTORE_TEST_ENDPOINTS": "containers",
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
        "HOME": str(tmp_path),
    }
    test = f"{Path(__file__).relative_to(REPO)}::test_the_servers_answer_in_containers_mode"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", test, "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "1 skipped" in output, output
    assert "needs a Docker engine" in output and "no-engine.sock" in output, output


@pytest.mark.skipif(
    os.environ.get("DOCSTORE_TEST_ENDPOINTS") != "containers", reason="runs with DOCSTORE_TEST_ENDPOINTS=containers"
)
def test_the_servers_answer_in_containers_mode(endpoints) -> None:
    """With an engine: every server the containers provide serves, topics and bucket exist."""
    assert probes.check_kafka(endpoints.kafka_bootstrap)
    probes.check_mongo(endpoints.mongo_url)
    s3 = probes.s3_client(endpoints.s3_endpoint, endpoints.s3_access_key, endpoints.s3_secret_key)
    probes.check_s3_object_io(s3, "docstore-us-west-2")
    probes.check_http_ok(f"{endpoints.typesense_url}/health", expect_json={"ok": True})
    probes.check_http_ok(f"{endpoints.aws_endpoint}/moto-api/data.json")


def test_container_images_are_the_compose_images() -> None:
    """Containers mode and compose run the same server versions."""
    services = json.loads(compose_config_json())["services"]
    for name, image in containers.COMPOSE_IMAGES.items():
        assert services[name]["image"] == image, (
            f"{name}: containers mode runs {image}, compose {services[name]['image']}"
        )


class FakeContainer:
    """What testcontainers asks of a docker-py container, recorded."""

    def __init__(self, image: str, **spec: object) -> None:
        self.id = self.short_id = f"fake-{image}"
        self.image, self.spec = image, spec
        self.status, self.files, self.removed = "running", [], False

    def reload(self) -> None:
        pass

    def put_archive(self, path: str, data: Any) -> bool:
        import io
        import tarfile

        raw = data.getvalue() if isinstance(data, io.BytesIO) else data  # KafkaContainer passes a BytesIO
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            self.files += [(m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]
        return True

    def logs(self, **_: object) -> bytes:
        return b"Kafka Server started"

    def remove(self, **_: object) -> None:
        self.removed = True


class FakeEngine:
    """Stands in for testcontainers' DockerClient: no engine, every call recorded."""

    created: list[FakeContainer] = []

    def __init__(self, **_: object) -> None:
        self.client = type("Client", (), {"close": lambda self: None})()

    def create(self, image: str, **spec: object) -> FakeContainer:
        container = FakeContainer(image, **spec)
        FakeEngine.created.append(container)
        return container

    def start(self, container: FakeContainer) -> None:
        pass

    def get_connection_mode(self):
        from testcontainers.core.config import ConnectionMode

        return ConnectionMode.docker_host

    def host(self) -> str:
        return "engine.example"

    def port(self, container_id: str, port: int) -> str:
        return str(40000 + port)


def test_the_containers_are_built_as_intended(monkeypatch: pytest.MonkeyPatch) -> None:
    """testcontainers' real builders, on a recording fake engine: the images, commands, the S3
    identities and the endpoints the tests get."""
    import testcontainers.core.container as tc_container
    from testcontainers.core.config import testcontainers_config

    monkeypatch.setattr(tc_container, "DockerClient", FakeEngine)
    monkeypatch.setattr(testcontainers_config, "_ryuk_disabled", True)
    FakeEngine.created = []
    servers = containers.ContainerServers(topics=["t"], buckets=["b"])
    servers._start_containers()
    by_image = {c.image: c for c in FakeEngine.created}
    assert set(by_image) == {
        containers.KAFKA_IMAGE,
        containers.MONGODB_IMAGE,
        containers.S3_IMAGE,
        containers.TYPESENSE_IMAGE,
        containers.MOTO_IMAGE,
    }
    assert "--replSet" in by_image[containers.MONGODB_IMAGE].spec["command"]
    (identities,) = [data for name, data in by_image[containers.S3_IMAGE].files if name.endswith("s3.json")]
    assert json.loads(identities)["identities"][0]["credentials"][0]["accessKey"] == servers.endpoints.s3_access_key
    assert "/data" in by_image[containers.TYPESENSE_IMAGE].spec["tmpfs"]

    endpoints = servers.endpoints
    assert endpoints.kafka_bootstrap == "engine.example:49093"
    assert endpoints.mongo_url == "mongodb://engine.example:67017/?directConnection=true"
    assert endpoints.s3_endpoint == "http://engine.example:48333"
    assert endpoints.typesense_url == "http://engine.example:48108"
    assert endpoints.aws_endpoint == "http://engine.example:45000"
    servers.stop()
    assert all(c.removed for c in FakeEngine.created)
