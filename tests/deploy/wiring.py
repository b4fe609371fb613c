"""Wiring checks over rendered deployment files: does each part point at something that exists?

Every check is a pure function from the rendered objects (`helm template` output parsed into
dicts, or `docker compose config --format json`) to a list of problems, one readable sentence
each; an empty list means the wiring holds. Tests run them on the real renders (they must find
nothing) and on copies broken on purpose (they must report the breakage), so a check that
cannot fail is noticed.

What they read is the rendered output, never the template source: they keep their meaning
while the chart's templates change.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

Manifest = dict[str, Any]

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")

# Helm's InstallOrder (pkg/release/util/kind_sorter.go): hooks of one weight are created in this
# order of kinds, so a ServiceAccount of the same weight as a Job exists before the Job.
HELM_INSTALL_ORDER = [
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
    "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
    "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
]  # fmt: skip

# Hook events that run before the release's ordinary objects are created or updated: whatever a
# hook pod of these events needs must itself be a hook of the event, created before it.
PRE_EVENTS = ("pre-install", "pre-upgrade", "pre-rollback")

# Absolute paths the service image provides (Dockerfile: the venv under /app/.venv and the
# python base image's interpreter). A command path elsewhere must come from a mounted volume.
IMAGE_PATH_PREFIXES = ("/app/.venv/", "/usr/local/bin/", "/usr/bin/", "/bin/")


@dataclass(frozen=True)
class PodTemplate:
    """One pod the chart can start: from a workload's template or a bare Pod (helm test)."""

    owner: Manifest
    labels: dict[str, str]
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.owner['kind']}/{self.owner['metadata']['name']}"

    @property
    def is_hook(self) -> bool:
        return bool(hook_events(self.owner))

    def containers(self) -> list[dict[str, Any]]:
        return [*self.spec.get("initContainers", []), *self.spec.get("containers", [])]


def ref(doc: Manifest) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def hook_events(doc: Manifest) -> list[str]:
    value = (doc["metadata"].get("annotations") or {}).get("helm.sh/hook", "")
    return [event.strip() for event in value.split(",") if event.strip()]


def hook_weight(doc: Manifest) -> int:
    return int((doc["metadata"].get("annotations") or {}).get("helm.sh/hook-weight", "0"))


def hook_delete_policies(doc: Manifest) -> set[str]:
    value = (doc["metadata"].get("annotations") or {}).get("helm.sh/hook-delete-policy", "")
    return {p.strip() for p in value.split(",") if p.strip()}


def pod_templates(manifests: Iterable[Manifest]) -> list[PodTemplate]:
    """Every pod the rendered objects can start."""
    pods = []
    for doc in manifests:
        if doc["kind"] in WORKLOAD_KINDS:
            template = doc["spec"]["template"]
            pods.append(PodTemplate(doc, (template.get("metadata") or {}).get("labels") or {}, template["spec"]))
        elif doc["kind"] == "CronJob":
            template = doc["spec"]["jobTemplate"]["spec"]["template"]
            pods.append(PodTemplate(doc, (template.get("metadata") or {}).get("labels") or {}, template["spec"]))
        elif doc["kind"] == "Pod":
            pods.append(PodTemplate(doc, doc["metadata"].get("labels") or {}, doc["spec"]))
    return pods


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# --- Services ------------------------------------------------------------------------------


def service_problems(manifests: list[Manifest]) -> list[str]:
    """Every Service selects at least one long-running pod (never a hook or test pod), and each
    of its `targetPort`s (a name or a number; the `port` when absent) is a containerPort of
    every pod it selects."""
    problems = []
    pods = pod_templates(manifests)
    for svc in (d for d in manifests if d["kind"] == "Service"):
        selector = svc["spec"].get("selector") or {}
        if not selector:
            continue  # a selector-less Service is wired by hand (Endpoints); nothing to check
        selected = [p for p in pods if _selects(selector, p.labels)]
        for pod in (p for p in selected if p.is_hook):
            problems.append(f"{ref(svc)} selects the hook/test pod of {pod.name}: traffic would reach it")
        selected = [p for p in selected if not p.is_hook]
        if not selected:
            problems.append(f"{ref(svc)}: selector {selector} matches no pod template")
            continue
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            for pod in selected:
                declared = [cp for c in pod.spec.get("containers", []) for cp in c.get("ports", [])]
                if isinstance(target, int) or str(target).isdigit():
                    found = any(cp["containerPort"] == int(target) for cp in declared)
                else:
                    found = any(cp.get("name") == target for cp in declared)
                if not found:
                    problems.append(f"{ref(svc)}: targetPort {target!r} is no containerPort of {pod.name}")
    return problems


