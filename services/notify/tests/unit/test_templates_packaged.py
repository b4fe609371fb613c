"""The mail templates ship with the service: they are package data of `docstore_notify` (loaded
with Jinja2's `PackageLoader`), so the wheel the Dockerfile installs (`uv sync --no-editable`)
must hold every one of them, and the build context must not leave them out."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

import docstore_notify
from docstore_notify.domain.templating import TEMPLATES

PACKAGE = Path(docstore_notify.__file__).parent
SERVICE = PACKAGE.parent.parent
REPO = SERVICE.parent.parent
TEMPLATE_FILES = sorted(
    path.relative_to(PACKAGE.parent).as_posix() for path in (PACKAGE / "templates").rglob("*") if path.is_file()
)


def test_every_template_is_loaded_from_the_package() -> None:
    names = TEMPLATES.list_templates()
    assert len(names) == len(TEMPLATE_FILES) > 30
    for name in names:
        TEMPLATES.get_template(name)  # parses: a syntax error fails here


def test_the_wheel_holds_every_template(tmp_path: Path) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    if not uv:
        pytest.skip("uv is not installed")
    subprocess.run(
        [uv, "build", "--offline", "--wheel", "--out-dir", str(tmp_path), str(SERVICE)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (wheel,) = tmp_path.glob("docstore_notify-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in TEMPLATE_FILES if name not in shipped] == []


def test_the_docker_build_context_keeps_the_templates() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for name in TEMPLATE_FILES:
        path = (PACKAGE.parent.relative_to(REPO) / name).as_posix()
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        dropped = [p for p in patterns if any(fnmatch.fnmatch(prefix, p.removeprefix("**/")) for prefix in prefixes)]
        dropped += [p for p in patterns if p.startswith("**/") and any(fnmatch.fnmatch(part, p[3:]) for part in parts)]
        assert dropped == [], f"{path} is left out of the image by {dropped}"
