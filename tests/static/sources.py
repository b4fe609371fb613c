"""The product's Python source, for the static tests that read it with `ast`."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: What runs in production: the services, the libraries and the sync client (each package's `src/`)
#: and the chart's scripts (the init Job's). The developer tools (`tools/`) run only on a developer's
#: machine, against its local servers.
PRODUCTION_ROOTS = (ROOT / "services", ROOT / "libs", ROOT / "clients")
DEVELOPER_TOOLS = ROOT / "tools"
CHART_FILES = ROOT / "deploy" / "k8s" / "docstore" / "files"


def product_sources(*, developer_tools: bool = True) -> list[Path]:
    """Every Python file of the product, sorted; with `developer_tools=False` only what runs in
    production."""
    roots = [*PRODUCTION_ROOTS, *([DEVELOPER_TOOLS] if developer_tools else [])]
    files = [path for root in roots for path in root.glob("*/src/**/*.py")]
    files += CHART_FILES.rglob("*.py")
    assert len(files) > 100, f"the product's source files were not found under {ROOT}"
    return sorted(files)
