"""ServiceProcesses and the ``up``/``status``/``down`` CLI, driving a stand-in FastAPI app."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from docstore_devplatform.launch import ServerPorts
from docstore_devplatform.servers import Endpoints
from docstore_devplatform.services import SERVICES, ServiceProcesses
from docstore_devplatform.waiting import StartupError

pytestmark = pytest.mark.integration

FAKE_APP_DIR = Path(__file__).resolve().parents[1] / "fakeapp"
FAKE_APP = "devplatform_fakeapp:app"
# Services never connect to these in this test: the fake app only reports its environment.
ENDPOINTS = Endpoints.for_ports(ServerPorts.auto())


def _fake_env(**extra: str) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(FAKE_APP_DIR), os.environ.get("PYTHONPATH", "")]), **extra}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[ServiceProcesses]:
    procs = ServiceProcesses(ENDPOINTS, tmp_path, app=FAKE_APP, extra_env=_fake_env(FAKEAPP_EXTRA="yes"))
    yield procs
    procs.stop()


def test_every_service_starts_with_the_full_environment(services: ServiceProcesses, tmp_path: Path):
    urls = services.start()
    assert set(urls) == set(SERVICES)
    for name, url in urls.items():
        env = httpx.get(f"{url}/env").json()
        assert env["name"] == name
        assert env["REGION"] == "us-west-2" and env["S3_BUCKET"] == "docstore-us-west-2"
        assert env["ENVIRONMENT"] == "development" and env["FAKEAPP_EXTRA"] == "yes"
        assert env["MONGODB_URL"] == ENDPOINTS.mongo_url
        assert env["AWS_ENDPOINT_URL_SES"] == ENDPOINTS.aws_endpoint
        assert all(env[f"{other.upper()}_URL"] == other_url for other, other_url in urls.items())
        assert (tmp_path / "logs" / f"{name}.log").exists()


def test_kill_and_restart_one_service(tmp_path: Path):
    services = ServiceProcesses(ENDPOINTS, tmp_path, names=["quota", "gateway"], app=FAKE_APP, extra_env=_fake_env())
    urls = services.start()
    before = httpx.get(f"{urls['quota']}/env").json()["pid"]
    services.kill("quota")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{urls['quota']}/env")
    services.restart("quota")
    assert httpx.get(f"{urls['quota']}/env").json()["pid"] != before
    quota_pid = services.pids()["quota"]
    services.stop()
    assert services.pids() == {}
    assert not Path(f"/proc/{quota_pid}").exists()


def test_a_crashing_service_fails_start_with_its_log_tail(tmp_path: Path):
    procs = ServiceProcesses(
        ENDPOINTS, tmp_path, names=["gateway", "upload"], app=FAKE_APP, extra_env=_fake_env(FAKEAPP_FAIL="upload")
    )
    with pytest.raises(StartupError, match="(?s)upload died.*fake upload refuses to start"):
        procs.start()
    assert procs.pids() == {}


def test_a_service_never_ready_times_out_with_its_log_tail(tmp_path: Path):
    procs = ServiceProcesses(
        ENDPOINTS,
        tmp_path,
        names=["notify"],
        app=FAKE_APP,
        extra_env=_fake_env(FAKEAPP_NEVER_READY="notify"),
        ready_timeout=10,  # long enough for the app to answer 503 at least once on a loaded machine
    )
    with pytest.raises(StartupError, match="(?s)not ready after 10 s.*503.*GET /readyz"):
        procs.start()
    assert procs.pids() == {}


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docstore_devplatform", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_cli_up_status_down(tmp_path: Path):
    data = str(tmp_path / "data")
    env = _fake_env()
    up = _cli("up", "--data-dir", data, "--ports", "auto", "--services", "gateway,metadata", "--app", FAKE_APP, env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "servers ready" in up.stdout and "Gateway:" in up.stdout and "/docs" in up.stdout
        gateway = next(line.split()[-1] for line in up.stdout.splitlines() if "Gateway:" in line)
        assert httpx.get(f"{gateway}/readyz").status_code == 200

        again = _cli("up", "--data-dir", data, env=env)
        assert again.returncode == 0 and "already running" in again.stdout

        status = _cli("status", "--data-dir", data, env=env)
        assert status.returncode == 0, status.stdout
        assert "gateway" in status.stdout and "mongo" in status.stdout and "DEAD" not in status.stdout
    finally:
        down = _cli("down", "--data-dir", data, env=env)
    assert down.returncode == 0 and "stopped" in down.stdout, down.stdout + down.stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{gateway}/readyz")
    assert _cli("status", "--data-dir", data, env=env).returncode == 3
    assert not (tmp_path / "data" / "platform.pid").exists()
