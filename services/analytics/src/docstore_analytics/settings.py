"""Settings of the analytics service (env: ANALYTICS_<NAME>, then <NAME>)."""

from __future__ import annotations

from docstore_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service = "analytics"

    port: int = 8088
    usage_days: int = 90
    """How many days the usage and admin charts cover by default (the routes take `?days=` up to 366)."""
    rebuild_wait_seconds: float = 1.0
    """How long the consumer waits between looks while a rebuild of the roll-ups runs."""
    kafka_fetch_max_wait_ms: int = 240
    """How long its consumer's fetch may wait while events flow: longer than the other services'
    20 ms. It reads 17 topics, and Tansu (local) re-reads each partition a waiting fetch asks
    for at its start and its end; 240 ms is the longest wait it reads only twice for, and a chart
    a few hundred milliseconds later costs nobody."""
