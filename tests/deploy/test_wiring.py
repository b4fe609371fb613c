"""The rendered chart (both regions) and the compose file are wired: Services select real pods
on real ports, hooks find what they use, commands run files that exist, every container is
hardened, env names agree between compose and chart, health paths are routes of the app, and
compose names real hosts. Then each kind of breakage, made on purpose in a copy, must be
reported: a check that cannot fail is a defect.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
import wiring
from deploy_support import (
    CHART,
    OIDC_ON,
    REGIONS,
    REPO,
    compose_config_json,
    helm_template,
    manifests,
    manifests_of,
    service_names,
    settings_class,
)

# Settings one side may set and the other not, and why. Keep this short: each entry is a place
# where compose and production differ on purpose.
ALLOWED_ENV_DIFFERENCES = {
    "HOST": "the image sets HOST=0.0.0.0 (Dockerfile ENV); the chart repeats it",
    "LOG_LEVEL": "INFO by default; the chart makes it a value",
    "S3_ENDPOINT_URL": "compose runs a local S3 server; in the chart unset means AWS S3 itself",
    "S3_PUBLIC_ENDPOINT_URL": "as S3_ENDPOINT_URL: the browser's view of the local S3 server",
    "METRICS_PORT": "0 locally (/metrics on the app's port); the chart gives metrics their own port",
    "KAFKA_SECURITY_PROTOCOL": "the local broker is PLAINTEXT; SASL/TLS are production settings",
    "KAFKA_SASL_MECHANISM": "as KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_USERNAME": "as KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_PASSWORD": "as KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SSL_CAFILE": "as KAFKA_SECURITY_PROTOCOL",
    "MONGODB_TLS_CA_FILE": "the local MongoDB has no TLS",
    "OIDC_CLIENT_SECRET": "compose passes ${ACCOUNTS_OIDC_CLIENT_SECRET:-}; the chart, from oidc.existingSecret, only with an issuer",
}
# Env read by libraries rather than Settings: boto3 (credentials, endpoints, IRSA) and the
# OpenTelemetry SDK.
LIBRARY_ENV = re.compile(r"^(AWS_[A-Z0-9_]+|OTEL_[A-Z0-9_]+)$")


# --- what the checks read --------------------------------------------------------------------


# Renders checked: each region's values, and us-west-2 with every optional feature on (objects a
# region file leaves off are wired too).
OPTIONAL_FEATURES = (
    "metrics.serviceMonitor.enabled=true",
    "keda.enabled=true",
    "metrics.grafanaDashboard.enabled=true",
    *OIDC_ON,
)
RENDERS = [*REGIONS, "us-west-2+optional"]


@cache
def _optional_render() -> str:
    sets = [arg for feature in OPTIONAL_FEATURES for arg in ("--set", feature)]
    result = helm_template("-f", str(CHART / "values-us-west-2.yaml"), *sets)
    assert result.returncode == 0, f"helm template with {OPTIONAL_FEATURES}: {result.stderr}"
    return result.stdout


def chart(render: str) -> list[dict[str, Any]]:
    """A fresh copy of the rendered chart (tests mutate it)."""
    if render.endswith("+optional"):
        return manifests_of(_optional_render())
    return manifests(render)


def compose() -> dict[str, Any]:
    return json.loads(compose_config_json())


def compose_service(name: str) -> str | None:
    """The repository service a compose service runs (`upload-b` runs upload), if any."""
    base = name.removesuffix("-b")
    return base if base in service_names() else None


def chart_service(pod: wiring.PodTemplate) -> str | None:
    """The repository service a rendered pod runs, if any."""
    name = pod.labels.get("app.kubernetes.io/name") or pod.spec["containers"][0]["name"]
    return name if name in service_names() and not pod.is_hook else None


@cache
def reads(service: str) -> frozenset[str]:
    """Env names the service's Settings reads (field names, upper case)."""
    return frozenset(name.upper() for name in settings_class(service).model_fields)


def read_by(services: list[str], referenced: set[str]) -> Callable[[str], bool]:
    def read(name: str) -> bool:
        for service in services:
            if name in reads(service) or name.removeprefix(f"{service.upper()}_") in reads(service):
                return True
        return bool(LIBRARY_ENV.match(name)) or name in referenced

    return read


