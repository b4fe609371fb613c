"""What the use cases need from the outside world, as protocols: the adapters (`adapters/`)
provide them in production, small in-memory classes in the unit tests.

Logging in and refreshing are single-document writes, atomic on their own, with no event: no
transaction, which would only add round trips to every login. Ending sessions (logout, logout
everywhere, a reused refresh token) emits `session.ended` for the audit trail, so it runs in a
unit of work whose repositories (`Repositories`) hold the session store bound to that transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from docstore_gateway.domain.answers import (
    AppPasswordAnswer,
    CredentialsAnswer,
    LinkAnswer,
    RedeemAnswer,
    SecondFactorAnswer,
    UpstreamAnswer,
)
from docstore_gateway.domain.devices import Device
from docstore_gateway.domain.sessions import Caller, RefreshToken, Revocation, Session


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

    async def revoke_family(self, family_id: str, at: datetime) -> None:
        """End one login from the owner's device list: its device row goes, its access and refresh
        tokens stay stored as revoked (until they expire) so their holder hears "signed out"."""
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

    async def remove_logins_before(self, account_id: str, moment: datetime) -> None:
        """The refresh tokens and device rows of the account's logins before `moment`."""
        ...


class DeviceRepository(Protocol):
    """Sessions as devices, the devices seen signing in, revocations, spent second-step tickets
    (`adapters/devices.py`)."""

    async def add_family(self, device: Device) -> None: ...

    async def touch_family(self, family_id: str, *, seen_at: datetime, expires_at: datetime, address: str) -> None: ...

    async def list_families(self, account_id: str, *, now: datetime, offset: int, limit: int) -> list[Device]: ...

    async def family(self, account_id: str, family_id: str) -> Device | None: ...

    async def family_ids(self, account_id: str) -> list[str]: ...

    async def remember(self, account_id: str, key: str, now: datetime) -> tuple[bool, int]:
        """(seen before, how many devices the account had before), recording this one."""
        ...

    async def sign_out_before(self, account_id: str, moment: datetime) -> None: ...

    async def valid_after(self, account_id: str) -> datetime | None: ...

    async def app_passwords_revoked(self, account_id: str, moment: datetime) -> None: ...

    async def app_passwords_revoked_at(self, account_id: str) -> datetime | None: ...

    async def ticket_spent(self, ticket_id: str) -> bool: ...

    async def spend_ticket(self, ticket_id: str, expires_at: datetime) -> bool:
        """True the first time, False for a ticket spent before."""
        ...


class RevocationStore(Protocol):
    """The revocation list as stored (written by `SessionRepository`'s removals, in their transaction)."""

    async def revocations_since(self, moment: datetime) -> list[Revocation]:
        """Every entry written at or after `moment` (entries are kept a little longer than an
        access token lives)."""
        ...


class Repositories(Protocol):
    """What a unit of work's transaction hands the session use cases."""

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def devices(self) -> DeviceRepository: ...


class Accounts(Protocol):
    """The accounts service's checks, answered as typed results (`domain/answers.py`); each raises
    UpstreamUnavailable when it does not answer."""

    async def verify_credentials(self, username: str, password: str) -> CredentialsAnswer: ...

    async def verify_second_factor(self, account_id: str, code: str) -> SecondFactorAnswer: ...


class LinkDirectory(Protocol):
    """the links service's public links, answered as typed results; UpstreamUnavailable when it does not
    answer (or fails)."""

    async def resolve_link(self, token: str) -> LinkAnswer: ...

    async def redeem_link(self, token: str, password: str | None) -> RedeemAnswer: ...


class AppPasswordVerifier(Protocol):
    async def verify_app_password(self, username: str, password: str) -> AppPasswordAnswer:
        """The accounts service's answer to a username and app password, typed (UpstreamUnavailable when it
        does not answer)."""
        ...


class AppPasswordRevocationStore(Protocol):
    async def app_passwords_revoked(self, account_id: str, moment: datetime) -> None:
        """Remember that checks of the account's app passwords made before `moment` no longer stand."""
        ...

    async def app_passwords_revoked_at(self, account_id: str) -> datetime | None: ...


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
        held: bool = False,
    ) -> UpstreamAnswer:
        """The owning service's answer (UpstreamUnavailable when it does not answer); `held`:
        a long poll, sent over the pool kept for them."""
        ...


class LinkThrottle(Protocol):
    async def link_password_allowed(self, link: str, address: str) -> int | None: ...

    async def link_password_failed(self, link: str, address: str) -> None: ...


class LoginThrottle(Protocol):
    async def login_attempt(self, username: str, address: str) -> int | None: ...

    async def login_failed(self, username: str) -> None: ...

    async def sign_up(self, address: str) -> int | None: ...

    async def password_reset(self, address: str) -> int | None: ...

    async def mfa_attempt(self, account_id: str, address: str) -> int | None:
        """Before checking a second-factor code: counts the attempt for the address (with the
        password step's), refuses while the address or the account (by its wrong codes) is over."""
        ...

    async def mfa_failed(self, account_id: str) -> None: ...

    async def app_password_attempt(self, username: str, address: str) -> int | None:
        """Before asking the accounts service about an app password: counts the attempt for the address (the
        login's budget), refuses while the address or the username (by its wrong app passwords) is over."""
        ...

    async def app_password_failed(self, username: str) -> None: ...
