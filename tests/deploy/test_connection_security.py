"""Kafka SASL/TLS and the MongoDB CA, wired through the chart: with kafka.security and
mongodb.tls set, every service Deployment and the init Job get the settings the code reads
(docstore_kit.settings), the password from a Secret, and the CA files mounted where the
variables point. With the defaults, nothing of it is rendered (PLAINTEXT, as locally).
"""

from __future__ import annotations

import copy
from pathlib import PurePosixPath
from typing import Any

import pytest
from deploy_support import CHART, REGIONS, helm_template, manifests, render_region, service_names, settings_class

SECURE = [
    "--set", "kafka.security.protocol=SASL_SSL",
    "--set", "kafka.security.sasl.mechanism=SCRAM-SHA-512",
    "--set", "kafka.security.sasl.username=docstore",
    "--set", "kafka.security.sasl.passwordSecret.name=docstore-kafka-user",
    "--set", "kafka.security.caSecret.name=docstore-kafka-cluster-ca-cert",
    "--set", "mongodb.tls.caSecret.name=docstore-mongodb-ca",
]  # fmt: skip
KAFKA_ENV = {
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CAFILE",
}
CA_FILES = {"KAFKA_SSL_CAFILE": "docstore-kafka-cluster-ca-cert", "MONGODB_TLS_CA_FILE": "docstore-mongodb-ca"}


def workloads(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(name, pod spec) of every Deployment and Job: everything that connects to Kafka/MongoDB."""
    return [
        (f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"])
        for doc in objects
        if doc.get("kind") in {"Deployment", "Job"}
    ]


def secure_problems(objects: list[dict[str, Any]]) -> list[str]:
    """What a pod lacks to connect with SASL_SSL and the two CAs."""
    problems = []
    for name, pod in workloads(objects):
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            env = {e["name"]: e for e in container.get("env", [])}
            missing = (KAFKA_ENV | set(CA_FILES)) - set(env)
            if missing:
                problems.append(f"{name}: no {sorted(missing)}")
                continue
            password = env["KAFKA_SASL_PASSWORD"]
            if "value" in password or "secretKeyRef" not in password.get("valueFrom", {}):
                problems.append(f"{name}: KAFKA_SASL_PASSWORD is not from a Secret")
            for variable, secret in CA_FILES.items():
                path = PurePosixPath(env[variable]["value"])
                mounts = [m for m in container.get("volumeMounts", []) if PurePosixPath(m["mountPath"]) == path.parent]
                if not mounts:
                    problems.append(f"{name}: nothing is mounted at {path.parent} ({variable})")
                    continue
                source = volumes.get(mounts[0]["name"], {}).get("secret", {})
                items = {item["path"] for item in source.get("items", [])}
                if source.get("secretName") != secret or path.name not in items:
                    problems.append(f"{name}: {variable}={path} is not {secret}'s CA")
    return problems


@pytest.mark.parametrize("region", REGIONS)
def test_secure_settings_reach_every_workload(region: str) -> None:
    objects = render_region(region, *SECURE)
    names = {name for name, _ in workloads(objects)}
    assert any(name.startswith("Job/") for name in names), "the init Job connects too"
    assert len(names) >= len(service_names()) + 1
    assert secure_problems(objects) == []


def test_the_check_sees_a_missing_mount_and_a_plain_password() -> None:
    objects = render_region(REGIONS[0], *SECURE)
    broken = copy.deepcopy(objects)
    _, pod = next(w for w in workloads(broken) if w[0].startswith("Deployment/"))
    container = pod["containers"][0]
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "kafka-ca"]
    password = next(e for e in container["env"] if e["name"] == "KAFKA_SASL_PASSWORD")
    password.pop("valueFrom")
    password["value"] = "in-the-manifest"
    problems = secure_problems(broken)
    assert any("not from a Secret" in p for p in problems)
    assert any("nothing is mounted at /etc/docstore/kafka-ca" in p for p in problems)


def test_every_variable_is_a_setting_the_services_read() -> None:
    for service in service_names():
        fields = set(settings_class(service).model_fields)
        assert {name.lower() for name in KAFKA_ENV | set(CA_FILES)} <= fields, service


@pytest.mark.parametrize("region", REGIONS)
def test_defaults_render_plaintext_without_ca_mounts(region: str) -> None:
    for name, pod in workloads(manifests(region)):
        assert not {v["name"] for v in pod.get("volumes", [])} & {"kafka-ca", "mongodb-ca"}, name
        for container in pod["containers"]:
            env = {e["name"] for e in container.get("env", [])}
            assert not env & (KAFKA_ENV | set(CA_FILES)), name


@pytest.mark.parametrize(
    "missing",
    ["kafka.security.sasl.username=", "kafka.security.sasl.passwordSecret.name="],
)
def test_sasl_without_credentials_is_refused(missing: str) -> None:
    result = helm_template("-f", str(CHART / f"values-{REGIONS[0]}.yaml"), *SECURE, "--set", missing)
    assert result.returncode != 0
    assert "minLength" in result.stderr or "required" in result.stderr


def test_an_unknown_protocol_is_refused() -> None:
    result = helm_template("--set", "kafka.security.protocol=TLS", "-f", str(CHART / f"values-{REGIONS[0]}.yaml"))
    assert result.returncode != 0 and "protocol" in result.stderr