# --- Helm hooks ------------------------------------------------------------------------------


def pod_dependencies(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of the ServiceAccount, Secrets and ConfigMaps a pod needs to start."""
    deps = {("ServiceAccount", spec.get("serviceAccountName") or "default")}
    deps |= {("Secret", s["name"]) for s in spec.get("imagePullSecrets", [])}
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            deps.add(("Secret", volume["secret"]["secretName"]))
        if "configMap" in volume:
            deps.add(("ConfigMap", volume["configMap"]["name"]))
        for source in (volume.get("projected") or {}).get("sources", []):
            if "secret" in source:
                deps.add(("Secret", source["secret"]["name"]))
            if "configMap" in source:
                deps.add(("ConfigMap", source["configMap"]["name"]))
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        for item in container.get("env", []):
            value_from = item.get("valueFrom") or {}
            if "secretKeyRef" in value_from and not value_from["secretKeyRef"].get("optional"):
                deps.add(("Secret", value_from["secretKeyRef"]["name"]))
            if "configMapKeyRef" in value_from and not value_from["configMapKeyRef"].get("optional"):
                deps.add(("ConfigMap", value_from["configMapKeyRef"]["name"]))
        for source in container.get("envFrom", []):
            if "secretRef" in source and not source["secretRef"].get("optional"):
                deps.add(("Secret", source["secretRef"]["name"]))
            if "configMapRef" in source and not source["configMapRef"].get("optional"):
                deps.add(("ConfigMap", source["configMapRef"]["name"]))
    return deps


def _hook_order(doc: Manifest) -> tuple[int, int]:
    kind = doc["kind"]
    return hook_weight(doc), HELM_INSTALL_ORDER.index(kind) if kind in HELM_INSTALL_ORDER else len(HELM_INSTALL_ORDER)


def hook_problems(manifests: list[Manifest]) -> list[str]:
    """Resources a hook pod needs exist when it starts.

    Helm creates hooks of one event in order of weight, then kind, and creates the release's
    ordinary objects only after the pre-install/pre-upgrade/pre-rollback hooks finished. So
    what such a hook pod uses (ServiceAccount, Secrets, ConfigMaps) that the chart renders must
    be a hook of the same event that sorts before it. Resources the chart does not render
    (existing Secrets, say) are the operator's to create beforehand and are not checked.
    Also: an ordinary pod must not use a hook resource deleted once hooks succeed."""
    problems = []
    rendered = {(d["kind"], d["metadata"]["name"]): d for d in manifests}
    for pod in pod_templates(manifests):
        needs = [rendered[dep] for dep in sorted(pod_dependencies(pod.spec)) if dep in rendered]
        if not pod.is_hook:
            for dep in needs:
                if hook_events(dep) and "hook-succeeded" in hook_delete_policies(dep):
                    problems.append(f"{pod.name} uses {ref(dep)}, a hook deleted once hooks succeed")
            continue
        for event in (e for e in hook_events(pod.owner) if e in PRE_EVENTS):
            for dep in needs:
                if event not in hook_events(dep):
                    problems.append(
                        f"{pod.name} ({event} hook) uses {ref(dep)}, which is not a {event} hook: "
                        f"Helm creates it only after the hook ran"
                    )
                elif _hook_order(dep) >= _hook_order(pod.owner):
                    problems.append(
                        f"{pod.name} ({event} hook, weight {hook_weight(pod.owner)}) uses {ref(dep)} "
                        f"(weight {hook_weight(dep)}), which Helm does not create before it"
                    )
    return problems


# --- Commands and the files they run -----------------------------------------------------------


def command_tokens(container: dict[str, Any]) -> list[str]:
    """The words of a container's command and args; a `sh -c` script is split into its words."""
    argv = [*container.get("command", []), *container.get("args", [])]
    if len(argv) >= 3 and PurePosixPath(argv[0]).name in ("sh", "bash") and argv[1] == "-c":
        return [argv[0], *shlex.split(argv[2], comments=True), *argv[3:]]
    return argv


def mounted_files(pod: PodTemplate, container: dict[str, Any], manifests: list[Manifest]) -> dict[str, str | None]:
    """Path -> content (None: unknown, e.g. an existing Secret) of files a container sees
    through its ConfigMap/Secret volume mounts."""
    volumes = {v["name"]: v for v in pod.spec.get("volumes", [])}
    configmaps = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "ConfigMap"}
    files: dict[str, str | None] = {}
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})
        source = volume.get("configMap") or volume.get("secret")
        if source is None:
            continue
        cm = configmaps.get(source.get("name", "")) if "configMap" in volume else None
        if cm is None:  # a Secret or a ConfigMap the chart does not render: its files are unknown
            files[mount["mountPath"].rstrip("/") + "/*"] = None
            continue
        data: dict[str, str | None] = dict(cm.get("data") or {})
        keys = {item["key"]: item["path"] for item in source.get("items", [])} or {k: k for k in data}
        if "subPath" in mount:
            key = mount["subPath"]
            if key in keys.values():
                files[mount["mountPath"]] = data.get(next(k for k, p in keys.items() if p == key))
            continue
        for key, path in keys.items():
            files[str(PurePosixPath(mount["mountPath"]) / path)] = data.get(key)
    return files


