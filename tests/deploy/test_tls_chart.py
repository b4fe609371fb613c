"""TLS in transit through the chart, beyond Kafka and MongoDB (test_connection_security.py):
the Ingress' TLS section, a private S3 store's CA (s3.caSecret -> AWS_CA_BUNDLE, mounted in
every pod with S3 settings and the init Job), and in-cluster TLS for the gateway
(gatewayTls.secretName: the gateway serves HTTPS from its own settings, probes and the Ingress'
backend speak HTTPS). With the defaults none of it is rendered.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import pytest
from deploy_support import CHART, REGIONS, helm_template, render_region, settings_class

S3_USERS = {"metadata", "upload", "quota", "indexer"}  # the services that build an S3 client
TLS_VALUES = [
    "--set", "ingress.tls.secretName=docstore-public-tls",
    "--set", "s3.caSecret.name=docstore-s3-ca",
    "--set", "gatewayTls.secretName=docstore-gateway-tls",
]  # fmt: skip


def pods(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Pod spec by workload: `gateway`, `metadata`, ... and `init` for the Job."""
    found = {}
    for doc in objects:
        if doc.get("kind") == "Deployment":
            found[doc["metadata"]["labels"]["app.kubernetes.io/component"]] = doc["spec"]["template"]["spec"]
        elif doc.get("kind") == "Job":
            found["init"] = doc["spec"]["template"]["spec"]
    return found


def mounted_file(pod: dict[str, Any], path: str) -> tuple[str, str] | None:
    """(Secret name, key) mounted at `path` in the pod's first container, or None."""
    container = pod["containers"][0]
    target = PurePosixPath(path)
    for mount in container.get("volumeMounts", []):
        if PurePosixPath(mount["mountPath"]) == target.parent:
            volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
            secret = volume.get("secret", {})
            for item in secret.get("items", []):
                if item["path"] == target.name:
                    return secret["secretName"], item["key"]
    return None


def env_of(pod: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in pod["containers"][0].get("env", [])}


def ingress(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(doc for doc in objects if doc.get("kind") == "Ingress" and doc["metadata"]["name"].endswith("gateway"))


@pytest.mark.parametrize("region", REGIONS)
def test_tls_values_reach_the_pods_that_use_them(region: str) -> None:
    objects = render_region(region, *TLS_VALUES)
    by_name = pods(objects)
    assert S3_USERS | {"gateway", "notify", "init"} <= set(by_name)
    for name, pod in by_name.items():
        env = env_of(pod)
        if name in S3_USERS | {"init"}:
            assert mounted_file(pod, env["AWS_CA_BUNDLE"]) == ("docstore-s3-ca", "ca.crt"), name
        else:
            assert "AWS_CA_BUNDLE" not in env, f"{name} calls no S3: its AWS calls keep the system CAs"

    gateway = by_name["gateway"]
    env = env_of(gateway)
    assert mounted_file(gateway, env["TLS_CERT_FILE"]) == ("docstore-gateway-tls", "tls.crt")
    assert mounted_file(gateway, env["TLS_KEY_FILE"]) == ("docstore-gateway-tls", "tls.key")
    container = gateway["containers"][0]
    assert container["args"] == ["python", "-m", "docstore_gateway"]  # the entry point that reads TLS_*
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["scheme"] == "HTTPS", probe
    for name in S3_USERS:
        assert "args" not in by_name[name]["containers"][0], name  # the image's uvicorn command
        assert by_name[name]["containers"][0]["readinessProbe"]["httpGet"]["scheme"] == "HTTP"

    public = ingress(objects)
    host = public["spec"]["rules"][0]["host"]
    assert public["spec"]["tls"] == [{"hosts": [host], "secretName": "docstore-public-tls"}]
    assert public["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "HTTPS"


def test_the_variables_are_settings_the_code_reads() -> None:
    fields = set(settings_class("gateway").model_fields)
    assert {"tls_cert_file", "tls_key_file"} <= fields
    # AWS_CA_BUNDLE is botocore's own variable (read by every boto3 client of the pod).
    import botocore.configprovider

    assert "AWS_CA_BUNDLE" in str(botocore.configprovider.BOTOCORE_DEFAUT_SESSION_VARIABLES["ca_bundle"])


@pytest.mark.parametrize("region", REGIONS)
def test_defaults_render_no_tls_mounts_or_args(region: str) -> None:
    objects = render_region(region)
    for name, pod in pods(objects).items():
        assert not {v["name"] for v in pod.get("volumes", [])} & {"s3-ca", "gateway-tls"}, name
        assert not set(env_of(pod)) & {"AWS_CA_BUNDLE", "TLS_CERT_FILE", "TLS_KEY_FILE"}, name
        assert "args" not in pod["containers"][0], name
    assert "nginx.ingress.kubernetes.io/backend-protocol" not in ingress(objects)["metadata"].get("annotations", {})


def test_an_explicit_backend_protocol_is_kept() -> None:
    objects = render_region(
        REGIONS[0], *TLS_VALUES, "--set", "ingress.annotations.nginx\\.ingress\\.kubernetes\\.io/backend-protocol=GRPCS"
    )
    assert ingress(objects)["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPCS"


def test_a_secret_name_that_is_no_kubernetes_name_is_refused() -> None:
    result = helm_template("-f", str(CHART / f"values-{REGIONS[0]}.yaml"), "--set", "gatewayTls.secretName=Not A Name")
    assert result.returncode != 0 and "gatewayTls" in result.stderr
