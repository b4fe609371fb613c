"""docker-compose.yml is valid for the compose binary (no engine needed) and runs every
service of the repository, in both regions, on healthchecked servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deploy_support import REPO, compose_config_json, compose_run, required_env, run, service_names, tool

SERVERS = ("kafka", "mongodb", "s3", "typesense", "moto")
compose = compose_run


@pytest.fixture(scope="module")
def config() -> dict:
    return json.loads(compose_config_json())


@pytest.mark.parametrize("profile", [[], ["--profile", "region-b"]], ids=["region-a", "region-b"])
def test_compose_config_is_valid(profile: list[str]) -> None:
    result = compose(*profile, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_binary_fails_on_a_broken_file(tmp_path: Path) -> None:
    """`config -q` is a real check (the PyPI wrapper script would always exit 0)."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  a:\n    image: busybox:1.37\n    depends_on: {b: {condition: service_healthy}}\n")
    result = run([tool("docker-compose"), "--project-directory", tmp_path, "-f", broken, "config", "-q"])
    assert result.returncode != 0


def test_servers_are_healthchecked(config: dict) -> None:
    services = config["services"]
    for name in SERVERS:
        assert services[name]["healthcheck"]["test"], name
        image = services[name]["image"]
        assert ":" in image and not image.endswith(":latest"), image
    kafka = services["kafka"]["environment"]
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    assert "--replSet" in services["mongodb"]["command"]
    assert "rs.initiate" in " ".join(services["mongodb"]["healthcheck"]["test"])


@pytest.mark.parametrize("suffix,region", [("", "us-west-2"), ("-b", "ap-southeast-2")])
@pytest.mark.parametrize("service", service_names())
def test_every_service_runs_in_both_regions(config: dict, service: str, suffix: str, region: str) -> None:
    name = f"{service}{suffix}"
    assert name in config["services"], f"services/{service} is missing from docker-compose.yml ({name})"
    svc = config["services"][name]
    assert svc["healthcheck"]["test"] and not svc["healthcheck"].get("disable")
    conditions = {dep: spec["condition"] for dep, spec in svc["depends_on"].items()}
    assert conditions.get("mongodb") == "service_healthy", conditions
    healthy = [d for d, c in conditions.items() if c in ("service_healthy", "service_completed_successfully")]
    assert healthy, conditions
    env = svc["environment"]
    missing = required_env(service) - set(env) - {n.removeprefix(f"{service.upper()}_") for n in env}
    assert not missing, f"{name}: env its Settings class requires is missing: {sorted(missing)}"
    assert env["REGION"] == region
    if "S3_BUCKET" in env:
        assert env["S3_BUCKET"] == f"docstore-{region}"
    if suffix:
        assert svc.get("profiles") == ["region-b"] and env["KAFKA_TOPIC_PREFIX"] == f"{region}."


def test_init_job_creates_topics_collections_and_bucket(config: dict) -> None:
    for name, region in (("init", "us-west-2"), ("init-b", "ap-southeast-2")):
        init = config["services"][name]
        assert init["command"] == ["python", "/init/init_platform.py"]
        assert init["environment"]["REGION"] == region
        (mount,) = init["volumes"]
        assert Path(mount["source"]) == REPO / "deploy/k8s/docstore/files/init_platform.py"
    script = (REPO / "deploy/k8s/docstore/files/init_platform.py").read_text()
    for step in ("all_topics(prefix)", "create_collection", "create_bucket", "put_bucket_cors"):
        assert step in script
    for service in service_names():
        assert config["services"][service]["depends_on"].get("init", {}).get("condition") in (
            "service_completed_successfully",
            None,  # the gateway waits on the services, which wait on init
        )