def command_problems(
    manifests: list[Manifest],
    *,
    hooks_only: bool = True,
    module_exists: Callable[[str], bool] | None = None,
) -> list[str]:
    """Every script a hook container runs exists: an absolute path in its command is a file of
    a mounted ConfigMap with content (so `.Files.Get` of a wrong chart path, which renders an
    empty string, is caught too) or lies in the image's own layout; `python -m pkg` names an
    importable module."""
    module_exists = module_exists or (lambda name: importlib.util.find_spec(name) is not None)
    problems = []
    for pod in pod_templates(manifests):
        if hooks_only and not pod.is_hook:
            continue
        for container in pod.containers():
            tokens = command_tokens(container)
            files = mounted_files(pod, container, manifests)
            mount_points = [m["mountPath"] for m in container.get("volumeMounts", [])]
            for i, token in enumerate(tokens):
                if i > 0 and tokens[i - 1] == "-m" and PurePosixPath(tokens[0]).name.startswith("python"):
                    if not module_exists(token):
                        problems.append(
                            f"{pod.name}/{container['name']}: runs module {token!r}, which is not installed"
                        )
                    continue
                if not token.startswith("/") or token.startswith("//"):
                    continue
                if any(p.endswith("/*") and token.startswith(p[:-1]) for p in files):
                    continue  # inside an opaque mount
                if token in files:
                    if files[token] is not None and not str(files[token]).strip():
                        problems.append(f"{pod.name}/{container['name']}: {token} is mounted but empty")
                    continue
                if any(token.startswith(m.rstrip("/") + "/") for m in mount_points):
                    problems.append(f"{pod.name}/{container['name']}: {token} is no file of the volume mounted there")
                elif not token.startswith(IMAGE_PATH_PREFIXES):
                    problems.append(f"{pod.name}/{container['name']}: {token} is neither mounted nor in the image")
    return problems


# --- Container hardening ------------------------------------------------------------------------


def security_problems(manifests: list[Manifest]) -> list[str]:
    """Every container (hooks and tests too) drops ALL capabilities, cannot escalate, is not
    privileged, has a read-only root filesystem and runs as non-root (pod or container level)."""
    problems = []
    for pod in pod_templates(manifests):
        pod_security = pod.spec.get("securityContext") or {}
        for container in pod.containers():
            where = f"{pod.name}/{container['name']}"
            security = container.get("securityContext") or {}
            drop = [str(c).upper() for c in (security.get("capabilities") or {}).get("drop") or []]
            if "ALL" not in drop:
                problems.append(f"{where}: capabilities.drop does not contain ALL")
            if (security.get("capabilities") or {}).get("add"):
                problems.append(f"{where}: adds capabilities {security['capabilities']['add']}")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if security.get("privileged"):
                problems.append(f"{where}: privileged")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem is not true")
            non_root = security.get("runAsNonRoot", pod_security.get("runAsNonRoot"))
            user = security.get("runAsUser", pod_security.get("runAsUser"))
            if non_root is not True or user == 0:
                problems.append(f"{where}: does not run as non-root")
    return problems


# --- Env names: compose and chart ------------------------------------------------------------


def container_env(pod: PodTemplate) -> dict[str, dict[str, Any]]:
    (container,) = pod.spec["containers"]
    return {item["name"]: item for item in container.get("env", [])}


