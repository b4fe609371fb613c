"""deploy/README.md's steps for `DOCSTORE_TEST_ENDPOINTS=env` work with docker-compose.yml:
every variable the env mode reads is exported, names the port compose publishes for the server
behind it (with compose's credentials), and the steps start each of those servers and no
service container. Broken copies of the steps must be reported.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from typing import Any
from urllib.parse import urlsplit

import pytest
from deploy_support import REPO, compose_config_json, service_names

README = REPO / "deploy" / "README.md"
SECTION = "### Running the tests against compose"
# Which compose server provides each endpoint the env mode reads.
SERVER_FOR = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka",
    "MONGODB_URL": "mongodb",
    "S3_ENDPOINT_URL": "s3",
    "S3_PUBLIC_ENDPOINT_URL": "s3",
    "AWS_ENDPOINT_URL_SES": "moto",
    "AWS_ENDPOINT_URL_STS": "moto",
    "TYPESENSE_URL": "typesense",
}
# Credentials the tests must present as compose's servers expect them.
PLUGIN = "tools/devplatform/src/docstore_devplatform/pytest_plugin.py"
SAME_AS_COMPOSE = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "TYPESENSE_API_KEY")


def env_mode_reads() -> set[str]:
    """The variables the test plugin's `_endpoints_from_env` reads."""
    tree = ast.parse((REPO / PLUGIN).read_text())
    function = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_endpoints_from_env")
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            names.add(ast.literal_eval(node.slice))
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.environ.get", "os.getenv"):
            names.add(ast.literal_eval(node.args[0]))
    return names


def section_commands(readme: str) -> list[list[str]]:
    """The shell commands (argv) of the section's bash blocks, continuations joined."""
    start = readme.index(SECTION)
    end = re.search(r"^#{2,3} ", readme[start + len(SECTION) :], re.M)
    text = readme[start : start + len(SECTION) + end.start()] if end else readme[start:]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n", " ", "\n".join(line.strip() for line in block.splitlines()))
        commands += [shlex.split(line, comments=True) for line in joined.splitlines() if line.strip()]
    return [c for c in commands if c]


def with_dependencies(names: set[str], services: dict[str, Any]) -> set[str]:
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += list(services[name].get("depends_on") or {})
    return seen


def published(service: dict[str, Any]) -> dict[int, int]:
    """Host port -> container port."""
    return {int(p["published"]): int(p["target"]) for p in service.get("ports", []) if p.get("published")}


def env_mode_problems(readme: str, config: dict[str, Any], reads: set[str]) -> list[str]:
    services = config["services"]
    commands = section_commands(readme)
    exported = dict(
        arg.split("=", 1) for argv in commands if argv[0] == "export" for arg in argv[1:] if "=" in arg
    )  # fmt: skip
    problems = [f"{name} is read by the env mode but not exported" for name in sorted(reads - set(exported))]
    if exported.get("DOCSTORE_TEST_ENDPOINTS") != "env":
        problems.append("the steps do not export DOCSTORE_TEST_ENDPOINTS=env")

    container_env = services["metadata"]["environment"]  # what containers use to reach the servers
    needed = set()
    for name, server in SERVER_FOR.items():
        if name not in exported:
            continue
        needed.add(server)
        value = exported[name]
        url = urlsplit(value if "://" in value else f"kafka://{value}")
        if url.hostname not in ("localhost", "127.0.0.1"):
            problems.append(f"{name}={value}: not a port published on this host")
            continue
        host_port = url.port
        target = published(services[server]).get(host_port)
        if target is None:
            problems.append(
                f"{name}={value}: compose's {server} publishes {sorted(published(services[server]))}, not {host_port}"
            )
            continue
        if server == "kafka":
            kafka = services["kafka"]["environment"]
            if (
                f"localhost:{host_port}" not in kafka["KAFKA_ADVERTISED_LISTENERS"]
                or f":{target}" not in kafka["KAFKA_LISTENERS"]
            ):
                problems.append(f"{name}={value}: Kafka does not listen and advertise localhost:{host_port}")
        elif name in container_env:
            inside = urlsplit(container_env[name] if "://" in container_env[name] else f"x://{container_env[name]}")
            if inside.port != target:
                problems.append(
                    f"{name}={value}: reaches container port {target}, but {server} serves on {inside.port}"
                )
    for name in SAME_AS_COMPOSE:
        if name in exported and exported[name] != container_env.get(name):
            problems.append(f"{name}: exported {exported[name]!r}, compose uses {container_env.get(name)!r}")

    started: set[str] = set()
    for argv in commands:
        if argv[:2] != ["docker", "compose"]:
            continue
        words = [w for w in argv[2:] if not w.startswith("-")]
        if words[:1] == ["run"]:
            started |= with_dependencies({words[1]}, services)
        elif words[:1] == ["up"]:
            started |= with_dependencies(set(words[1:]) or set(services), services)
    if "init" not in started:
        problems.append("the steps never run the init job (topics, collections, bucket)")
    for server in sorted(needed - started):
        problems.append(f"the steps never start {server}")
    apps = {n for n in started if n.removesuffix("-b") in service_names()}
    if apps:
        problems.append(
            f"the steps start service containers {sorted(apps)}: they would share the tests' consumer groups"
        )
    return problems


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return json.loads(compose_config_json())


def test_the_readme_steps_provide_every_endpoint(config: dict[str, Any]) -> None:
    reads = env_mode_reads()
    assert {"KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", "TYPESENSE_URL"} <= reads, reads
    problems = env_mode_problems(README.read_text(), config, reads)
    assert not problems, "\n".join(problems)


BROKEN_STEPS = [
    ("localhost:19092", "localhost:9092", "KAFKA_BOOTSTRAP_SERVERS=localhost:9092"),
    ("localhost:27017/", "mongo.internal:27017/", "not a port published"),
    ("TYPESENSE_API_KEY=docstore-dev-typesense-key", "TYPESENSE_API_KEY=wrong", "TYPESENSE_API_KEY: exported 'wrong'"),
    ("TYPESENSE_URL=http://localhost:8108 ", "", "TYPESENSE_URL is read by the env mode but not exported"),
    ("up -d --wait typesense moto", "up -d --wait typesense", "the steps never start moto"),
    ("docker compose run --rm init", "docker compose up -d --wait kafka mongodb s3", "never run the init job"),
    ("up -d --wait typesense moto", "up -d --wait typesense moto quota", "start service containers ['quota']"),
]


@pytest.mark.parametrize("old,new,report", BROKEN_STEPS, ids=[r for _, _, r in BROKEN_STEPS])
def test_broken_steps_are_reported(config: dict[str, Any], old: str, new: str, report: str) -> None:
    readme = README.read_text()
    assert old in readme, f"the README no longer has {old!r}: update this test"
    problems = env_mode_problems(readme.replace(old, new), config, env_mode_reads())
    assert any(report in p for p in problems), "\n".join(problems)
