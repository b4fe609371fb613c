"""Throttling of logins and sign-ups with the `limits` library (async API).

Each limit is a stack of windows in `limits` notation (`"5/minute;20/15 minutes;100/day"`), so
a guesser waits longer and longer. Counters live in `limits` storage: `memory://` (one process)
by default; a shared store (`redis://...`) makes every gateway replica count together.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence

import structlog
from limits import RateLimitItem, parse_many
from limits.aio.storage import MovingWindowSupport, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter
from limits.storage import storage_from_string

from docstore_gateway.settings import Settings

log = structlog.get_logger(__name__)


def parse_limits(text: str) -> list[RateLimitItem]:
    """`"5/minute;20/15 minutes"` -> its windows; empty text: no limit. ValueError when malformed."""
    if not text.strip():
        return []
    return list(parse_many(text))


def async_storage_uri(uri: str) -> str:
    """A `limits` storage URI for the async API (`memory://` -> `async+memory://`)."""
    return uri if uri.startswith("async+") else f"async+{uri}"


def _key(value: str) -> str:
    # Counters are keyed by a digest: no user input lands in the shared store as is.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Throttle:
    """Per-username failed logins, per-address login attempts and per-address sign-ups.

    Each check answers None (go on) or the seconds until the fullest window frees a slot."""

    def __init__(
        self,
        storage_uri: str,
        *,
        login_per_username: str,
        login_per_address: str,
        signup_per_address: str,
        link_password: str = "",
        link_password_per_link: str = "",
        password_reset_per_address: str = "",
    ) -> None:
        storage = storage_from_string(async_storage_uri(storage_uri))
        if not isinstance(storage, Storage):
            raise ValueError("GATEWAY_RATE_LIMIT_STORAGE: not a storage the async API supports")
        # A moving window counts exactly the last N seconds; stores without it count fixed windows.
        strategy = MovingWindowRateLimiter if isinstance(storage, MovingWindowSupport) else FixedWindowRateLimiter
        self.limiter: RateLimiter = strategy(storage)
        self.storage = storage
        self.login_per_username = parse_limits(login_per_username)
        self.login_per_address = parse_limits(login_per_address)
        self.signup_per_address = parse_limits(signup_per_address)
        self.link_password = parse_limits(link_password)
        self.link_password_per_link = parse_limits(link_password_per_link)
        self.password_reset_per_address = parse_limits(password_reset_per_address)

    @classmethod
    def from_settings(cls, settings: Settings) -> Throttle:
        return cls(
            settings.rate_limit_storage,
            login_per_username=settings.login_limits_per_username,
            login_per_address=settings.login_limits_per_address,
            signup_per_address=settings.signup_limits_per_address,
            link_password=settings.link_password_limits,
            link_password_per_link=settings.link_password_limits_per_link,
            password_reset_per_address=settings.password_reset_limits_per_address,
        )

    async def login_attempt(self, username: str, address: str) -> int | None:
        """Before checking a password: counts the attempt for the address, and refuses while
        either the address or the username (by its failures) is over a limit."""
        waits = [await self._hit(self.login_per_address, "login-address", address)]
        waits.append(await self._test(self.login_per_username, "login-username", normalise_username(username)))
        return max((wait for wait in waits if wait), default=None)

    async def login_failed(self, username: str) -> None:
        """A wrong password: counts toward the username's limits (successes never do)."""
        await self._hit(self.login_per_username, "login-username", normalise_username(username))

    async def sign_up(self, address: str) -> int | None:
        """Counts a sign-up attempt for the address; refuses once over a limit."""
        return await self._hit(self.signup_per_address, "signup-address", address)

    async def password_reset(self, address: str) -> int | None:
        """Counts a password-reset request for the address; refuses once over a limit."""
        return await self._hit(self.password_reset_per_address, "password-reset-address", address)

    async def mfa_attempt(self, account_id: str, address: str) -> int | None:
        """Before checking a second-factor code: counts the attempt for the address (the same
        counter as password attempts: one budget for both steps), and refuses while the address,
        or the account by its wrong codes (the username limits), is over a limit."""
        waits = [await self._hit(self.login_per_address, "login-address", address)]
        waits.append(await self._test(self.login_per_username, "mfa-account", account_id))
        return max((wait for wait in waits if wait), default=None)

    async def mfa_failed(self, account_id: str) -> None:
        """A wrong second-factor code: counts toward the account's limits (as a wrong password
        counts toward the username's)."""
        await self._hit(self.login_per_username, "mfa-account", account_id)

    async def app_password_attempt(self, username: str, address: str) -> int | None:
        """Before checking an app password (HTTP Basic, not remembered): counts the attempt for the
        address (the login's counter: one budget), and refuses while the address or the username,
        by its wrong app passwords (the username limits, counted apart from web logins), is over."""
        waits = [await self._hit(self.login_per_address, "login-address", address)]
        waits.append(await self._test(self.login_per_username, "app-password-username", normalise_username(username)))
        return max((wait for wait in waits if wait), default=None)

    async def app_password_failed(self, username: str) -> None:
        """A wrong username and app password: counts toward the username's app-password limits."""
        await self._hit(self.login_per_username, "app-password-username", normalise_username(username))

    async def link_password_allowed(self, link: str, address: str) -> int | None:
        """Before checking a share link's password: refuses while this address is over the
        link's wrong-password limits, or the link is over its own limits whatever the address
        (`link` is the token; only a digest of it is stored)."""
        waits = [
            await self._test(self.link_password, "link-password", f"{link}|{address}"),
            await self._test(self.link_password_per_link, "link-password-link", link),
        ]
        return max((wait for wait in waits if wait), default=None)

    async def link_password_failed(self, link: str, address: str) -> None:
        """A wrong password on a share link: counts toward that link and address's limits, and
        toward the link's own limits (a guesser with many addresses)."""
        await self._hit(self.link_password, "link-password", f"{link}|{address}")
        await self._hit(self.link_password_per_link, "link-password-link", link)

    async def _hit(self, items: Sequence[RateLimitItem], scope: str, who: str) -> int | None:
        refused = []
        try:
            for item in items:
                if not await self.limiter.hit(item, scope, _key(who)):
                    refused.append(item)
            return await self._wait(refused, scope, who)
        except Exception as error:  # a store outage must not lock everybody out: fail open, loudly
            log.error("throttle_unavailable", scope=scope, error=type(error).__name__)
            return None

    async def _test(self, items: Sequence[RateLimitItem], scope: str, who: str) -> int | None:
        try:
            refused = [item for item in items if not await self.limiter.test(item, scope, _key(who))]
            return await self._wait(refused, scope, who)
        except Exception as error:
            log.error("throttle_unavailable", scope=scope, error=type(error).__name__)
            return None

    async def _wait(self, refused: Sequence[RateLimitItem], scope: str, who: str) -> int | None:
        if not refused:
            return None
        now = time.time()
        resets = [(await self.limiter.get_window_stats(item, scope, _key(who))).reset_time for item in refused]
        return max(1, math.ceil(max(resets) - now))

    async def reset(self) -> None:
        """Forget every counter (tests)."""
        await self.storage.reset()


def normalise_username(username: str) -> str:
    """As metadata stores it (trimmed, lower case), so spelling variants share one counter."""
    return username.strip().lower()
