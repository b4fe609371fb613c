"""Settings of the analytics service (env: ANALYTICS_<NAME>, then <NAME>)."""

from __future__ import annotations

from docstore_kit.settings import BACKGROUND_FETCH_MAX_WAIT_MS, ServiceSettings


class Settings(ServiceSettings):
    service = "analytics"

    port: int = 8088
    usage_days: int = 90
    """How many days the usage and admin charts cover by default (the routes take `?days=` up to 366)."""
    rebuild_wait_seconds: float = 1.0
    """How long the consumer waits between looks while a rebuild of the roll-ups runs."""
    kafka_fetch_max_wait_ms: int = BACKGROUND_FETCH_MAX_WAIT_MS
    """Its consumer's fetch wait while events flow (it reads 17 topics; see the constant): a chart
    a few hundred milliseconds later costs nobody."""
