import subprocess
import sys


def run(env: dict[str, str]) -> int:
    code = "from docstore_messaging.faults import crashpoint; crashpoint('here'); print('survived')"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True).returncode


def test_crashpoint_kills_once_then_lets_the_restart_through(tmp_path) -> None:
    import os

    env = {**os.environ, "DOCSTORE_CRASH_AT": "here", "DOCSTORE_CRASH_MARKER": str(tmp_path / "crashed")}
    assert run(env) == 137
    assert run(env) == 0


def test_other_points_do_nothing() -> None:
    import os

    assert run({**os.environ, "DOCSTORE_CRASH_AT": "elsewhere"}) == 0