@cache
def app(service: str) -> Any:
    """The service's FastAPI app from its composition root; nothing connects until the lifespan."""
    main = importlib.import_module(f"docstore_{service}.main")
    return main.create_app(settings_class(service)())


def route_exists(service: str) -> Callable[[str], bool]:
    return lambda path: wiring.app_route_exists(app(service), path)


# --- the checks, all of them ----------------------------------------------------------------


def chart_problems(objects: list[dict[str, Any]], config: dict[str, Any]) -> list[str]:
    problems = [
        *wiring.service_problems(objects),
        *wiring.hook_problems(objects),
        *wiring.command_problems(objects, hooks_only=False),
        *wiring.security_problems(objects),
        *wiring.chart_url_problems(objects),
        *wiring.reference_problems(objects),
        *wiring.network_policy_problems(objects),
        *wiring.ingress_reachability_problems(objects),
        *wiring.listener_problems(objects),
    ]
    compose_env = {
        svc: set(spec.get("environment") or {})
        for name, spec in config["services"].items()
        if (svc := compose_service(name)) and name == svc
    }
    in_chart = {chart_service(pod) for pod in wiring.pod_templates(objects)}
    for service in sorted(set(compose_env) - in_chart):
        problems.append(f"{service}: runs in docker-compose.yml but has no Deployment in the chart")
    for pod in wiring.pod_templates(objects):
        service = chart_service(pod)
        if service is None:
            continue
        env = wiring.container_env(pod)
        referenced = {m for item in env.values() for m in re.findall(r"\$\((\w+)\)", str(item.get("value", "")))}
        # The chart, like compose, hands the service URLs to every service: any service may read a name.
        problems += wiring.unread_env_problems(pod.name, env, read_by(service_names(), referenced))
        problems += unread_secret_problems(pod.name, service, env)
        if service not in compose_env:
            problems.append(f"{service}: runs in the chart ({pod.name}) but not in docker-compose.yml")
            continue
        problems += wiring.env_parity_problems(
            service, compose_env[service], env, set(reads(service)), ALLOWED_ENV_DIFFERENCES
        )
        for container in pod.spec["containers"]:
            ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                http = (container.get(probe) or {}).get("httpGet")
                if not http:
                    continue
                where = f"{pod.name}/{container['name']}.{probe}"
                port = http.get("port")
                if port not in ports and port not in ports.values():
                    problems.append(f"{where}: port {port!r} is no containerPort")
                problems += wiring.path_problems(where, [http.get("path", "/")], route_exists(service))
    return problems


def unread_secret_problems(where: str, service: str, env: dict[str, dict[str, Any]]) -> list[str]:
    """A Secret's value reaches only the services that read it (a merge once gave quota and webdav
    the accounts' TOTP keys and replication secret)."""
    problems = []
    for name, item in sorted(env.items()):
        secret = (item.get("valueFrom") or {}).get("secretKeyRef")
        if secret and not read_by([service], set())(name):
            problems.append(f"{where}: gets {name} from Secret {secret['name']}, which {service} does not read")
    return problems


def compose_problems(config: dict[str, Any]) -> list[str]:
    services = config["services"]

    def app_port(host: str) -> int | None:
        if compose_service(host) is None:
            return None
        return int(services[host]["environment"]["PORT"])

    problems = [
        *wiring.compose_host_problems(config, app_port),
        *wiring.compose_command_problems(config, lambda svc: str(svc.get("image", "")).startswith("docstore-")),
        *wiring.compose_security_problems(
            config, lambda name: str(services[name].get("image", "")).startswith("docstore-")
        ),
    ]
    everyone = service_names()
    for name, spec in services.items():
        service = compose_service(name)
        if service is None:
            continue
        env = spec.get("environment") or {}
        referenced = {m for v in env.values() for m in re.findall(r"\$\((\w+)\)", str(v))}
        # One env block serves every compose service (YAML anchors): any service may read a name.
        problems += wiring.unread_env_problems(f"compose {name}", env, read_by(everyone, referenced))
        paths = wiring.compose_healthcheck_paths(spec)
        if not paths:
            problems.append(f"compose {name}: the healthcheck requests no HTTP path of the app")
        problems += wiring.path_problems(f"compose {name} healthcheck", paths, route_exists(service))
    return problems


