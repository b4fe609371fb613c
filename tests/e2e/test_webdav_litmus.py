"""WebDAV through the gateway (issue 38): litmus 0.13, the standard conformance suite, with an app
password over HTTP Basic: basic, copymove, props, locks and http, no failure."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from .conftest import System, sign_up

pytestmark = pytest.mark.skipif(shutil.which("litmus") is None, reason="litmus is not installed (scripts/bootstrap)")

SUITES = "basic copymove props locks http"
RESULT = re.compile(r"<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed\. ([\d.]+)%")


async def app_password(api: httpx.AsyncClient, token: str, scope: str = "webdav-sync") -> str:
    made = await api.post(
        "/v1/account/app-passwords",
        json={"name": f"litmus {scope}", "scope": scope},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert made.status_code == 201, made.text
    return str(made.json()["password"])


@pytest.mark.timeout(900)
async def test_litmus_passes_every_suite(system: System, api: httpx.AsyncClient, tmp_path: Path) -> None:
    user = await sign_up(api)
    password = await app_password(api, user.token)
    url = f"{system.gateway}/remote.php/dav/files/{user.username}/"
    done = await asyncio.to_thread(
        subprocess.run,
        ["litmus", url, user.username, password],
        env=os.environ | {"TESTS": SUITES},
        cwd=tmp_path,  # litmus writes debug.log and child.log where it runs
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    out = done.stdout + done.stderr
    summaries = {m.group(1): (int(m.group(2)), int(m.group(3)), int(m.group(4))) for m in RESULT.finditer(out)}
    print(out)
    assert set(summaries) == set(SUITES.split()), out
    failed = {name: s for name, s in summaries.items() if s[2]}
    assert not failed, out
