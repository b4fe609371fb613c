"""Who a request with `Authorization: Basic` is: a username and an app password (issue 36).

the accounts service checks the pair (`POST /internal/app-passwords/verify`); the gateway remembers an
accepted pair for `ttl_seconds` under a SHA-256 of it, so a tool syncing many files costs one
check per pair and period, not one per request. What would make a remembered pair wrong is a
revocation: one this process forwarded drops the account's pairs at once (`forget_account`),
and `account.app-password-revoked` (any replica's consumer) stores a time after which every
pair of the account is checked again (`AppPasswordRevocations`, read through a cache of
`SIGN_OUT_CACHE_SECONDS`). Failed checks are throttled as logins are: attempts per address with
the login's budget, wrong pairs per username apart from the web login's (so a guesser at one
does not lock the owner out of the other).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from docstore_gateway.domain.answers import AppPasswordAccepted, HomeElsewhere, Refused
from docstore_gateway.domain.app_passwords import AppPasswordCaller, basic_credentials, cache_key, trusted
from docstore_gateway.domain.errors import (
    AccountsAnsweredUnexpectedly,
    AccountsUnavailable,
    Throttled,
    UpstreamUnavailable,
    WrongAppPassword,
)
from docstore_gateway.domain.regions import Regions
from docstore_gateway.service_layer.ports import AppPasswordRevocationStore, AppPasswordVerifier, LoginThrottle

Clock = Callable[[], datetime]
CACHE_MAX = 50_000
REVOCATION_CACHE_SECONDS = 2.0
"""As `SIGN_OUT_CACHE_SECONDS`: how long a process trusts what it read of an account's last
app-password revocation."""


def _now() -> datetime:
    return datetime.now(UTC)


class AppPasswordRevocations:
    """When each account last revoked an app password (`account.app-password-revoked`), read
    through a short per-process cache."""

    def __init__(self, store: AppPasswordRevocationStore, *, ttl_seconds: float = REVOCATION_CACHE_SECONDS) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds
        self._cache: dict[str, tuple[float, datetime | None]] = {}

    async def revoked_after(self, account_id: str) -> datetime | None:
        now = time.monotonic()
        cached = self._cache.get(account_id)
        if cached is not None and now - cached[0] < self.ttl_seconds:
            return cached[1]
        moment = await self.store.app_passwords_revoked_at(account_id)
        if len(self._cache) > CACHE_MAX:
            self._cache.clear()
        self._cache[account_id] = (now, moment)
        return moment

    def forget(self, account_id: str) -> None:
        self._cache.pop(account_id, None)


class AppPasswordChecks:
    def __init__(
        self,
        accounts: AppPasswordVerifier,
        throttle: LoginThrottle,
        revocations: AppPasswordRevocations,
        regions: Regions,
        *,
        ttl_seconds: float = 30.0,
        clock: Clock = _now,
    ) -> None:
        self.accounts = accounts
        self.throttle = throttle
        self.revocations = revocations
        self.regions = regions
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._cache: dict[str, tuple[float, datetime, AppPasswordCaller]] = {}
        """cache key -> (monotonic time of the check, its wall-clock time, who it was)."""

    async def caller(self, authorization: str | None, *, address: str, target: str) -> AppPasswordCaller:
        """Who the Basic credentials are; refusals: malformed or wrong (401 with the Basic
        challenge, a wrong pair counted), throttled (429), another region's account (307 to
        `target` there), accounts away (503)."""
        pair = basic_credentials(authorization)
        if pair is None:
            raise WrongAppPassword()
        username, password = pair
        key = cache_key(username, password)
        if (found := await self._remembered(key)) is not None:
            return found
        if wait := await self.throttle.app_password_attempt(username, address):
            raise Throttled(wait, "sign-in attempts for this account or from this address")
        checked_at = self.clock()
        try:
            answer = await self.accounts.verify_app_password(username, password)
        except UpstreamUnavailable as error:
            raise AccountsUnavailable() from error
        match answer:
            case AppPasswordAccepted(caller=accepted):
                self._remember(key, checked_at, accepted)
                return accepted
            case Refused():
                await self.throttle.app_password_failed(username)
                raise WrongAppPassword()
            case HomeElsewhere(region=region):
                raise self.regions.send_home(region, target)
            case _:
                raise AccountsAnsweredUnexpectedly()

    async def _remembered(self, key: str) -> AppPasswordCaller | None:
        cached = self._cache.get(key)
        if cached is None:
            return None
        at, checked_at, found = cached
        if time.monotonic() - at >= self.ttl_seconds or not trusted(
            checked_at, await self.revocations.revoked_after(found.account_id)
        ):
            self._cache.pop(key, None)
            return None
        return found

    def _remember(self, key: str, checked_at: datetime, found: AppPasswordCaller) -> None:
        if self.ttl_seconds <= 0:
            return
        if len(self._cache) > CACHE_MAX:  # bounded: a burst of tools cannot grow it without end
            self._cache.clear()
        self._cache[key] = (time.monotonic(), checked_at, found)

    def forget_account(self, account_id: str) -> None:
        """This process forwarded a change that may end some of the account's app passwords (a
        revocation, the account's deletion): check each again on its next use."""
        for key in [key for key, (_, _, found) in self._cache.items() if found.account_id == account_id]:
            self._cache.pop(key, None)
        self.revocations.forget(account_id)