# --- the real files are wired ---------------------------------------------------------------


@pytest.mark.parametrize("render", RENDERS)
def test_rendered_chart_is_wired(render: str) -> None:
    problems = chart_problems(chart(render), compose())
    assert not problems, "\n".join(problems)


def test_compose_is_wired() -> None:
    problems = compose_problems(compose())
    assert not problems, "\n".join(problems)


def dockerfile_healthcheck_problems(dockerfile: str) -> list[str]:
    """The image's HEALTHCHECK requests paths every service's app routes."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    checks = [line for line in joined.splitlines() if line.strip().upper().startswith("HEALTHCHECK")]
    problems = [] if checks else ["the Dockerfile has no HEALTHCHECK"]
    for line in checks:
        paths = re.findall(r"https?://[^/\s'\"]+(/[^\s'\"?#]*)", line)
        if not paths and "NONE" not in line.upper():
            problems.append(f"Dockerfile HEALTHCHECK requests no HTTP path: {line.strip()}")
        for service in service_names():
            problems += wiring.path_problems(f"Dockerfile HEALTHCHECK ({service})", paths, route_exists(service))
    return problems


def test_the_image_healthcheck_paths_are_routes() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    problems = dockerfile_healthcheck_problems(dockerfile)
    assert not problems, "\n".join(problems)
    broken = dockerfile_healthcheck_problems(dockerfile.replace("/healthz", "/nope"))
    assert any("/nope is no route" in p for p in broken), broken


def test_the_checks_see_what_they_check() -> None:
    """Guards against vacuous passes: the renders hold the objects the checks walk."""
    objects = chart("us-west-2")
    pods = wiring.pod_templates(objects)
    assert {chart_service(p) for p in pods} >= set(service_names())
    assert any(p.is_hook and p.owner["kind"] == "Job" for p in pods), "no init hook Job rendered"
    assert sum(d["kind"] == "Service" for d in objects) >= len(service_names())
    config = compose()
    for service in service_names():
        assert wiring.compose_healthcheck_paths(config["services"][service])
    assert wiring.app_route_exists(app("quota"), "/readyz") and not wiring.app_route_exists(app("quota"), "/nope")
    # The gateway's web app answers every path; a catch-all mount is not a route.
    assert not wiring.app_route_exists(app("gateway"), "/nope")


# --- each breakage, made on purpose, is reported ------------------------------------------------


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    return next(d for d in objects if d["kind"] == kind and (name is None or d["metadata"]["name"] == name))


def init_job(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in objects if d["kind"] == "Job" and "pre-install" in wiring.hook_events(d))


def first_container(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]["containers"][0]


def init_script(job: dict[str, Any]) -> tuple[list[str], int]:
    """The init container's argv and the index of the script path in it."""
    argv = first_container(job)["command"]
    index = next(i for i, token in enumerate(argv) if token.startswith("/") and token.endswith(".py"))
    return argv, index


def selector_matches_no_pod(objects: list, config: dict) -> None:
    find(objects, "Service", "docstore-quota")["spec"]["selector"]["app.kubernetes.io/name"] = "quotaa"


def target_port_name_missing(objects: list, config: dict) -> None:
    find(objects, "Service", "docstore-upload")["spec"]["ports"][0]["targetPort"] = "htp"


def target_port_number_missing(objects: list, config: dict) -> None:
    find(objects, "Service", "docstore-upload")["spec"]["ports"][0]["targetPort"] = 9999


def service_selects_the_init_pod(objects: list, config: dict) -> None:
    labels = init_job(objects)["spec"]["template"]["metadata"]["labels"]
    find(objects, "Service", "docstore-quota")["spec"]["selector"] = dict(labels)


def wrong_init_script_path(objects: list, config: dict) -> None:
    argv, index = init_script(init_job(objects))
    argv[index] = argv[index].replace("init_platform.py", "init-platform.py")


