"""SecantusDB's command line: through `secantusd.py` with the servers venv's Python, else the
`secantusd` binary as it is (a replaced one, in tests)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from docstore_devplatform.launch import (
    KAFKA_LOG_BUCKET,
    SECANTUS_LAUNCHER,
    ServerPorts,
    secantus_argv,
    tansu_argv,
    tansu_env,
    weed_argv,
)
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
    assert "--sync-on-commit" in plain  # an acknowledged commit survives kill -9 (issue 32)


def test_the_broker_keeps_its_log_in_the_kafka_log_seaweedfs_unless_told_memory(tmp_path: Path) -> None:
    ports = ServerPorts.auto()
    durable = tansu_argv(BINARIES, ports)
    assert durable[durable.index("--storage-engine") + 1] == f"s3://{KAFKA_LOG_BUCKET}/"
    memory = tansu_argv(BINARIES, ports, "memory")
    assert memory[memory.index("--storage-engine") + 1].startswith("memory://")
    env = tansu_env(ports, "key", "secret", "us-west-2")
    assert env["AWS_ENDPOINT"] == f"http://127.0.0.1:{ports.kafka_log_s3}" and env["AWS_ALLOW_HTTP"] == "true"
    # The broker log's SeaweedFS listens on ports of its own, never the documents' SeaweedFS's.
    store = weed_argv(BINARIES, ports.kafka_log(), tmp_path, tmp_path / "s3.json")
    documents = weed_argv(BINARIES, ports, tmp_path, tmp_path / "s3.json")
    assert f"-s3.port={ports.kafka_log_s3}" in store and f"-master.port={ports.kafka_log_master}" in store
    assert not {a for a in store if ".port" in a} & {a for a in documents if ".port" in a and "=0" not in a}
