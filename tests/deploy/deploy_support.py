"""Static checks of the deployment files: the tools come from scripts/bootstrap (<repo>/.tools)."""

from __future__ import annotations

import copy
import importlib
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "k8s" / "docstore"
REGIONS = ("us-west-2", "ap-southeast-2")
TOOLS = REPO / ".tools"
KUBERNETES_VERSION = "1.33.0"


def tool(name: str) -> Path:
    """A binary installed by scripts/bootstrap into .tools/bin or .tools/venv."""
    candidates = [TOOLS / "bin" / name, TOOLS / "venv" / "bin" / name]
    if name == "docker-compose":  # the real binary, not the wrapper script that always exits 0
        candidates = sorted((TOOLS / "venv" / "lib").glob("python3*/site-packages/compose/docker-compose"))
    for path in candidates:
        if path.is_file():
            return path
    pytest.fail(f"{name} is not installed in {TOOLS}: run scripts/bootstrap")


def run(argv: list[str | Path], *, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], input=stdin, capture_output=True, text=True, timeout=60, cwd=REPO)


def helm_template(*args: str) -> subprocess.CompletedProcess[str]:
    return run([tool("helm"), "template", "docstore", CHART, "--namespace", "docstore", *args])


@cache
def _render(region: str, args: tuple[str, ...]) -> str:
    """`helm template` with the region's values file and `args`, once per distinct call."""
    result = helm_template("-f", str(CHART / f"values-{region}.yaml"), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def rendered(region: str) -> str:
    """`helm template` of the chart with the region's values file."""
    return _render(region, ())


def parse_manifests(text: str) -> list[dict]:
    """Every non-empty document of `helm template` output.

    With libyaml's loader, and each distinct render parsed once (`manifests_of`): PyYAML's
    pure-Python loader, run on every call, was most of the deploy tests' time (a profile of
    test_wiring.py)."""
    return [doc for doc in yaml.load_all(text, Loader=yaml.CSafeLoader) if doc]


@cache
def _parsed(text: str) -> list[dict]:
    return parse_manifests(text)


def manifests_of(text: str) -> list[dict]:
    """`text` parsed once per distinct render; a fresh copy each call (tests mutate it)."""
    return copy.deepcopy(_parsed(text))


def manifests(region: str) -> list[dict]:
    return manifests_of(rendered(region))


def render_region(region: str, *args: str) -> list[dict]:
    """The region's render with `args` (cached per distinct call; a fresh copy each call)."""
    return manifests_of(_render(region, args))


def manifests_with(*sets: str) -> list[dict]:
    """us-west-2's render with `--set` values (cached per set of values; a fresh copy each call)."""
    return render_region("us-west-2", *(a for s in sets for a in ("--set", s)))


def service_names() -> list[str]:
    """Every service in the repository: a directory under services/."""
    return sorted(p.name for p in (REPO / "services").iterdir() if p.is_dir() and (p / "pyproject.toml").exists())


# Settings every service needs to reach its servers and peers, when its class has the field.
# s3_endpoint_url / s3_public_endpoint_url are not listed: empty means AWS S3 itself.
CONNECTION_FIELDS = {
    "environment", "region", "port",
    "kafka_bootstrap_servers", "kafka_topic_prefix",
    "mongodb_url",
    "otel_exporter_otlp_endpoint",
    "s3_bucket", "aws_default_region",
    "typesense_url", "typesense_api_key",
    "metadata_url", "upload_url", "quota_url", "indexer_url", "notify_url", "gateway_url",
    "mail_from",
    "internal_auth_keys", "internal_auth_key_id",
}  # fmt: skip
# Settings that carry credentials: only ever from a Secret.
SECRET_FIELDS = {"mongodb_url", "internal_auth_keys", "oidc_client_secret"}

# Sign in with OpenID Connect turned on, passwords off (values `oidc`, off by default): the render the checks of
# the accounts' OIDC settings, their Secret and the provider's egress read.
OIDC_ON = (
    "oidc.issuer=https://id.example.com/realms/docstore",
    "oidc.clientId=docstore",
    "oidc.providerName=Example ID",
    "oidc.existingSecret.name=docstore-oidc",
    "oidc.passwordSignIn=false",
)


def settings_class(service: str):
    return importlib.import_module(f"docstore_{service}.settings").Settings


def required_env(service: str) -> set[str]:
    """Env names the service's Settings needs: fields without defaults plus connection settings."""
    fields = settings_class(service).model_fields
    names = {name for name, field in fields.items() if field.is_required()}
    names |= CONNECTION_FIELDS & set(fields)
    names |= set(settings_class(service).secret_fields)  # placeholders are refused outside development
    return {name.upper() for name in names}


def secret_env(service: str) -> set[str]:
    cls = settings_class(service)
    return {name.upper() for name in (SECRET_FIELDS | set(cls.secret_fields)) & set(cls.model_fields)}


def compose_run(*args: str) -> subprocess.CompletedProcess[str]:
    """The real docker-compose binary on the repository's compose file (no engine needed)."""
    return run([tool("docker-compose"), "--project-directory", REPO, "-f", REPO / "docker-compose.yml", *args])


@cache
def compose_config_json() -> str:
    """`docker compose --profile region-b config` as JSON: both regions, anchors and ${} resolved."""
    result = compose_run("--profile", "region-b", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return result.stdout