def env_parity_problems(
    service: str,
    compose_env: Iterable[str],
    chart_env: Iterable[str],
    reads: set[str],
    allowed: dict[str, str],
) -> list[str]:
    """The settings a service reads are set by the same env names in compose and the chart.

    `reads`: env names the service reads (its Settings fields; `<SERVICE>_<FIELD>` counts as
    `<FIELD>`). `allowed`: names that may be set on one side only, with the reason."""
    prefix = f"{service.upper()}_"

    def normal(names: Iterable[str]) -> set[str]:
        return {n.removeprefix(prefix) if n.removeprefix(prefix) in reads else n for n in names}

    compose, chart = normal(compose_env) & reads, normal(chart_env) & reads
    problems = []
    for name in sorted((compose - chart) - set(allowed)):
        problems.append(f"{service}: {name} is set in docker-compose.yml but not by the chart")
    for name in sorted((chart - compose) - set(allowed)):
        problems.append(f"{service}: {name} is set by the chart but not in docker-compose.yml")
    return problems


def unread_env_problems(where: str, env: Iterable[str], read_by_anyone: Callable[[str], bool]) -> list[str]:
    """Env names nobody reads are typos (a setting silently left at its default)."""
    return [f"{where}: nothing reads env {name}" for name in sorted(env) if not read_by_anyone(name)]


# --- Health check and probe paths -------------------------------------------------------------

_URL_PATH = re.compile(r"https?://[^/\s'\"]+(/[^\s'\"?#]*)")


def compose_healthcheck_paths(service: dict[str, Any]) -> list[str]:
    """HTTP paths a compose healthcheck requests (URLs in its command)."""
    test = (service.get("healthcheck") or {}).get("test") or []
    text = test if isinstance(test, str) else " ".join(test)
    return _URL_PATH.findall(text)


def probe_paths(pod: PodTemplate) -> list[tuple[str, str]]:
    """(probe, path) of every httpGet probe in a pod."""
    found = []
    for container in pod.containers():
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            http = (container.get(probe) or {}).get("httpGet")
            if http:
                found.append((f"{container['name']}.{probe}", http.get("path", "/")))
    return found


def path_problems(where: str, paths: Iterable[str], route_exists: Callable[[str], bool]) -> list[str]:
    return [f"{where}: {path} is no route of the app" for path in paths if not route_exists(path)]


def app_route_exists(app: Any, path: str) -> bool:
    """Whether a GET of `path` reaches a route of a Starlette/FastAPI app, not counting a
    catch-all mount at the root (the gateway's web app answers every path with index.html)."""
    from starlette.routing import Match, Mount

    scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": []}
    for route in app.router.routes:
        if isinstance(route, Mount) and route.path in ("", "/"):
            continue
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return True
    return False


# --- Hosts named in env values ----------------------------------------------------------------

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://(?:[^@/\s'\"]*@)?([^/\s'\"?#]+)")


def hosts_in(name: str, value: str) -> Iterator[tuple[str, int | None]]:
    """(host, port) of every server an env value names: URLs (a MongoDB URL may list several
    hosts), JSON objects of URLs, and a bare `host:port,host:port` list (Kafka bootstrap)."""
    value = str(value)
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for item in parsed.values():
            if isinstance(item, str):
                yield from hosts_in(name, item)
        return
    netlocs = _URL.findall(value)
    if not netlocs and name.endswith(("BOOTSTRAP_SERVERS", "_HOSTS")):
        netlocs = [value]
    for netloc in netlocs:
        for hostport in netloc.split(","):
            host, _, port = hostport.strip().partition(":")
            if host and not host.startswith("$"):
                yield host, int(port) if port.isdigit() else None


# Env names whose URLs a browser or the host opens, not a container: localhost is right there.
PUBLIC_URL_ENV = {"S3_PUBLIC_ENDPOINT_URL", "GATEWAY_URL", "REGION_GATEWAYS"}
LOOPBACK = {"localhost", "127.0.0.1"}


def compose_host_problems(config: dict[str, Any], app_port: Callable[[str], int | None]) -> list[str]:
    """Every server a compose service's env names is a compose service (localhost only in the
    public URLs), and an app service is named with the port it listens on (`app_port`)."""
    services = config["services"]
    problems = []
    for name, svc in services.items():
        for env_name, value in (svc.get("environment") or {}).items():
            if value is None:
                continue
            for host, port in hosts_in(env_name, value):
                if host in LOOPBACK and env_name in PUBLIC_URL_ENV:
                    continue
                if host not in services:
                    problems.append(f"compose {name}: {env_name} names host {host!r}, which is no compose service")
                    continue
                expected = app_port(host)
                if expected is not None and port is not None and port != expected:
                    problems.append(f"compose {name}: {env_name} names {host}:{port}, but {host} listens on {expected}")
    return problems


