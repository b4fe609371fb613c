"""The database, S3 and search servers, and the SeaweedFS that holds the broker's log, killed with
SIGKILL in turn, each during a burst of uploads.
The supervisor restarts the server; uploads refused while it was down were refused (not counted),
and every upload that answered "complete" is listed, found by full text and counted once."""

from __future__ import annotations

import signal

import pytest

from .conftest import Platform, assert_nothing_lost, premium_user
from .test_broker import burst

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]

BURST = 20


# The database's case once failed one run in six: SecantusDB acknowledged commits still in
# WiredTiger's log buffer, and SIGKILL lost them (an upload that had answered "complete", or a
# consumer's effect whose offset was already committed). It now syncs each commit's journal
# record before answering (`launch.secantus_argv`; tools/devplatform's integration tests prove
# it directly).


@pytest.mark.parametrize("server", ["mongo", "s3", "typesense", "kafka-log"])
async def test_a_server_killed_during_a_burst_of_uploads(platform: Platform, api, server: str) -> None:
    user = await premium_user(api)
    restarts = platform.restarts(server)
    killed: list[int] = []
    tag = f"{server}burst"
    completed = await burst(
        api, user, tag, BURST, after=BURST // 4, then=lambda: killed.append(platform.signal(server, signal.SIGKILL))
    )
    assert killed and len(completed) >= BURST // 4
    await platform.wait_restarted(server, killed[0], restarts)
    await assert_nothing_lost(api, user, completed, tag, platform)
