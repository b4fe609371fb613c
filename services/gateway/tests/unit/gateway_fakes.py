"""In-memory stand-ins shared by the gateway's unit tests (importable as `gateway_fakes`: the
services' test folders are not packages)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from docstore_gateway.domain.sessions import RefreshOutcome, RefreshToken


class MemoryRefreshTokens:
    """The refresh-token half of the sessions port, as `adapters/sessions.py` keeps it in MongoDB:
    a refresh token is spent once; a second use is a reuse."""

    refresh_rows: dict[str, RefreshToken]

    def __init__(self) -> None:
        self.refresh_rows = {}

    def keep_refresh(self, keep: Callable[[RefreshToken], bool]) -> None:
        """Keep only the refresh tokens for which `keep(row)` is true."""
        self.refresh_rows = {t: r for t, r in self.refresh_rows.items() if keep(r)}

    def revoke_refresh_family(self, family_id: str) -> None:
        self.refresh_rows = {
            t: replace(r, revoked=True) if r.family_id == family_id else r for t, r in self.refresh_rows.items()
        }

    async def add_refresh(self, token: RefreshToken) -> None:
        self.refresh_rows[token.token] = token

    async def find_refresh(self, token: str) -> RefreshToken | None:
        return self.refresh_rows.get(token)

    async def use_refresh(self, token: str, now: datetime) -> tuple[str, RefreshToken | None]:
        found = self.refresh_rows.get(token)
        if found is None:
            return RefreshOutcome.UNKNOWN, None
        if found.used_at is not None:
            return RefreshOutcome.REUSED, found
        self.refresh_rows[token] = spent = replace(found, used_at=now)
        return RefreshOutcome.SPENT, spent