def chart_url_problems(manifests: list[Manifest]) -> list[str]:
    """An env value naming a rendered Service (`name`, `name.ns`, `name.ns.svc...`) uses one of
    its ports."""
    services = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "Service"}
    problems = []
    for pod in pod_templates(manifests):
        for container in pod.containers():
            for item in container.get("env", []):
                if "value" not in item:
                    continue
                for host, port in hosts_in(item["name"], item["value"]):
                    svc = services.get(host.split(".")[0])
                    if svc is None or port is None:
                        continue
                    ports = {p["port"] for p in svc["spec"].get("ports", [])}
                    if port not in ports:
                        problems.append(
                            f"{pod.name}: {item['name']} names {host}:{port}; {ref(svc)} has ports {sorted(ports)}"
                        )
    return problems


def compose_command_problems(config: dict[str, Any], own_image: Callable[[dict[str, Any]], bool]) -> list[str]:
    """A compose service's command runs files that exist: a path under a bind mount is a file of
    the mounted source on the host; other paths in one of our images lie in the image layout."""
    from pathlib import Path

    problems = []
    for name, svc in config["services"].items():
        command = svc.get("command") or []
        tokens = command_tokens({"command": shlex.split(command) if isinstance(command, str) else command})
        binds = [v for v in svc.get("volumes", []) if v.get("type") == "bind"]
        for token in (t for t in tokens if t.startswith("/")):
            bind = next(
                (b for b in binds if token == b["target"] or token.startswith(b["target"].rstrip("/") + "/")), None
            )
            if bind is not None:
                source = Path(bind["source"]) / PurePosixPath(token).relative_to(bind["target"])
                if not source.is_file():
                    problems.append(
                        f"compose {name}: runs {token}, but {source} (mounted at {bind['target']}) is no file"
                    )
            elif own_image(svc) and not token.startswith(IMAGE_PATH_PREFIXES):
                problems.append(f"compose {name}: runs {token}, which is neither mounted nor in the image")
    return problems


def compose_security_problems(config: dict[str, Any], ours: Callable[[str], bool]) -> list[str]:
    """Our containers in compose run as the chart runs them: `cap_drop: [ALL]`, read-only root
    filesystem, no-new-privileges, not privileged, no user override to root."""
    problems = []
    for name, svc in config["services"].items():
        if not ours(name):
            continue
        if "ALL" not in [str(c).upper() for c in svc.get("cap_drop") or []]:
            problems.append(f"compose {name}: cap_drop does not contain ALL")
        if svc.get("cap_add"):
            problems.append(f"compose {name}: adds capabilities {svc['cap_add']}")
        if svc.get("read_only") is not True:
            problems.append(f"compose {name}: read_only is not true")
        if not any(
            str(o).replace("=", ":") in ("no-new-privileges:true", "no-new-privileges")
            for o in svc.get("security_opt") or []
        ):
            problems.append(f"compose {name}: security_opt lacks no-new-privileges:true")
        if svc.get("privileged"):
            problems.append(f"compose {name}: privileged")
        if str(svc.get("user", "")).split(":")[0] in ("0", "root"):
            problems.append(f"compose {name}: runs as root")
    return problems


# --- References between objects ----------------------------------------------------------------


def _service_port(svc: Manifest, port: int | str) -> dict[str, Any] | None:
    return next((p for p in svc["spec"].get("ports", []) if port in (p.get("name"), p["port"])), None)


