"""What the chart refuses and what its values reach (issue 16): a schema closed at every level,
replica bounds, one digest per image, no `*` CORS and no indexer limit below its workers'
memory in production, the internal replication route, and `helm test` asking every service's
`/readyz`. Each check also runs on a value or copy broken on purpose and must fail there.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import (
    CHART,
    OIDC_ON,
    REGIONS,
    helm_template,
    manifests,
    manifests_with,
    service_names,
)

SCHEMA = CHART / "values.schema.json"
REFINEMENTS = ("if", "then", "else", "not", "allOf", "anyOf", "oneOf")
"""Keywords whose subschemas refine an object that is already closed where it is declared."""


def open_objects(schema: dict[str, Any], where: str = "") -> list[str]:
    """Paths of object schemas that accept keys they do not declare: every object with
    `properties` must say `additionalProperties: false`, and a map (`additionalProperties`
    without `properties`) must type its values."""
    found = []
    if isinstance(schema, dict):
        is_object = schema.get("type") == "object" or "properties" in schema
        extra = schema.get("additionalProperties", True)
        if is_object and "properties" in schema and extra is not False:
            found.append(where or "/")
        elif is_object and "properties" not in schema and not isinstance(extra, dict) and extra is not False:
            found.append(where or "/")
        for key, value in schema.items():
            if key in REFINEMENTS:
                continue
            if key in ("properties", "definitions", "$defs", "patternProperties"):
                for name, sub in value.items():
                    found += open_objects(sub, f"{where}/{key}/{name}")
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                found += open_objects(value, f"{where}/{key}")
    return found


def test_the_schema_is_closed_at_every_level() -> None:
    schema = json.loads(SCHEMA.read_text())
    assert open_objects(schema) == []
    # The walk is not vacuous: opening one nested object, or a map's values, is reported.
    broken = copy.deepcopy(schema)
    del broken["properties"]["kafka"]["properties"]["topics"]["additionalProperties"]
    assert open_objects(broken) == ["/properties/kafka/properties/topics"]
    broken = copy.deepcopy(schema)
    broken["definitions"]["stringMap"]["additionalProperties"] = True
    assert open_objects(broken) == ["/definitions/stringMap"]


@pytest.mark.parametrize(
    "typo",
    [
        # The issue's three, at the top level.
        "ingres.enabled=true",
        "serviceAcount.create=false",
        "podAnotations.team=docs",
        # One at each depth below it.
        "global.regoin=us-east-1",
        "kafka.security.sasl.mechanizm=PLAIN",
        "networkPolicy.egress.kafka.ports[0].prot=9092",
        "services.quota.autoscaling.maxReplica=3",
        "services.indexer.resources.limits.memroy=8Gi",
        "metrics.serviceMonitor.intervall=15s",
        "image.digest=sha256:" + "a" * 64,  # no shared digest: each service has its own
    ],
)
def test_unknown_keys_are_refused_at_every_level(typo: str) -> None:
    result = helm_template("--set", typo)
    assert result.returncode != 0, f"{typo} was accepted"
    assert "additional properties" in result.stderr, result.stderr


def test_the_default_values_are_accepted() -> None:
    """The refusals above come from the typo, not from the chart failing anyway."""
    for region in REGIONS:
        assert helm_template("-f", str(CHART / f"values-{region}.yaml")).returncode == 0


@pytest.mark.parametrize("service", service_names())
def test_min_replicas_above_max_replicas_is_refused(service: str) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["services"][service]["autoscaling"]
    too_many = values["maxReplicas"] + 1
    result = helm_template("--set", f"services.{service}.autoscaling.minReplicas={too_many}")
    assert result.returncode != 0
    assert f"services.{service}.autoscaling.minReplicas ({too_many}) exceeds maxReplicas" in result.stderr
    # Equal bounds are fine; KEDA's ScaledObject refuses the same as the HPA.
    equal = f"services.{service}.autoscaling.minReplicas={values['maxReplicas']}"
    assert helm_template("--set", equal).returncode == 0
    result = helm_template(
        "--set", "keda.enabled=true", "--set", f"services.{service}.autoscaling.minReplicas={too_many}"
    )
    assert result.returncode != 0 and "exceeds maxReplicas" in result.stderr


def images(objects: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Object (kind/name) -> the images its pods run."""
    found: dict[str, set[str]] = {}
    for doc in objects:
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec") if doc["kind"] != "Pod" else spec
        if not pod:
            continue
        found[f"{doc['kind']}/{doc['metadata']['name']}"] = {
            c["image"] for c in [*pod.get("initContainers", []), *pod.get("containers", [])]
        }
    return found