def init_script_not_in_chart_files(objects: list, config: dict) -> None:
    """`.Files.Get` of a wrong path renders an empty string into the ConfigMap."""
    volumes = init_job(objects)["spec"]["template"]["spec"]["volumes"]
    for volume in volumes:
        if "configMap" in volume:
            cm = find(objects, "ConfigMap", volume["configMap"]["name"])
            cm["data"] = dict.fromkeys(cm["data"], "")


def drop_all_removed(objects: list, config: dict) -> None:
    del first_container(find(objects, "Deployment", "docstore-upload"))["securityContext"]["capabilities"]


def drop_all_removed_from_init(objects: list, config: dict) -> None:
    first_container(init_job(objects))["securityContext"]["capabilities"]["drop"] = []


def runs_as_root(objects: list, config: dict) -> None:
    deployment = find(objects, "Deployment", "docstore-notify")
    deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
    first_container(deployment)["securityContext"].pop("runAsNonRoot", None)


def writable_root_filesystem(objects: list, config: dict) -> None:
    first_container(find(objects, "Deployment", "docstore-indexer"))["securityContext"]["readOnlyRootFilesystem"] = (
        False
    )


def hook_service_account_not_a_hook(objects: list, config: dict) -> None:
    """Issue 16's deadlock: the init hook runs under a ServiceAccount Helm creates after hooks."""
    name = init_job(objects)["spec"]["template"]["spec"]["serviceAccountName"]
    find(objects, "ServiceAccount", name)["metadata"].pop("annotations", None)


def hook_config_map_weighted_after_the_job(objects: list, config: dict) -> None:
    job = init_job(objects)
    volume = next(v for v in job["spec"]["template"]["spec"]["volumes"] if "configMap" in v)
    annotations = find(objects, "ConfigMap", volume["configMap"]["name"])["metadata"]["annotations"]
    annotations["helm.sh/hook-weight"] = str(wiring.hook_weight(job) + 5)


def probe_path_nope(objects: list, config: dict) -> None:
    first_container(find(objects, "Deployment", "docstore-metadata"))["readinessProbe"]["httpGet"]["path"] = "/nope"


def probe_port_missing(objects: list, config: dict) -> None:
    first_container(find(objects, "Deployment", "docstore-metadata"))["livenessProbe"]["httpGet"]["port"] = "htp"


def chart_env_missing(objects: list, config: dict) -> None:
    container = first_container(find(objects, "Deployment", "docstore-quota"))
    container["env"] = [e for e in container["env"] if e["name"] != "KAFKA_TOPIC_PREFIX"]


def chart_env_typo(objects: list, config: dict) -> None:
    container = first_container(find(objects, "Deployment", "docstore-quota"))
    next(e for e in container["env"] if e["name"] == "KAFKA_TOPIC_PREFIX")["name"] = "KAFKA_TOPICS_PREFIX"


def chart_service_url_wrong_port(objects: list, config: dict) -> None:
    container = first_container(find(objects, "Deployment", "docstore-upload"))
    item = next(e for e in container["env"] if e["name"] == "QUOTA_URL")
    item["value"] = re.sub(r":\d+", ":9999", item["value"])


def compose_wrong_mongodb_host(objects: list, config: dict) -> None:
    env = config["services"]["metadata"]["environment"]
    env["MONGODB_URL"] = env["MONGODB_URL"].replace("mongodb:27017", "mongo:27017")


def compose_wrong_kafka_host(objects: list, config: dict) -> None:
    config["services"]["quota-b"]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] = "broker:9092"


def compose_service_url_wrong_port(objects: list, config: dict) -> None:
    config["services"]["gateway"]["environment"]["METADATA_URL"] = "http://metadata:8089"


def compose_healthcheck_nope(objects: list, config: dict) -> None:
    healthcheck = config["services"]["quota"]["healthcheck"]
    healthcheck["test"] = [part.replace("/readyz", "/nope") for part in healthcheck["test"]]


def compose_env_typo(objects: list, config: dict) -> None:
    env = config["services"]["upload"]["environment"]
    env["KAFKA_FETCH_MAX_WAIT_MSS"] = env.pop("KAFKA_FETCH_MAX_WAIT_MS")


def compose_env_missing(objects: list, config: dict) -> None:
    del config["services"]["quota"]["environment"]["KAFKA_TOPIC_PREFIX"]