def reference_problems(manifests: list[Manifest]) -> list[str]:
    """Objects that name others name rendered ones: a workload's selector its own template; an
    Ingress backend a Service and one of its ports; an HPA or ScaledObject a Deployment (and
    never both the same one); a PodDisruptionBudget some pod; a ServiceMonitor a Service and
    its port names."""
    problems = []
    by_kind: dict[str, dict[str, Manifest]] = {}
    for doc in manifests:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    services = by_kind.get("Service", {})
    pods = [p for p in pod_templates(manifests) if not p.is_hook]
    for doc in manifests:
        kind, spec = doc["kind"], doc.get("spec") or {}
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            labels = (spec["template"].get("metadata") or {}).get("labels") or {}
            if not _selects(selector, labels):
                problems.append(f"{ref(doc)}: selector {selector} does not match its own pod template")
        elif kind == "Ingress":
            for rule in spec.get("rules", []):
                for path in (rule.get("http") or {}).get("paths", []):
                    backend = path["backend"]["service"]
                    svc = services.get(backend["name"])
                    port = backend["port"].get("name", backend["port"].get("number"))
                    if svc is None:
                        problems.append(f"{ref(doc)}: backend Service {backend['name']} is not rendered")
                    elif _service_port(svc, port) is None:
                        problems.append(f"{ref(doc)}: Service {backend['name']} has no port {port!r}")
        elif kind in ("HorizontalPodAutoscaler", "ScaledObject"):
            target = spec["scaleTargetRef"]
            target_kind = target.get("kind", "Deployment")
            if target["name"] not in by_kind.get(target_kind, {}):
                problems.append(f"{ref(doc)}: scales {target_kind}/{target['name']}, which is not rendered")
        elif kind == "PodDisruptionBudget":
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            if not any(_selects(selector, p.labels) for p in pods):
                problems.append(f"{ref(doc)}: selector {selector} matches no pod")
        elif kind == "ServiceMonitor":
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            matched = [s for s in services.values() if _selects(selector, s["metadata"].get("labels") or {})]
            if not matched:
                problems.append(f"{ref(doc)}: selector {selector} matches no Service")
            for endpoint in spec.get("endpoints", []):
                for svc in matched:
                    if "port" in endpoint and _service_port(svc, endpoint["port"]) is None:
                        problems.append(f"{ref(doc)}: {ref(svc)} has no port named {endpoint['port']!r}")
    hpa_targets = {d["spec"]["scaleTargetRef"]["name"] for d in by_kind.get("HorizontalPodAutoscaler", {}).values()}
    for scaled in by_kind.get("ScaledObject", {}).values():
        if scaled["spec"]["scaleTargetRef"]["name"] in hpa_targets:
            problems.append(f"{ref(scaled)}: its Deployment also has an HPA (KEDA makes its own; they would fight)")
    return problems


# --- NetworkPolicies ------------------------------------------------------------------------------


def _policy_selects(policy: Manifest, labels: dict[str, str]) -> bool:
    selector = policy["spec"].get("podSelector") or {}
    if selector.get("matchExpressions"):
        return False  # not evaluated here; no policy of the chart uses them
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _port_in(rule_ports: list[dict[str, Any]] | None, number: int, name: str | None) -> bool:
    if not rule_ports:
        return True  # a rule without ports allows every port
    for p in rule_ports:
        if "port" not in p or p["port"] in (number, name):
            return True
        if isinstance(p["port"], int) and p.get("endPort") and p["port"] <= number <= p["endPort"]:
            return True
    return False


