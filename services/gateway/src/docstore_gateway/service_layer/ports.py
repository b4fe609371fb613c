"""What the use cases need from the outside world, as protocols: the adapters (`adapters/`)
provide them in production, small in-memory classes in the unit tests.

Logging in and refreshing are single-document writes, atomic on their own, with no event: no
transaction, which would only add round trips to every login. Ending sessions (logout, logout
everywhere, a reused refresh token) emits `session.ended` for the audit trail, so it runs in a
unit of work whose repositories (`Repositories`) hold the session store bound to that transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from docstore_gateway.adapters.upstreams import UpstreamAnswer
from docstore_gateway.domain.sessions import Caller, RefreshToken, Session


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...

    async def get(self, token: str) -> Session | None:
        """The session of this token, live or not; None when there is none."""
        ...

    async def remove(self, token: str) -> None: ...

    async def remove_account(self, account_id: str) -> None:
        """Every session of this account: its access tokens and its refresh tokens."""
        ...

    async def remove_family(self, family_id: str) -> None:
        """Every access and refresh token descending from one login."""
        ...

    async def add_refresh(self, token: RefreshToken) -> None: ...

    async def find_refresh(self, token: str) -> RefreshToken | None:
        """The refresh token as stored, spent or not; None when there is none."""
        ...

    async def use_refresh(self, token: str, now: datetime) -> tuple[str, RefreshToken | None]:
        """Spend a refresh token at `now`, atomically (of two concurrent calls, one spends it):
        (`RefreshOutcome.SPENT`, it) when this call spent it, (`REUSED`, it) when it had been spent
        before, (`UNKNOWN`, None) when there is none."""
        ...


class Repositories(Protocol):
    """What a unit of work's transaction hands the session use cases."""

    @property
    def sessions(self) -> SessionRepository: ...


class Accounts(Protocol):
    async def verify_credentials(self, username: str, password: str) -> UpstreamAnswer:
        """The accounts service's answer to a username and password (UpstreamUnavailable when it
        does not answer)."""
        ...


class Upstream(Protocol):
    async def forward(
        self,
        service: str,
        method: str,
        path: str,
        *,
        query: str,
        headers: dict[str, str],
        body: bytes,
        caller: Caller | None,
        client_address: str | None = None,
    ) -> UpstreamAnswer:
        """The owning service's answer (UpstreamUnavailable when it does not answer)."""
        ...


class LoginThrottle(Protocol):
    async def login_attempt(self, username: str, address: str) -> int | None: ...

    async def login_failed(self, username: str) -> None: ...

    async def sign_up(self, address: str) -> int | None: ...
