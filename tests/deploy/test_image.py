"""What the built images contain and how they start, read from the Dockerfile (no Docker
engine is needed): the dependency layer is keyed on the lock only, the gateway image
carries the web app where `find_web_dir` looks for it, and PID 1 is an init process.

Each check is a function of the Dockerfile's text, so the tests below also run it on a
copy broken on purpose and expect it to complain.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import yaml
from deploy_support import REGIONS, REPO, manifests

DOCKERFILE = REPO / "Dockerfile"
FINAL_STAGES = ("service", "indexer")
VENV = PurePosixPath("/app/.venv")


def parse(text: str) -> dict[str, list[tuple[str, str]]]:
    """Stage name -> [(INSTRUCTION, arguments)], continuation lines joined, comments dropped;
    each stage starts with ("FROM", base)."""
    lines = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    result: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for match in re.finditer(r"^\s*([A-Za-z]+)\s+(.*)$", re.sub(r"\\\n", " ", lines), re.M):
        instruction, args = match[1].upper(), match[2].strip()
        if instruction == "FROM":
            name = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", args, re.I)
            assert name, args
            current = [("FROM", name[1])]
            result[name[2] or f"stage{len(result)}"] = current
        else:
            current.append((instruction, args))
    return result


def lineage(stages: dict[str, list[tuple[str, str]]], name: str) -> list[tuple[str, str]]:
    """A stage's instructions with those of the stages it is built FROM, oldest first."""
    body = stages[name]
    base = body[0][1]
    return (lineage(stages, base) if base in stages else []) + body


def dependency_layer_problems(text: str) -> list[str]:
    """The first `uv sync` must see uv.lock and the root pyproject.toml only (bind mounts), and
    install no workspace package, so that a source change reuses the dependency layer."""
    build = parse(text)["build"]
    runs = [args for instruction, args in build if instruction == "RUN" and "uv sync" in args]
    if len(runs) < 2:
        return ["the build stage needs two uv syncs: dependencies, then the workspace"]
    first = runs[0]
    problems = []
    sources = set(re.findall(r"--mount=type=bind,source=([^,\s]+)", first))
    if sources != {"uv.lock", "pyproject.toml"}:
        problems.append(f"the dependency sync bind-mounts {sorted(sources)}: any change there rebuilds it")
    if "--no-install-workspace" not in first:
        problems.append("the dependency sync installs workspace packages (no --no-install-workspace)")
    copy_all = next((i for i, (ins, args) in enumerate(build) if ins == "COPY" and args.startswith(". ")), None)
    first_at = next(i for i, (ins, args) in enumerate(build) if args == first)
    if copy_all is None or copy_all < first_at:
        problems.append("the sources are copied before the dependency sync")
    return problems


def web_dir_in_image(text: str, stage: str) -> PurePosixPath | None:
    """Where the final stage `stage` of the gateway image holds `web/` (None: nowhere)."""
    stages = parse(text)
    build = " ".join(args for ins, args in stages["build"] if ins == "RUN")
    copied = re.search(r"\[ \"\$\{SERVICE\}\" = \"gateway\" \]; then cp -R web (\S+)", build)
    if not copied:
        return None
    web_in_build = PurePosixPath(copied[1])
    for instruction, args in lineage(stages, stage):
        parts = args.split()
        if instruction != "COPY" or "--from=build" not in parts:
            continue
        source, target = PurePosixPath(parts[-2]), PurePosixPath(parts[-1])
        if web_in_build.is_relative_to(source):
            return target / web_in_build.relative_to(source)
    return None


def init_problems(text: str) -> list[str]:
    """Every final image starts under tini, which reaps orphaned children, and the service
    runs as tini's child (`exec`), not under a shell that would not forward signals."""
    stages = parse(text)
    problems = []
    for name in FINAL_STAGES:
        body = lineage(stages, name)
        entrypoints = [args for ins, args in body if ins == "ENTRYPOINT"]
        if not entrypoints or "tini" not in entrypoints[-1]:
            problems.append(f"{name}: ENTRYPOINT is not tini: {entrypoints}")
            continue
        binary = yaml.safe_load(entrypoints[-1])[0]
        installs = " ".join(args for ins, args in body if ins == "RUN" and "apt-get install" in args)
        if binary != "/usr/bin/tini" or not re.search(r"\btini\b", installs):
            problems.append(f"{name}: {binary} is not installed from Debian's tini package")
        cmd = [args for ins, args in body if ins == "CMD"]
        if not cmd or "exec uvicorn" not in cmd[-1]:
            problems.append(f"{name}: the CMD does not exec the server")
    return problems


def test_dependency_layer_depends_on_the_lock_only() -> None:
    assert dependency_layer_problems(DOCKERFILE.read_text()) == []


def test_dependency_layer_check_catches_bind_mounted_sources() -> None:
    text = DOCKERFILE.read_text()
    broken = text.replace(
        "--mount=type=bind,source=pyproject.toml,target=pyproject.toml \\\n",
        "--mount=type=bind,source=pyproject.toml,target=pyproject.toml \\\n"
        "    --mount=type=bind,source=libs,target=libs \\\n",
        1,
    )
    assert broken != text
    assert any("libs" in p for p in dependency_layer_problems(broken))


def test_gateway_image_holds_the_web_app_where_find_web_dir_looks(tmp_path: Path) -> None:
    from docstore_gateway.settings import find_web_dir

    text = DOCKERFILE.read_text()
    ignored = (REPO / ".dockerignore").read_text().split()
    assert not {"web", "web/", "/web", "web/**", "*"} & set(ignored), "web/ is kept out of the build context"
    for stage in FINAL_STAGES:
        web = web_dir_in_image(text, stage)
        assert web, f"{stage}: the gateway's web app is not copied into the image"
        # The image's layout, rooted in a temporary folder: the installed (non-editable)
        # package in the venv and the web app, and nothing of the repository.
        python = re.search(r"python:(\d+\.\d+)", parse(text)["runtime"][0][1])
        assert python
        root = tmp_path / stage
        package = root / (VENV / "lib" / f"python{python[1]}" / "site-packages" / "docstore_gateway").relative_to("/")
        package.mkdir(parents=True)
        (root / web.relative_to("/")).mkdir(parents=True)
        (root / web.relative_to("/") / "index.html").write_text("<!doctype html>")
        assert find_web_dir(package / "settings.py") == str(root / web.relative_to("/"))
    assert (REPO / "web" / "index.html").is_file()


def test_web_app_check_catches_an_image_without_it() -> None:
    text = DOCKERFILE.read_text()
    broken = "\n".join(line for line in text.splitlines() if "/app/extra/ /app/" not in line)
    assert broken != text
    assert web_dir_in_image(broken, "service") is None


def test_pid_1_is_tini() -> None:
    assert init_problems(DOCKERFILE.read_text()) == []


def test_init_check_catches_a_missing_entrypoint() -> None:
    text = DOCKERFILE.read_text()
    broken = "\n".join(line for line in text.splitlines() if not line.startswith("ENTRYPOINT"))
    assert broken != text
    assert len(init_problems(broken)) == len(FINAL_STAGES)


def test_chart_containers_keep_the_image_entrypoint() -> None:
    """A `command:` in a service's pod spec replaces the ENTRYPOINT, and with it tini."""
    for region in REGIONS:
        for doc in manifests(region):
            if doc.get("kind") not in {"Deployment", "StatefulSet", "DaemonSet"}:
                continue
            for container in doc["spec"]["template"]["spec"]["containers"]:
                assert "command" not in container, f"{region} {doc['metadata']['name']}: command bypasses tini"