def _peer_is_pod(peer: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a policy peer admits a pod of this namespace with these labels."""
    if "ipBlock" in peer or peer.get("namespaceSelector"):
        return False  # another namespace (or, for a namespaceSelector {}, every one: then yes)
    selector = peer.get("podSelector")
    if selector is None:
        return "namespaceSelector" in peer  # namespaceSelector: {} alone admits every pod
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _peer_is_outside(peer: dict[str, Any]) -> bool:
    return "ipBlock" in peer or "namespaceSelector" in peer


def _allows(
    policies: list[Manifest], direction: str, number: int, name: str | None, peer_ok: Callable[[dict[str, Any]], bool]
) -> bool:
    """Whether some rule of these policies lets traffic through on this port from/to a peer
    `peer_ok` accepts. Policies that do not restrict `direction` are not consulted."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in policies:
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            if _port_in(rule.get("ports"), number, name) and (not peers or any(peer_ok(p) for p in peers)):
                return True
    return False


def _restricting(policies: list[Manifest], pod: PodTemplate, direction: str) -> list[Manifest]:
    return [
        p for p in policies if _policy_selects(p, pod.labels) and direction in p["spec"].get("policyTypes", ["Ingress"])
    ]


def _urls_of(pod: PodTemplate) -> Iterator[tuple[str, str, int | None]]:
    """(what, host, port) of servers a pod's env values and command lines name."""
    for container in pod.containers():
        for item in container.get("env", []):
            if "value" in item:
                for host, port in hosts_in(item["name"], item["value"]):
                    yield item["name"], host, port
        for token in command_tokens(container):
            for host, port in hosts_in("command", token):
                yield "command", host, port


def network_policy_problems(manifests: list[Manifest]) -> list[str]:
    """Under the rendered NetworkPolicies, the traffic the chart wires can flow.

    - every Service's target port is open for ingress on the pods it selects, from somewhere;
    - a pod that names a rendered Service (env value or command URL) may send to the target
      port (its egress policies) and the selected pods accept it from that pod (their ingress);
    - a pod that names an outside server with a port, and any hostname at all, may send to
      that port and to DNS (53) when its egress is restricted;
    - a named port in an ingress rule is a container port of some pod the policy selects.
    Peers are matched by labels in the release's namespace; destinations outside it by port."""
    policies = [d for d in manifests if d["kind"] == "NetworkPolicy"]
    if not policies:
        return []
    problems = []
    pods = pod_templates(manifests)
    services = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "Service"}

    def targets(svc: Manifest, port: dict[str, Any]) -> list[tuple[PodTemplate, int, str | None]]:
        """(pod, container port number, its name) a Service port reaches."""
        found = []
        for pod in (p for p in pods if not p.is_hook and _selects(svc["spec"].get("selector") or {}, p.labels)):
            target = port.get("targetPort", port["port"])
            for cp in (cp for c in pod.spec.get("containers", []) for cp in c.get("ports", [])):
                if target in (cp["containerPort"], cp.get("name")):
                    found.append((pod, cp["containerPort"], cp.get("name")))
        return found

    for policy in policies:
        selected = [p for p in pods if _policy_selects(policy, p.labels)]
        declared = {cp.get("name") for p in selected for c in p.containers() for cp in c.get("ports", [])}
        for rule in policy["spec"].get("ingress") or []:
            for p in rule.get("ports") or []:
                if isinstance(p.get("port"), str) and selected and p["port"] not in declared:
                    problems.append(
                        f"{ref(policy)}: ingress port {p['port']!r} is no container port of the pods it selects"
                    )

    for svc in services.values():
        for port in svc["spec"].get("ports", []):
            for pod, number, name in targets(svc, port):
                restricting = _restricting(policies, pod, "Ingress")
                if restricting and not _allows(restricting, "Ingress", number, name, lambda peer: True):
                    problems.append(
                        f"{ref(svc)}: no NetworkPolicy admits traffic to port {name or number} of {pod.name}"
                    )

    for client in pods:
        egress = _restricting(policies, client, "Egress")
        named_hosts = False
        for what, host, port in _urls_of(client):
            named_hosts = True
            svc = services.get(host.split(".")[0])
            if svc is None:
                if egress and port is not None and not _allows(egress, "Egress", port, None, lambda peer: True):
                    problems.append(f"{client.name}: egress to {host}:{port} ({what}) is not allowed")
                continue
            service_port = _service_port(svc, port) if port is not None else None
            if service_port is None:
                continue  # a wrong port is chart_url_problems' to report
            for server, number, name in targets(svc, service_port):
                if server.owner is client.owner:
                    continue
                if egress and not _allows(
                    egress, "Egress", number, name, lambda peer: _peer_is_pod(peer, server.labels)
                ):
                    problems.append(f"{client.name}: egress to {ref(svc)} port {number} ({what}) is not allowed")
                ingress = _restricting(policies, server, "Ingress")
                if ingress and not _allows(
                    ingress, "Ingress", number, name, lambda peer: _peer_is_pod(peer, client.labels)
                ):
                    problems.append(
                        f"{server.name}: ingress from {client.name} on port {name or number} ({what}) is not allowed"
                    )
        if egress and named_hosts and not _allows(egress, "Egress", 53, None, lambda peer: True):
            problems.append(f"{client.name}: DNS (port 53) is not allowed")
    return problems


def ingress_reachability_problems(manifests: list[Manifest]) -> list[str]:
    """An Ingress's backend pods accept traffic from outside the namespace (the controller) on
    the port the Ingress uses, and a ServiceMonitor's port is open to the scraper likewise."""
    policies = [d for d in manifests if d["kind"] == "NetworkPolicy"]
    if not policies:
        return []
    services = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "Service"}
    pods = [p for p in pod_templates(manifests) if not p.is_hook]
    wanted: list[tuple[Manifest, Manifest, int | str]] = []
    for doc in manifests:
        if doc["kind"] == "Ingress":
            for rule in doc["spec"].get("rules", []):
                for path in (rule.get("http") or {}).get("paths", []):
                    backend = path["backend"]["service"]
                    if backend["name"] in services:
                        port = backend["port"].get("name", backend["port"].get("number"))
                        wanted.append((doc, services[backend["name"]], port))
        elif doc["kind"] == "ServiceMonitor":
            selector = (doc["spec"].get("selector") or {}).get("matchLabels") or {}
            for svc in services.values():
                if _selects(selector, svc["metadata"].get("labels") or {}):
                    wanted += [(doc, svc, e["port"]) for e in doc["spec"].get("endpoints", []) if "port" in e]
    problems = []
    for doc, svc, port_ref in wanted:
        port = _service_port(svc, port_ref)
        if port is None:
            continue  # reference_problems reports it
        target = port.get("targetPort", port["port"])
        for pod in (p for p in pods if _selects(svc["spec"].get("selector") or {}, p.labels)):
            for cp in (cp for c in pod.spec.get("containers", []) for cp in c.get("ports", [])):
                if target not in (cp["containerPort"], cp.get("name")):
                    continue
                restricting = _restricting(policies, pod, "Ingress")
                if restricting and not _allows(
                    restricting, "Ingress", cp["containerPort"], cp.get("name"), _peer_is_outside
                ):
                    problems.append(
                        f"{ref(doc)}: {pod.name} admits nothing from outside the namespace on port {cp.get('name') or cp['containerPort']}"
                    )
    return problems


