"""The static checks, run by the README's test command (`scripts/test`, so CI runs them too).

Each check is the tool itself, run from this environment's bin directory at the repository root,
with the configuration in the root `pyproject.toml`:

- `ruff check .` (lint) and `ruff format --check .` (the formatter is ruff's);
- `mypy`: strict on `libs/*/src` and every service's `domain/` (the file list is in `[tool.mypy]`);
- `lint-imports`: the import contracts (layers and a pure domain per service, libs below services,
  no service importing another; `[tool.importlinter]`).

Select them alone with `scripts/test -m static`; fix what they report with `uv run --frozen ruff
check --fix . && uv run --frozen ruff format .`. The limits are generous: a cold mypy on a loaded
2-core machine takes minutes, not seconds. mypy keeps its incremental cache in `.mypy_cache/`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.static

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OUTPUT_LIMIT = 20_000

CHECKS = {
    "ruff-lint": (["ruff", "check", "--no-fix", "--output-format=concise", "."], 600),
    "ruff-format": (["ruff", "format", "--check", "--output-format=concise", "."], 600),
    "mypy": (["mypy"], 1500),
    "import-contracts": (["lint-imports", "--no-cache"], 600),
}


def _run(argv: list[str], limit: float) -> subprocess.CompletedProcess[str]:
    tool = BIN / argv[0]
    if not tool.exists():
        pytest.fail(f"{argv[0]} is not installed in {BIN}: run `uv sync --frozen --all-packages`")
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [str(tool), *argv[1:]],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=limit,
        check=False,
    )


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("check", list(CHECKS))
def test_code_passes(check: str) -> None:
    argv, limit = CHECKS[check]
    result = _run(argv, limit)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        if len(output) > OUTPUT_LIMIT:
            output = "[...]\n" + output[-OUTPUT_LIMIT:]
        pytest.fail(f"`{' '.join(argv)}` exited {result.returncode}:\n{output}", pytrace=False)
