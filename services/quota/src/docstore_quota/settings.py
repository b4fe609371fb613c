"""Settings of the quota service (env: QUOTA_<NAME>, then <NAME>)."""

from __future__ import annotations

from docstore_kit.settings import ServiceSettings

GB = 1_000_000_000


class Settings(ServiceSettings):
    service = "quota"

    port: int = 8083
    free_cap_bytes: int = 5 * GB
    premium_cap_bytes: int = 20 * GB

    def caps(self) -> dict[str, int]:
        return {"free": self.free_cap_bytes, "premium": self.premium_cap_bytes}
