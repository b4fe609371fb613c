"""What the benches share: the real servers and the indexer service, started for one run.

    from system import indexer_running, servers_running

    with servers_running(folder, REGION) as endpoints, indexer_running(endpoints, folder, REGION):
        ...

Each is a context manager that starts on free ports under `folder` (a temporary directory of the
run) and stops what it started at the end, also when the run fails.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from docstore_devplatform.servers import Servers
from docstore_devplatform.services import ServiceProcesses, bucket_for
from docstore_events import all_topics


def progress(message: str) -> None:
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def servers_running(folder: Path, region: str) -> Iterator[Any]:
    """Kafka, MongoDB, S3, Typesense, ... on free ports, every topic made and the region's bucket;
    yields their endpoints."""
    servers = Servers(folder / "servers", ports="auto", topics=all_topics(), buckets=[bucket_for(region)])
    progress("starting servers ...")
    endpoints = servers.start()
    try:
        yield endpoints
    finally:
        servers.stop()


@contextlib.contextmanager
def indexer_running(
    endpoints: Any, folder: Path, region: str, *, extra_env: dict[str, str] | None = None
) -> Iterator[None]:
    """The indexer service as its own process against `endpoints` (its settings' defaults, and `extra_env`)."""
    indexer = ServiceProcesses(endpoints, folder / "indexer", names=["indexer"], region=region, extra_env=extra_env)
    progress("starting the indexer service ...")
    try:
        indexer.start()
        yield
    finally:
        indexer.stop()
