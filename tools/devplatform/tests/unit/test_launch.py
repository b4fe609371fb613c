"""SecantusDB's command line: through `secantusd.py` with the servers venv's Python, else the
`secantusd` binary as it is (a replaced one, in tests)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from docstore_devplatform.launch import SECANTUS_LAUNCHER, ServerPorts, secantus_argv
from docstore_devplatform.paths import Binaries

BINARIES = Binaries(*(Path(f"/bin/{name}") for name in ("tansu", "secantusd", "weed", "moto", "typesense")))


def test_secantus_starts_through_the_launcher_when_the_servers_python_is_known(tmp_path: Path) -> None:
    ports = ServerPorts()
    launched = secantus_argv(dataclasses.replace(BINARIES, servers_python=Path("/venv/bin/python")), ports, tmp_path)
    assert launched[:3] == ["/venv/bin/python", "-P", str(SECANTUS_LAUNCHER)]
    assert SECANTUS_LAUNCHER.is_file()
    plain = secantus_argv(BINARIES, ports, tmp_path)
    assert plain[0] == "/bin/secantusd"
    assert launched[3:] == plain[1:] and ["--port", str(ports.mongo)] == plain[3:5]