def test_each_image_is_pinned_by_its_own_digest() -> None:
    digests = {name: "sha256:" + f"{i:x}" * 64 for i, name in enumerate(service_names(), 1)}
    objects = manifests_with(*(f"services.{name}.image.digest={digest}" for name, digest in digests.items()))
    found = images(objects)
    for name, digest in digests.items():
        (image,) = found[f"Deployment/docstore-{name}"]
        assert image.startswith(f"ghcr.io/docstore/docstore-{name}:") and image.endswith(f"@{digest}"), image
    # The init hook and `helm test` run in metadata's image: metadata's digest.
    assert found["Job/docstore-init"] == {next(iter(found["Deployment/docstore-metadata"]))}
    assert found["Pod/docstore-test-readyz"] == found["Job/docstore-init"]
    # One service pinned leaves the others on their tags, not on its digest.
    found = images(manifests_with(f"services.upload.image.digest={digests['upload']}"))
    pinned = {ref for ref, refs in found.items() if any(digests["upload"] in i for i in refs)}
    assert pinned == {"Deployment/docstore-upload"}
    assert helm_template("--set", "services.upload.image.digest=sha256:short").returncode != 0


def test_production_refuses_any_origin_and_development_allows_it() -> None:
    result = helm_template("--set", "s3.corsOrigins[0]=*")
    assert result.returncode != 0 and '"*" is refused in environment "production"' in result.stderr
    objects = manifests_with("global.environment=development", "s3.corsOrigins[0]=*")
    init = next(d for d in objects if d["kind"] == "Job")
    env = {e["name"]: e.get("value") for e in init["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["S3_CORS_ORIGINS"] == "*"
    # By default the origin is the region's own web app, never `*`.
    for region in REGIONS:
        init = next(d for d in manifests(region) if d["kind"] == "Job")
        env = {e["name"]: e.get("value") for e in init["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["S3_CORS_ORIGINS"] == f"https://{region}.docstore.example"


@pytest.mark.parametrize(
    "sets,refused",
    [
        (["services.indexer.resources.limits.memory=2Gi"], True),  # the issue's 2 Gi for 2 x 2 GB
        (["services.indexer.env.EXTRACT_WORKERS=3"], True),  # 3 x 2048 + 512 > 4608 Mi
        (["services.indexer.env.EXTRACT_WORKERS=3", "services.indexer.resources.limits.memory=6656Mi"], False),
        (["services.indexer.env.EXTRACT_MEMORY_MB=1024", "services.indexer.resources.limits.memory=2560Mi"], False),
    ],
)
def test_the_indexer_limit_holds_its_workers(sets: list[str], refused: bool) -> None:
    result = helm_template(*(a for s in sets for a in ("--set", s)))
    assert (result.returncode != 0) == refused, result.stderr
    if refused:
        assert "is below EXTRACT_WORKERS x EXTRACT_MEMORY_MB + 512Mi" in result.stderr


@pytest.mark.parametrize("region", REGIONS)
def test_replication_has_an_internal_route_and_nothing_else(region: str) -> None:
    """PEER_ACCOUNTS_URLS names, for this region, the host of an Ingress on the internal class
    that routes only the accounts service's replication path; the public Ingress does not route it."""
    from docstore_accounts.main import create_app
    from docstore_accounts.settings import Settings

    objects = manifests(region)
    ingresses = {d["metadata"]["name"]: d for d in objects if d["kind"] == "Ingress"}
    internal = ingresses["docstore-accounts-replication"]["spec"]
    assert internal["ingressClassName"] == "nginx-internal"
    assert internal["ingressClassName"] != ingresses["docstore-gateway"]["spec"].get("ingressClassName")
    (rule,) = internal["rules"]
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/internal/replicas" and path["pathType"] == "Prefix"
    assert path["backend"]["service"] == {"name": "docstore-accounts", "port": {"name": "http"}}
    spec = create_app(Settings()).openapi()["paths"]
    routes = {(p, m) for p, ops in spec.items() if p.startswith(path["path"] + "/") for m in ops}
    assert routes == {("/internal/replicas/{account_id}", "put")}, routes

    accounts = next(d for d in objects if d["kind"] == "Deployment" and d["metadata"]["name"] == "docstore-accounts")
    env = {e["name"]: e.get("value") for e in accounts["spec"]["template"]["spec"]["containers"][0]["env"]}
    peers = json.loads(env["PEER_ACCOUNTS_URLS"])
    assert set(peers) == set(REGIONS)
    assert peers[region] == f"https://{rule['host']}"
    # Every public route goes to the gateway alone.
    for name, ingress in ingresses.items():
        if name != "docstore-accounts-replication":
            backends = {p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
            assert backends == {"docstore-gateway"}, name


def test_a_peer_url_naming_another_host_is_refused(tmp_path: Path) -> None:
    values = yaml.safe_load((CHART / "values-us-west-2.yaml").read_text())
    peers = json.loads(values["global"]["env"]["PEER_ACCOUNTS_URLS"])
    peers["us-west-2"] = "https://accounts.elsewhere.example"
    values["global"]["env"]["PEER_ACCOUNTS_URLS"] = json.dumps(peers)
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    result = helm_template("-f", str(tmp_path / "values.yaml"))
    assert result.returncode != 0 and "the peer regions would replicate to nothing" in result.stderr


def accounts_env(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    (deployment,) = [d for d in objects if d["kind"] == "Deployment" and d["metadata"]["name"] == "docstore-accounts"]
    return {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def public_https_egress(objects: list[dict[str, Any]], name: str) -> bool:
    """Whether the service's NetworkPolicy lets it open HTTPS to public addresses."""
    (policy,) = [d for d in objects if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == f"docstore-{name}"]
    return any(
        any(peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" for peer in rule.get("to", []))
        and any(port.get("port") == 443 for port in rule.get("ports", []))
        for rule in policy["spec"]["egress"]
    )


def test_sign_in_with_oidc_is_off_by_default_and_its_values_reach_the_accounts_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from docstore_accounts.settings import Settings

    for region in REGIONS:
        objects = manifests(region)
        env = accounts_env(objects)
        assert env["ACCOUNTS_OIDC_ISSUER"]["value"] == "" and env["ACCOUNTS_PASSWORD_SIGN_IN"]["value"] == "true"
        assert "ACCOUNTS_OIDC_CLIENT_SECRET" not in env
        assert not public_https_egress(objects, "accounts")

    objects = manifests_with(*OIDC_ON)
    env = accounts_env(objects)
    assert env["ACCOUNTS_OIDC_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "docstore-oidc",
        "key": "client-secret",
    }
    # The accounts service reaches its provider (discovery, keys, the code exchange); no other does.
    assert public_https_egress(objects, "accounts")
    assert not public_https_egress(objects, "gateway")
    # The service's own Settings read what the chart renders (the Secret's value stands in).
    for name, item in env.items():
        if name.startswith("ACCOUNTS_"):
            monkeypatch.setenv(name, item.get("value", "client-secret-from-the-secret"))
    settings = Settings(environment="development")
    assert settings.oidc_enabled() and settings.password_sign_in is False
    assert (settings.oidc_issuer, settings.oidc_client_id, settings.oidc_provider_name) == (
        "https://id.example.com/realms/docstore",
        "docstore",
        "Example ID",
    )
    assert settings.oidc_client_secret == "client-secret-from-the-secret"


HTTP_ISSUER = ("oidc.issuer=http://id.example.com", "oidc.clientId=docstore", "oidc.existingSecret.name=docstore-oidc")


@pytest.mark.parametrize(
    "sets,refusal",
    [
        (("oidc.issuer=https://id.example.com", "oidc.existingSecret.name=s"), "oidc.clientId is required"),
        (("oidc.issuer=https://id.example.com", "oidc.clientId=docstore"), "oidc.existingSecret (the client secret"),
        (HTTP_ISSUER, 'oidc.issuer: "http://id.example.com" is refused in environment "production"'),
        (("oidc.passwordSignIn=false",), "oidc.passwordSignIn: false needs oidc.issuer"),
        (("oidc.issuer=id.example.com",), "at '/oidc/issuer'"),
        ((*HTTP_ISSUER, "global.environment=development"), None),  # a local provider
    ],
)
def test_an_incomplete_or_unsafe_oidc_setup_is_refused(sets: tuple[str, ...], refusal: str | None) -> None:
    result = helm_template(*(a for s in sets for a in ("--set", s)))
    if refusal is None:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0 and refusal in result.stderr, result.stderr


def readyz_pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (pod,) = [d for d in objects if d["kind"] == "Pod"]
    return pod


@pytest.mark.parametrize("region", REGIONS)
def test_helm_test_asks_every_service_for_readyz(region: str) -> None:
    pod = readyz_pod(manifests(region))
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    (container,) = pod["spec"]["containers"]
    argv = container["command"]
    assert argv[:2] == ["python", "-c"] and 'base + "/readyz"' in argv[2] and "sys.exit(1 if failed" in argv[2]
    services = {d["metadata"]["name"]: d for d in manifests(region) if d["kind"] == "Service"}
    expected = {f"http://{name}:{services[name]['spec']['ports'][0]['port']}" for name in services}
    assert set(argv[3:]) == expected == {f"http://docstore-{s}:{p}" for s, p in ports().items()}
    # A disabled service is not asked.
    pod = readyz_pod(manifests_with("services.notify.enabled=false"))
    assert not any("docstore-notify" in arg for arg in pod["spec"]["containers"][0]["command"][3:])


def ports() -> dict[str, int]:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    return {name: svc["port"] for name, svc in values["services"].items()}


def test_helm_test_is_reachable_under_the_network_policies() -> None:
    """The test Pod's own policies (test hooks created before it) let it reach each service's
    port, and the gateway, which otherwise admits only the ingress controller, admits it."""
    objects = manifests("us-west-2")
    pod = readyz_pod(objects)
    labels = pod["metadata"]["labels"]
    hooks = [
        d
        for d in objects
        if d["kind"] == "NetworkPolicy" and "test" in d["metadata"].get("annotations", {}).get("helm.sh/hook", "")
    ]
    assert hooks and all(int(h["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0 for h in hooks)
    own = next(h for h in hooks if h["spec"]["podSelector"]["matchLabels"].items() <= labels.items())
    allowed = {p["port"] for rule in own["spec"]["egress"] for p in rule.get("ports", [])}
    assert set(ports().values()) <= allowed
    to_gateway = next(
        h for h in hooks if h["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "gateway"
    )
    (rule,) = to_gateway["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": own["spec"]["podSelector"]["matchLabels"]}}]


def test_keda_scales_each_consumer_on_its_lag_within_the_partitions() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    consumers = {name for name, svc in values["services"].items() if svc["consumer"]}
    assert consumers and "gateway" not in consumers
    objects = manifests_with("keda.enabled=true", "kafka.topicPrefix=eu.", "services.quota.autoscaling.maxReplicas=3")
    scaled = {d["metadata"]["name"]: d["spec"] for d in objects if d["kind"] == "ScaledObject"}
    hpas = {d["metadata"]["name"] for d in objects if d["kind"] == "HorizontalPodAutoscaler"}
    assert set(scaled) == {f"docstore-{name}" for name in consumers}
    assert hpas == {f"docstore-{name}" for name in set(service_names()) - consumers}  # never both
    for name in consumers:
        spec = scaled[f"docstore-{name}"]
        assert spec["scaleTargetRef"]["name"] == f"docstore-{name}"
        assert spec["minReplicaCount"] == values["services"][name]["autoscaling"]["minReplicas"]
        wanted = 3 if name == "quota" else values["services"][name]["autoscaling"]["maxReplicas"]
        assert spec["maxReplicaCount"] == wanted <= values["kafka"]["partitions"]
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "kafka" and trigger["metadata"]["consumerGroup"] == f"eu.{name}"
    # Off by default; and above the partition count it is refused, as for the HPA.
    assert not [d for d in manifests_with() if d["kind"] == "ScaledObject"]
    result = helm_template("--set", "keda.enabled=true", "--set", "kafka.partitions=3")
    assert result.returncode != 0 and "exceeds kafka.partitions (3)" in result.stderr


class Readyz(BaseHTTPRequestHandler):
    """A service stand-in: /readyz answers the status its server was given."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        status = self.server.status if self.path == "/readyz" else 404  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Starts servers whose /readyz answers a given status (over TLS with a cert of a private CA)."""
    import ssl

    import trustme

    servers: list[ThreadingHTTPServer] = []

    def start(status: int, *, tls: bool = False) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Readyz)
        server.status = status  # type: ignore[attr-defined]
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            trustme.CA().issue_cert("docstore-gateway").configure_cert(context)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_helm_test_fails_when_any_service_is_not_ready(stand_ins: Callable[..., str]) -> None:
    """The rendered Pod's own script, run against servers: 0 only when every /readyz is 2xx; the
    gateway serving TLS itself (gatewayTls) is asked over HTTPS."""
    objects = manifests_with("gatewayTls.secretName=docstore-gateway-tls")
    argv = readyz_pod(objects)["spec"]["containers"][0]["command"]
    assert any(url.startswith("https://docstore-gateway:") for url in argv[3:])
    script = argv[2]

    def run_script(*urls: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", script, *urls], capture_output=True, text=True, timeout=60)

    ready, gateway = stand_ins(200), stand_ins(200, tls=True)
    assert run_script(gateway, ready, stand_ins(200)).returncode == 0
    unready = stand_ins(503)
    failed = run_script(gateway, ready, unready)
    assert failed.returncode == 1 and f"{unready} FAILED" in failed.stdout
    assert run_script(ready, "http://127.0.0.1:1").returncode == 1  # nothing listening
