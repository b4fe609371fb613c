"""Secret checksums roll the pods that read a Secret when it changes (issue 16).

A pod reads env from a Secret, and a mounted CA bundle, when its process starts, so a changed
Secret must change the pod template, or `helm upgrade` leaves the old value running. The chart
reads the data of every Secret a Deployment uses with `lookup` and writes its SHA-256 into a
pod annotation. `lookup` needs a cluster: here a minimal Kubernetes API on loopback (discovery
and GETs of the Secrets a test holds) answers `helm template --dry-run=server`.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import CHART, REPO, parse_manifests, service_names, tool

NAMESPACE = "docstore"
KINDS = {
    "v1": [("secrets", "Secret"), ("configmaps", "ConfigMap"), ("serviceaccounts", "ServiceAccount"),
           ("services", "Service"), ("pods", "Pod")],
    "apps/v1": [("deployments", "Deployment")],
    "batch/v1": [("jobs", "Job")],
    "networking.k8s.io/v1": [("networkpolicies", "NetworkPolicy"), ("ingresses", "Ingress")],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget")],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler")],
}  # fmt: skip
"""The API groups the chart's default objects belong to (Helm maps every kind before a dry run)."""


class FakeCluster:
    """Kubernetes API discovery plus GET of the Secrets in `secrets`; 404 for anything else."""

    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, str]] = {}
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def answer(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = self.path.split("?")[0].rstrip("/")
                parts = path.strip("/").split("/")
                if path == "/version":
                    return self.answer(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0"})
                if path == "/api":
                    return self.answer(200, {"kind": "APIVersions", "versions": ["v1"]})
                if path == "/apis":
                    groups = [
                        {"name": gv.split("/")[0], "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                         "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]}}
                        for gv in KINDS if "/" in gv
                    ]  # fmt: skip
                    return self.answer(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
                group_version = "v1" if path == "/api/v1" else path.removeprefix("/apis/")
                if group_version in KINDS:
                    resources = [
                        {"name": plural, "singularName": kind.lower(), "namespaced": True, "kind": kind,
                         "verbs": ["get", "list", "create"]}
                        for plural, kind in KINDS[group_version]
                    ]  # fmt: skip
                    return self.answer(
                        200, {"kind": "APIResourceList", "groupVersion": group_version, "resources": resources}
                    )
                if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 6 and parts[4] == "secrets":
                    data = cluster.secrets.get(parts[5])
                    if data is not None:
                        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
                        return self.answer(
                            200,
                            {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": encoded,
                             "metadata": {"name": parts[5], "namespace": parts[3]}},
                        )  # fmt: skip
                return self.answer(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeCluster, dict[str, str]]]:
    fake = FakeCluster()
    fake.thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": fake.url}}],
                "users": [{"name": "test", "user": {"token": "unused"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "test", "namespace": NAMESPACE}}],
                "current-context": "fake",
            }
        )
    )
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "KUBECACHEDIR": str(tmp_path / "kube-cache"),
        "HELM_CACHE_HOME": str(tmp_path / "helm-cache"),
        "HELM_CONFIG_HOME": str(tmp_path / "helm-config"),
        "HELM_DATA_HOME": str(tmp_path / "helm-data"),
    }
    try:
        yield fake, env
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def checksums(env: dict[str, str], *sets: str) -> dict[str, str]:
    """Deployment name -> its pod template's checksum/secrets annotation, as `helm upgrade` renders it."""
    argv = [tool("helm"), "template", "docstore", CHART, "--namespace", NAMESPACE, "--dry-run=server",
            "--disable-openapi-validation", "-f", CHART / "values-us-west-2.yaml"]  # fmt: skip
    for value in sets:
        argv += ["--set", value]
    result = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=120, cwd=REPO, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    found = {}
    for doc in parse_manifests(result.stdout):
        if doc["kind"] == "Deployment":
            annotations = doc["spec"]["template"]["metadata"].get("annotations") or {}
            found[doc["metadata"]["name"]] = annotations.get("checksum/secrets", "")
    return found


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    assert set(before) == set(after)
    return {name.removeprefix("docstore-") for name in before if before[name] != after[name]}


def test_a_changed_secret_rolls_exactly_the_pods_that_read_it(cluster: tuple[FakeCluster, dict[str, str]]) -> None:
    fake, env = cluster
    fake.secrets = {
        "docstore-internal-auth": {"keys": '{"k1": "' + "a" * 32 + '"}'},
        "docstore-mongodb-admin-docstore": {"connectionString.standard": "mongodb://one"},
        "docstore-notify": {"unsubscribe-secret": "first"},
        "docstore-typesense": {"api-key": "first"},
        "unrelated": {"value": "first"},
    }
    before = checksums(env)
    assert set(before) == {f"docstore-{s}" for s in service_names()}
    assert all(before.values()), before

    fake.secrets["unrelated"] = {"value": "second"}  # no pod reads it
    assert changed(before, checksums(env)) == set()

    fake.secrets["docstore-notify"] = {"unsubscribe-secret": "second"}  # notify's own Secret
    after = checksums(env)
    assert changed(before, after) == {"notify"}

    fake.secrets["docstore-typesense"] = {"api-key": "second"}  # read by the services that search
    typesense = changed(after, checksums(env))
    assert "indexer" in typesense and "notify" not in typesense and "upload" not in typesense
    after = checksums(env)

    # Every service reads the shared keys and MongoDB's URL.
    fake.secrets["docstore-internal-auth"] = {"keys": '{"k1": "' + "b" * 32 + '"}'}
    assert changed(after, checksums(env)) == set(service_names())
    after = checksums(env)
    fake.secrets["docstore-mongodb-admin-docstore"] = {"connectionString.standard": "mongodb://two"}
    assert changed(after, checksums(env)) == set(service_names())


def test_a_changed_ca_bundle_rolls_every_pod_that_mounts_it(cluster: tuple[FakeCluster, dict[str, str]]) -> None:
    fake, env = cluster
    mounted = ("kafka.security.protocol=SSL", "kafka.security.caSecret.name=kafka-ca")
    fake.secrets = {"kafka-ca": {"ca.crt": "first"}}
    before = checksums(env, *mounted)
    fake.secrets = {"kafka-ca": {"ca.crt": "second"}}
    assert changed(before, checksums(env, *mounted)) == set(service_names())