def compose_wrong_init_script(objects: list, config: dict) -> None:
    init = config["services"]["init"]
    init["command"] = [t.replace("init_platform.py", "init-platform.py") for t in init["command"]]


def service_missing_from_compose(objects: list, config: dict) -> None:
    del config["services"]["notify"]


def service_missing_from_the_chart(objects: list, config: dict) -> None:
    objects.remove(find(objects, "Deployment", "docstore-notify"))


def compose_drop_all_removed(objects: list, config: dict) -> None:
    del config["services"]["notify"]["cap_drop"]


def compose_writable_root(objects: list, config: dict) -> None:
    config["services"]["init"]["read_only"] = False


def ingress_backend_port_missing(objects: list, config: dict) -> None:
    ingress = find(objects, "Ingress", "docstore-gateway")
    ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {"name": "htp"}


def hpa_targets_nothing(objects: list, config: dict) -> None:
    find(objects, "HorizontalPodAutoscaler", "docstore-gateway")["spec"]["scaleTargetRef"]["name"] = "docstore-gatewya"


def pdb_selects_nothing(objects: list, config: dict) -> None:
    find(objects, "PodDisruptionBudget", "docstore-notify")["spec"]["selector"]["matchLabels"][
        "app.kubernetes.io/name"
    ] = "notifi"


def deployment_selector_not_its_template(objects: list, config: dict) -> None:
    find(objects, "Deployment", "docstore-quota")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = (
        "quotaa"
    )


def policy_names_a_port_no_pod_has(objects: list, config: dict) -> None:
    for rule in find(objects, "NetworkPolicy", "docstore-quota")["spec"]["ingress"]:
        for port in rule.get("ports") or []:
            if port.get("port") == "http":
                port["port"] = "htp"


def policy_admits_no_caller(objects: list, config: dict) -> None:
    """quota's policy keeps only rules from other namespaces: upload's calls are dropped."""
    policy = find(objects, "NetworkPolicy", "docstore-quota")["spec"]
    policy["ingress"] = [
        r
        for r in policy["ingress"]
        if not any("podSelector" in p and "namespaceSelector" not in p for p in r.get("from", []))
    ]


def init_egress_to_kafka_closed(objects: list, config: dict) -> None:
    """The init hook's pod loses its egress rule to the Kafka port."""
    for policy in (d for d in objects if d["kind"] == "NetworkPolicy"):
        if wiring._policy_selects(policy, init_job(objects)["spec"]["template"]["metadata"]["labels"]):
            for rule in policy["spec"].get("egress") or []:
                rule["ports"] = [p for p in rule.get("ports") or [{"port": 1}] if p.get("port") != 9092]


def caller_egress_closed(objects: list, config: dict) -> None:
    """upload may no longer send to the release's own pods."""
    policy = find(objects, "NetworkPolicy", "docstore-upload")["spec"]
    policy["egress"] = [
        r
        for r in policy["egress"]
        if not any("podSelector" in p and "namespaceSelector" not in p for p in r.get("to", []))
    ]


def gateway_closed_to_the_ingress_controller(objects: list, config: dict) -> None:
    for policy in (d for d in objects if d["kind"] == "NetworkPolicy"):
        policy["spec"]["ingress"] = [
            r
            for r in policy["spec"].get("ingress") or []
            if not any(wiring._peer_is_outside(p) for p in r.get("from", []))
        ]


def metrics_port_env_not_declared(objects: list, config: dict) -> None:
    container = first_container(find(objects, "Deployment", "docstore-indexer"))
    next(e for e in container["env"] if e["name"] == "METRICS_PORT")["value"] = "9465"


def scrape_annotation_on_the_app_port(objects: list, config: dict) -> None:
    deployment = find(objects, "Deployment", "docstore-metadata")
    port = next(e for e in first_container(deployment)["env"] if e["name"] == "PORT")["value"]
    deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] = port


def ingress_routes_to_metrics(objects: list, config: dict) -> None:
    ingress = find(objects, "Ingress", "docstore-gateway")
    ingress["spec"]["rules"][0]["http"]["paths"].append(
        {
            "path": "/metrics",
            "pathType": "Prefix",
            "backend": {"service": {"name": "docstore-gateway", "port": {"name": "metrics"}}},
        }
    )


