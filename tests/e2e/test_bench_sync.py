"""Smoke run of bench/sync.py, so the bench cannot rot: every case with tiny sizes, against the
shared system (the real `docstore` CLI in subprocesses, boto3 to the same SeaweedFS). Nothing here
judges a figure (the machine is shared); it checks that each case ran and said what it measured."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path

import boto3
import pytest

from .conftest import PASSWORD, REGION_A, sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BENCH = Path(__file__).parents[2] / "bench" / "sync.py"


def load_bench():
    """bench/ is not a package: the module is loaded from its file under a name of its own."""
    spec = importlib.util.spec_from_file_location("docstore_bench_sync", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


async def test_every_case_of_the_sync_bench_runs_on_tiny_sizes(system, endpoints, api, tmp_path, capsys):
    bench = load_bench()
    user = await sign_up(api, plan="premium")
    client = bench.SyncClient(system.gateway, tmp_path / "config")
    await asyncio.to_thread(client.login, user.username, PASSWORD)
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoints.s3_endpoint,
        aws_access_key_id=endpoints.s3_access_key,
        aws_secret_access_key=endpoints.s3_secret_key,
        region_name=REGION_A,
        config=bench.s3_config(4),
    )
    # 12 MiB: over the client's multipart threshold (8 MiB), several parts of this system's 5 MiB.
    sizes = bench.Sizes(small_files=12, small_kib=2, large_mib=12, resync_files=30, change_kib=64, parallel=4)

    cases = await asyncio.to_thread(bench.run_cases, client, s3, tmp_path / "work", sizes, print)

    assert set(cases) == {"small_first", "large_first", "resync", "delta", "copy"}
    assert cases["small_first"]["files"] == 12 and cases["small_first"]["ratio"] > 0
    assert cases["large_first"]["mib"] == 12 and cases["large_first"]["ratio"] > 0
    assert cases["resync"]["files"] == 30 and cases["resync"]["ours_s"] > 0
    size = 12 * 1024 * 1024
    delta, copy = cases["delta"], cases["copy"]
    # Either the client prints the byte counts (and they are byte counts of this file) or the case
    # says it cannot tell: never a made-up figure.
    if delta["uploaded_bytes"] == bench.NOT_AVAILABLE:
        assert delta["sent_share"] == bench.NOT_AVAILABLE and delta["met"] == bench.NOT_AVAILABLE
    else:
        assert 0 <= delta["uploaded_bytes"] <= size
        assert delta["sent_share"] == pytest.approx(delta["uploaded_bytes"] / size, abs=1e-4)
    if copy["uploaded_bytes"] == bench.NOT_AVAILABLE:
        assert copy["met"] == bench.NOT_AVAILABLE
    else:
        assert 0 <= copy["uploaded_bytes"] <= size
        assert copy["met"] == (copy["uploaded_bytes"] == 0)

    # The human table and the machine line are printed from the same figures.
    capsys.readouterr()
    bench.report(cases, sizes)
    table = capsys.readouterr().out
    assert "re-sync, nothing changed, 30 files" in table and "a second copy of the 12 MiB file" in table
    assert json.loads(json.dumps({"cases": cases}))["cases"] == cases
