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

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: no package imports
from deploy_support import REPO, compose_config_json  # noqa: E402

from docstore_devplatform import containers, probes  # noqa: E402


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
    env = {k: v for k, v in os.environ.items() if k not in ("TC_HOST", "DOCKER_CONTEXT")}
    env |= {"DOCSTORE_TEST_ENDPOINTS": "containers", "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
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