def metrics_back_on_the_app_port(objects: list, config: dict) -> None:
    """Issue 16: with METRICS_PORT unset the app serves /metrics, and the public Ingress's `/` publishes it."""
    container = first_container(find(objects, "Deployment", "docstore-gateway"))
    container["env"] = [e for e in container["env"] if e["name"] != "METRICS_PORT"]
    container["ports"] = [p for p in container["ports"] if p.get("name") != "metrics"]


def accounts_secret_given_to_quota(objects: list, config: dict) -> None:
    accounts = first_container(find(objects, "Deployment", "docstore-accounts"))
    keys = next(e for e in accounts["env"] if e["name"] == "SECRETS_KEYS")
    first_container(find(objects, "Deployment", "docstore-quota"))["env"].append(copy.deepcopy(keys))


def app_port_env_differs(objects: list, config: dict) -> None:
    container = first_container(find(objects, "Deployment", "docstore-notify"))
    next(e for e in container["env"] if e["name"] == "PORT")["value"] = "8099"


# (mutation, what the report must say); each runs on both regions' renders.
BREAKAGES = [
    (selector_matches_no_pod, "docstore-quota: selector"),
    (target_port_name_missing, "targetPort 'htp'"),
    (target_port_number_missing, "targetPort 9999"),
    (service_selects_the_init_pod, "selects the hook/test pod"),
    (wrong_init_script_path, "init-platform.py is no file of the volume"),
    (init_script_not_in_chart_files, "is mounted but empty"),
    (drop_all_removed, "docstore-upload/upload: capabilities.drop does not contain ALL"),
    (drop_all_removed_from_init, "capabilities.drop does not contain ALL"),
    (runs_as_root, "docstore-notify/notify: does not run as non-root"),
    (writable_root_filesystem, "readOnlyRootFilesystem is not true"),
    (hook_service_account_not_a_hook, "which is not a pre-install hook"),
    (hook_config_map_weighted_after_the_job, "which Helm does not create before it"),
    (probe_path_nope, "/nope is no route"),
    (probe_port_missing, "port 'htp' is no containerPort"),
    (chart_env_missing, "quota: KAFKA_TOPIC_PREFIX is set in docker-compose.yml but not by the chart"),
    (chart_env_typo, "nothing reads env KAFKA_TOPICS_PREFIX"),
    (chart_service_url_wrong_port, "QUOTA_URL names"),
    (compose_wrong_mongodb_host, "names host 'mongo'"),
    (compose_wrong_kafka_host, "names host 'broker'"),
    (compose_service_url_wrong_port, "metadata listens on 8081"),
    (compose_healthcheck_nope, "compose quota healthcheck: /nope is no route"),
    (compose_env_typo, "nothing reads env KAFKA_FETCH_MAX_WAIT_MSS"),
    (compose_env_missing, "quota: KAFKA_TOPIC_PREFIX is set by the chart but not in docker-compose.yml"),
    (compose_wrong_init_script, "compose init: runs /init/init-platform.py"),
    (
        service_missing_from_compose,
        "notify: runs in the chart (Deployment/docstore-notify) but not in docker-compose.yml",
    ),
    (service_missing_from_the_chart, "notify: runs in docker-compose.yml but has no Deployment in the chart"),
    (compose_drop_all_removed, "compose notify: cap_drop does not contain ALL"),
    (compose_writable_root, "compose init: read_only is not true"),
    (ingress_backend_port_missing, "Service docstore-gateway has no port 'htp'"),
    (hpa_targets_nothing, "scales Deployment/docstore-gatewya, which is not rendered"),
    (pdb_selects_nothing, "PodDisruptionBudget/docstore-notify: selector"),
    (deployment_selector_not_its_template, "does not match its own pod template"),
    (policy_names_a_port_no_pod_has, "ingress port 'htp' is no container port"),
    (policy_admits_no_caller, "Deployment/docstore-quota: ingress from Deployment/docstore-upload"),
    (init_egress_to_kafka_closed, "Job/docstore-init: egress to"),
    (caller_egress_closed, "Deployment/docstore-upload: egress to Service/docstore-quota"),
    (metrics_port_env_not_declared, "METRICS_PORT=9465 is no containerPort"),
    (scrape_annotation_on_the_app_port, "is not the metrics listener"),
    (ingress_routes_to_metrics, "routes /metrics to the metrics port of Deployment/docstore-gateway"),
    (metrics_back_on_the_app_port, "Ingress/docstore-gateway: / publishes /metrics of Deployment/docstore-gateway"),
    (app_port_env_differs, "PORT=8099 but the containerPort named http"),
    (
        accounts_secret_given_to_quota,
        "Deployment/docstore-quota: gets SECRETS_KEYS from Secret docstore-accounts-secrets, which quota does not read",
    ),
    (
        gateway_closed_to_the_ingress_controller,
        "Ingress/docstore-gateway: Deployment/docstore-gateway admits nothing from outside",
    ),
]