# --- What the processes listen on ------------------------------------------------------------------


def listener_problems(manifests: list[Manifest]) -> list[str]:
    """Declared ports are the ports the process listens on: `PORT` is the containerPort named
    `http`; `METRICS_PORT` > 0 is a containerPort (named `metrics` when one is) and 0 leaves no
    `metrics` port declared; `prometheus.io/port` is a declared port; a ServiceMonitor scrapes
    `/metrics` (all the metrics listener serves); no Ingress routes to the metrics port."""
    problems = []
    metrics_ports: dict[str, set[int]] = {}  # pod name -> its metrics port numbers
    pods = [p for p in pod_templates(manifests) if not p.is_hook]
    for pod in pods:
        annotations = (pod.owner["spec"]["template"].get("metadata") or {}).get("annotations") or {}
        declared_numbers = set()
        for container in pod.spec.get("containers", []):
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
            declared_numbers |= set(ports.values())
            where = f"{pod.name}/{container['name']}"
            if env.get("PORT") is not None and ports.get("http") != int(env["PORT"]):
                problems.append(f"{where}: PORT={env['PORT']} but the containerPort named http is {ports.get('http')}")
            metrics = int(env.get("METRICS_PORT") or 0)
            if metrics and metrics not in ports.values():
                problems.append(f"{where}: METRICS_PORT={metrics} is no containerPort")
            if "metrics" in ports and ports["metrics"] != metrics:
                problems.append(
                    f"{where}: containerPort metrics={ports['metrics']}, but METRICS_PORT is {metrics or 'unset'}"
                )
            if metrics:
                metrics_ports.setdefault(pod.name, set()).add(metrics)
        scrape_port = annotations.get("prometheus.io/port")
        if scrape_port is not None and int(scrape_port) not in declared_numbers:
            problems.append(f"{pod.name}: prometheus.io/port {scrape_port} is no containerPort")
        if scrape_port is not None and pod.name in metrics_ports and int(scrape_port) not in metrics_ports[pod.name]:
            problems.append(f"{pod.name}: prometheus.io/port {scrape_port} is not the metrics listener")
    services = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "Service"}
    for doc in manifests:
        if doc["kind"] == "ServiceMonitor":
            for endpoint in doc["spec"].get("endpoints", []):
                if endpoint.get("path", "/metrics") != "/metrics":
                    problems.append(f"{ref(doc)}: scrapes {endpoint['path']}; the metrics listener serves /metrics")
        if doc["kind"] != "Ingress":
            continue
        for rule in doc["spec"].get("rules", []):
            for path in (rule.get("http") or {}).get("paths", []):
                backend = path["backend"]["service"]
                svc = services.get(backend["name"])
                port = _service_port(svc, backend["port"].get("name", backend["port"].get("number"))) if svc else None
                if port is None:
                    continue
                target = port.get("targetPort", port["port"])
                prefix = path.get("path") or "/"
                covers_metrics = "/metrics".startswith(prefix.rstrip("/") + "/") or prefix.rstrip("/") == "/metrics"
                for pod in (p for p in pods if _selects(svc["spec"].get("selector") or {}, p.labels)):
                    for cp in (cp for c in pod.spec.get("containers", []) for cp in c.get("ports", [])):
                        if target not in (cp["containerPort"], cp.get("name")):
                            continue
                        if cp["containerPort"] in metrics_ports.get(pod.name, ()):
                            problems.append(f"{ref(doc)}: routes {prefix} to the metrics port of {pod.name}")
                        elif covers_metrics and pod.name not in metrics_ports:
                            # METRICS_PORT 0: the app serves /metrics itself, so this path publishes it.
                            problems.append(
                                f"{ref(doc)}: {prefix} publishes /metrics of {pod.name} (METRICS_PORT unset)"
                            )
    return problems
