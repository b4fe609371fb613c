"""Settings of the quota service (env: QUOTA_<NAME>, then <NAME>)."""

from __future__ import annotations

from datetime import timedelta

from docstore_kit.s3 import S3Settings
from docstore_kit.settings import ServiceSettings
from docstore_quota.domain.usage import CountingRule

GB = 1_000_000_000


class Settings(ServiceSettings, S3Settings):
    service = "quota"

    port: int = 8083
    accounts_url: str = "http://127.0.0.1:8086"
    """Accounts (internal): where to ask an account's plan when a grant would be refused (its plan event may lag)."""
    notify_url: str = "http://127.0.0.1:8085"
    """Notify (internal): the consistency check asks its `POST /internal/processed-events`."""
    free_cap_bytes: int = 5 * GB
    premium_cap_bytes: int = 20 * GB
    count_trash: bool = True
    """Whether documents in the trash count toward the quota (their bytes are still in S3)."""
    count_old_versions: bool = True
    """Whether versions other than the current one count toward the quota."""
    warning_percents: list[int] = [80, 95]
    """Usage levels (percent of the cap) announced with `quota.warning-reached`, once per upward crossing."""
    reconcile_interval_seconds: float = 3600.0
    """How often the ledger is compared with S3 (0: only on demand, `POST /admin/reconciliation`)."""
    metrics_interval_seconds: float = 15.0
    """How often the per-plan gauges are refreshed from the ledger."""
    dlq_read_timeout_seconds: float = 5.0
    """How long the dashboard waits for Kafka when reading dead letters."""

    reservation_grace_seconds: float = 600.0
    """How long after its grant expired a reservation still holds room (an upload may finish
    a little after its form expired; `upload.expired` releases it sooner)."""
    reservation_purge_interval_seconds: float = 60.0
    """How often reservations past their grace are deleted (0: never; they stop counting anyway)."""

    def caps(self) -> dict[str, int]:
        return {"free": self.free_cap_bytes, "premium": self.premium_cap_bytes}

    def reservation_grace(self) -> timedelta:
        return timedelta(seconds=self.reservation_grace_seconds)

    def counting_rule(self) -> CountingRule:
        return CountingRule(count_trash=self.count_trash, count_old_versions=self.count_old_versions)