def service_monitor_port_missing(objects: list, config: dict) -> None:
    for endpoint in find(objects, "ServiceMonitor")["spec"]["endpoints"]:
        endpoint["port"] = "metrix"


def scaled_object_beside_an_hpa(objects: list, config: dict) -> None:
    scaled = find(objects, "ScaledObject")
    hpa = copy.deepcopy(find(objects, "HorizontalPodAutoscaler", "docstore-gateway"))
    hpa["metadata"]["name"] = hpa["spec"]["scaleTargetRef"]["name"] = scaled["spec"]["scaleTargetRef"]["name"]
    objects.append(hpa)


def scrape_port_closed(objects: list, config: dict) -> None:
    """The scraper's namespace loses access: only same-namespace rules remain."""
    gateway_closed_to_the_ingress_controller(objects, config)


def service_monitor_path_wrong(objects: list, config: dict) -> None:
    for endpoint in find(objects, "ServiceMonitor")["spec"]["endpoints"]:
        endpoint["path"] = "/metrics/"


def oidc_setting_left_out(objects: list, config: dict) -> None:
    container = first_container(find(objects, "Deployment", "docstore-accounts"))
    container["env"] = [e for e in container["env"] if e["name"] != "ACCOUNTS_OIDC_PROVIDER_NAME"]


def oidc_secret_given_to_the_gateway(objects: list, config: dict) -> None:
    accounts = first_container(find(objects, "Deployment", "docstore-accounts"))
    secret = next(e for e in accounts["env"] if e["name"] == "ACCOUNTS_OIDC_CLIENT_SECRET")
    first_container(find(objects, "Deployment", "docstore-gateway"))["env"].append(copy.deepcopy(secret))


OPTIONAL_BREAKAGES = [
    (service_monitor_port_missing, "has no port named 'metrix'"),
    (oidc_setting_left_out, "accounts: OIDC_PROVIDER_NAME is set in docker-compose.yml but not by the chart"),
    (oidc_secret_given_to_the_gateway, "gets ACCOUNTS_OIDC_CLIENT_SECRET from Secret docstore-oidc, which gateway"),
    (scaled_object_beside_an_hpa, "its Deployment also has an HPA"),
    (scrape_port_closed, "ServiceMonitor/"),
    (service_monitor_path_wrong, "scrapes /metrics/"),
]


@pytest.mark.parametrize("breakage,report", OPTIONAL_BREAKAGES, ids=[b.__name__ for b, _ in OPTIONAL_BREAKAGES])
def test_each_breakage_of_optional_objects_is_reported(breakage: Callable, report: str) -> None:
    objects, config = chart("us-west-2+optional"), compose()
    breakage(objects, config)
    problems = chart_problems(objects, config)
    assert any(report in problem for problem in problems), (
        f"{breakage.__name__} went unreported; problems:\n" + "\n".join(problems)
    )


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("breakage,report", BREAKAGES, ids=[b.__name__ for b, _ in BREAKAGES])
def test_each_breakage_is_reported(breakage: Callable, report: str, region: str) -> None:
    objects, config = chart(region), compose()
    breakage(objects, config)
    problems = chart_problems(objects, config) + compose_problems(config)
    assert any(report in problem for problem in problems), (
        f"{breakage.__name__} went unreported; problems:\n" + "\n".join(problems)
    )
