"""Settings of the accounts service (env: ACCOUNTS_<NAME>, then <NAME>)."""

from __future__ import annotations

from docstore_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service = "accounts"

    port: int = 8086
