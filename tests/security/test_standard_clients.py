"""docs/standard-clients.md holds working commands (issue 33, finding 5): every `sh` block of it
runs, in order, as one bash script against the running system, with plain `curl` and the AWS
CLI. On main the presigned PUT failed (403 SignatureDoesNotMatch: it signed empty metadata
headers, which curl does not send) and a download asked right after `complete` could be 404."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from docstore_devplatform.e2e import PASSWORD, System

from .test_share_links import verified

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "standard-clients.md"
RUN_SECONDS = 240


def script() -> str:
    blocks = re.findall(r"^```sh\n(.*?)^```", PAGE.read_text(), flags=re.DOTALL | re.MULTILINE)
    assert len(blocks) >= 7, f"{PAGE.name}: expected a block per way in and out, found {len(blocks)}"
    return "set -euo pipefail\n" + "\n".join(blocks) + "\necho ALL-COMMANDS-RAN\n"


def aws_cli() -> str:
    """The AWS CLI scripts/bootstrap installs into .tools/venv (deploy/tools-requirements.txt),
    else one on PATH."""
    for candidate in (ROOT / ".tools" / "venv" / "bin" / "aws", shutil.which("aws")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.fail("no AWS CLI: run scripts/bootstrap (it installs awscli into .tools/venv)")


async def test_every_command_on_the_standard_clients_page_works(system: System, endpoints: Any, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as api:
        user = await verified(api, endpoints)  # public links need a verified address
        page = await api.get("/docs/clients")
    assert page.status_code == 200 and page.text == PAGE.read_text(), "the gateway serves the page beside /docs"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").symlink_to(aws_cli())
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "DOCSTORE": system.gateway,
        "DOCSTORE_USER": user.username,
        "DOCSTORE_PASSWORD": PASSWORD,
        # A TLS system (DOCSTORE_E2E_TLS): curl trusts the run's CA (it reads no SSL_CERT_FILE).
        **({"CURL_CA_BUNDLE": system.ca_file} if system.ca_file else {}),
        # The AWS CLI's own config stays out of it: path-style addressing, as for any store
        # that is not AWS (SeaweedFS here), comes from this file.
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
    }
    (tmp_path / "aws-config").write_text("[default]\ns3 =\n    addressing_style = path\n")
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script(),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), RUN_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"the page's commands ran past {RUN_SECONDS} s")
    text = output.decode(errors="replace")
    assert process.returncode == 0 and "ALL-COMMANDS-RAN" in text, f"exit {process.returncode}:\n{text[-4000:]}"
