"""The Helm chart lints, renders valid Kubernetes 1.33 objects for both regions, and
gives every service in services/ a Deployment that can run it."""

from __future__ import annotations

import pytest
from deploy_support import (
    CHART,
    KUBERNETES_VERSION,
    OIDC_ON,
    REGIONS,
    helm_template,
    manifests,
    manifests_with,
    rendered,
    required_env,
    run,
    secret_env,
    service_names,
    settings_class,
    tool,
)


def objects(region: str, kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in manifests(region) if doc["kind"] == kind}


@pytest.mark.parametrize("region", REGIONS)
def test_helm_lint_strict(region: str) -> None:
    result = run([tool("helm"), "lint", "--strict", CHART, "-f", CHART / f"values-{region}.yaml"])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("region", REGIONS)
def test_rendered_objects_are_valid_kubernetes(region: str) -> None:
    result = run([tool("kubernetes-validate"), "-k", KUBERNETES_VERSION, "--strict", "-"], stdin=rendered(region))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed" not in result.stdout.lower(), result.stdout


def test_kubernetes_validate_rejects_an_invalid_object() -> None:
    """The validation step above is not vacuous: a typo in a Deployment fails it."""
    bad = rendered("us-west-2").replace("readinessProbe:", "readinessProbez:", 1)
    result = run([tool("kubernetes-validate"), "-k", KUBERNETES_VERSION, "--strict", "-"], stdin=bad)
    assert result.returncode != 0


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("service", service_names())
def test_every_service_has_a_complete_deployment(service: str, region: str) -> None:
    deployments = objects(region, "Deployment")
    name = f"docstore-{service}"
    assert name in deployments, (
        f"services/{service} has no Deployment in the chart (add templates/{service}/ and services.{service})"
    )
    pod = deployments[name]["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{service}: resources.{kind}"

    env = {item["name"]: item for item in container["env"]}
    missing = required_env(service) - set(env) - {f"{service.upper()}_{n}" for n in env}
    assert not missing, f"{service}: env its Settings class requires is missing: {sorted(missing)}"
    for secret in secret_env(service):  # the required ones are there (above); any there from a Secret
        item = env.get(secret) or env.get(f"{service.upper()}_{secret}")
        if item is not None:
            assert "secretKeyRef" in item.get("valueFrom", {}), f"{service}: {secret} must come from a Secret"
    assert int(env["PORT"]["value"]) == container["ports"][0]["containerPort"]
    assert env["REGION"]["value"] == region

    security = container["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    tmp = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}["/tmp"]
    assert "emptyDir" in {v["name"]: v for v in pod["volumes"]}[tmp]


@pytest.mark.parametrize("service", service_names())
def test_every_service_has_service_hpa_pdb_and_a_template_folder(service: str) -> None:
    assert (CHART / "templates" / service / "deployment.yaml").exists()
    name = f"docstore-{service}"
    for kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        assert name in objects("us-west-2", kind), f"{service}: no {kind}"
    hpa = objects("us-west-2", "HorizontalPodAutoscaler")[name]
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]


SENSITIVE_WORDS = ("SECRET", "PASSWORD", "API_KEY", "ACCESS_KEY", "MONGODB_URL")
NOT_CREDENTIALS = {"ACCOUNTS_PASSWORD_SIGN_IN": "a switch: whether passwords sign people in"}


def inline_secret_problems(objects: list[dict]) -> list[str]:
    """Credentials appear only as secretKeyRef (never a value, never from a ConfigMap), and the
    chart renders no Secret: it names existing ones."""
    problems = [f"{d['kind']}/{d['metadata']['name']} is rendered" for d in objects if d["kind"] == "Secret"]
    for doc in objects:
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []):
            for item in container.get("env", []):
                name = item["name"]
                sensitive = any(w in name for w in SENSITIVE_WORDS) and name not in NOT_CREDENTIALS
                if sensitive and "secretKeyRef" not in item.get("valueFrom", {}):
                    problems.append(f"{doc['metadata']['name']}: {name} is not from a Secret")
    return problems


def test_no_inline_secrets() -> None:
    """On both regions and with OpenID Connect on (its client secret among the env)."""
    for objects in [*(manifests(region) for region in REGIONS), manifests_with(*OIDC_ON)]:
        assert inline_secret_problems(objects) == []
    oidc = manifests_with(*OIDC_ON)
    accounts = next(d for d in oidc if d["kind"] == "Deployment" and d["metadata"]["name"] == "docstore-accounts")
    item = next(
        e for e in accounts["spec"]["template"]["spec"]["containers"][0]["env"] if "OIDC_CLIENT_SECRET" in e["name"]
    )
    assert item == {
        "name": "ACCOUNTS_OIDC_CLIENT_SECRET",
        "valueFrom": {"secretKeyRef": {"name": "docstore-oidc", "key": "client-secret"}},
    }
    # Not vacuous: the client secret as a value, or from a ConfigMap, is reported.
    reported = ["docstore-accounts: ACCOUNTS_OIDC_CLIENT_SECRET is not from a Secret"]
    item["valueFrom"] = {"configMapKeyRef": {"name": "docstore-oidc", "key": "client-secret"}}
    assert inline_secret_problems(oidc) == reported
    del item["valueFrom"]
    item["value"] = "hunter2"
    assert inline_secret_problems(oidc) == reported


def test_gateway_has_an_ingress_per_region() -> None:
    for region in REGIONS:
        ingress = objects(region, "Ingress")["docstore-gateway"]  # docstore-metadata-replication is internal
        assert region in ingress["spec"]["rules"][0]["host"]
        assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "docstore-gateway"


def test_regions_differ_in_bucket_and_region() -> None:
    for region in REGIONS:
        env = {
            e["name"]: e.get("value")
            for e in objects(region, "Deployment")["docstore-upload"]["spec"]["template"]["spec"]["containers"][0][
                "env"
            ]
        }
        assert env["S3_BUCKET"] == f"docstore-{region}" and env["AWS_DEFAULT_REGION"] == region


def test_consumer_hpa_beyond_partitions_is_refused() -> None:
    result = helm_template("--set", "kafka.partitions=3", "--set", "services.quota.autoscaling.maxReplicas=4")
    assert result.returncode != 0 and "sit idle" in result.stderr


def test_schema_rejects_unknown_service_keys_and_inline_secret_values() -> None:
    assert helm_template("--set", "services.quota.replicaz=2").returncode != 0
    assert helm_template("--set", "services.nosuch.enabled=true").returncode != 0
    assert helm_template("--set", "mongodb.existingSecret.password=hunter2").returncode != 0
    # The OpenID client's secret: an existing Secret's name, never the secret itself, neither in
    # `oidc` nor as a plain variable of a service (any credential's name is refused there).
    for value, refusal in [
        ("oidc.clientSecret=hunter2", "additional properties 'clientSecret' not allowed"),
        ("oidc.existingSecret=hunter2", "got string, want object"),
        ("services.accounts.env.ACCOUNTS_OIDC_CLIENT_SECRET=hunter2", "invalid propertyName"),
        ("global.env.OIDC_CLIENT_SECRET=hunter2", "invalid propertyName"),
    ]:
        result = helm_template("--set", value)
        assert result.returncode != 0 and refusal in result.stderr, (value, result.stderr)


def test_values_cover_exactly_the_services_in_the_repository() -> None:
    import yaml

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert sorted(values["services"]) == service_names()
    for name, svc in values["services"].items():
        default_port = settings_class(name).model_fields["port"].default
        assert svc["port"] == default_port, f"{name}: chart port {svc['port']} != Settings.port {default_port}"


@pytest.mark.parametrize("region", REGIONS)
def test_only_the_gateway_is_reachable_from_outside_the_release(region: str) -> None:
    """NetworkPolicies: the ingress controller reaches the gateway; every other service takes
    connections from this release's own pods (and the metrics scraper) only."""
    policies = objects(region, "NetworkPolicy")
    for service in service_names():
        policy = policies[f"docstore-{service}"]["spec"]
        assert policy["policyTypes"] == ["Ingress", "Egress"]  # docstore-default-deny denies the rest
        peers = [peer for rule in policy["ingress"] for peer in rule["from"]]
        from_pods = [p for p in peers if "podSelector" in p]
        if service == "gateway":
            assert not from_pods, "the gateway takes traffic from the ingress controller, not from any pod"
        else:
            assert from_pods == [
                {
                    "podSelector": {
                        "matchLabels": {
                            "app.kubernetes.io/part-of": "docstore",
                            "app.kubernetes.io/instance": "docstore",
                        }
                    }
                }
            ]
            assert all("ingress-nginx" not in str(p) for p in peers), (
                f"{service} must not be reachable from the ingress"
            )
