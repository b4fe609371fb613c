"""Logging in and out, and who a bearer token belongs to.

Sessions live in MongoDB (the gateway keeps no session state, so any replica answers any
request); passwords are checked by the accounts service (metadata), never here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from docstore_gateway.domain.errors import (
    AccountsAnsweredUnexpectedly,
    AccountsUnavailable,
    Throttled,
    Unauthenticated,
    UpstreamUnavailable,
    UsernameLost,
    WrongPassword,
)
from docstore_gateway.domain.regions import Regions
from docstore_gateway.domain.sessions import Caller, Session
from docstore_gateway.domain.tokens import bearer_token, new_token, token_region, well_formed
from docstore_gateway.service_layer.ports import Accounts, LoginThrottle, SessionRepository

Clock = Callable[[], datetime]

LOGIN_PATH = "/v1/sessions"
LOGOUT_PATH = "/v1/sessions/current"


def _now() -> datetime:
    return datetime.now(UTC)


class Authenticator:
    """Who a request's `Authorization` header belongs to."""

    def __init__(self, sessions: SessionRepository, regions: Regions, clock: Clock = _now) -> None:
        self.sessions = sessions
        self.regions = regions
        self.clock = clock

    async def caller(self, authorization: str | None, target: str) -> tuple[str, Caller]:
        """The token and the caller of a live session; Unauthenticated otherwise, or (a token
        another region issued) the answer sending the request to `target` in that region.

        A token that is not `<known region>.<urlsafe random>` is refused unread: no lookup, no
        redirect to a region the client made up, and nothing of it repeated back."""
        token = bearer_token(authorization)
        if token is None or not well_formed(token, self.regions.known()):
            raise Unauthenticated()
        session = await self.sessions.get(token)
        if session is None or not session.live_at(self.clock()):
            issuer = token_region(token)
            if issuer and self.regions.elsewhere(issuer):
                raise self.regions.send_home(issuer, target)
            raise Unauthenticated()
        return token, session.caller


class Logins:
    """Log in (check the password with the accounts service, issue a session) and log out."""

    def __init__(
        self,
        sessions: SessionRepository,
        accounts: Accounts,
        throttle: LoginThrottle,
        authenticator: Authenticator,
        *,
        ttl: timedelta,
        clock: Clock = _now,
    ) -> None:
        self.sessions = sessions
        self.accounts = accounts
        self.throttle = throttle
        self.authenticator = authenticator
        self.ttl = ttl
        self.clock = clock

    async def log_in(self, username: str, password: str, *, address: str, query: str = "") -> Session:
        """A new session for the account, or a refusal: throttled (429), wrong password (401,
        counted toward the username's limit), home elsewhere (307 to the same login there),
        username lost to another region's sign-up (409), accounts unavailable (503)."""
        if wait := await self.throttle.login_attempt(username, address):
            raise Throttled(wait, "login attempts for this account or from this address")
        try:
            answer = await self.accounts.verify_credentials(username, password)
        except UpstreamUnavailable as error:
            raise AccountsUnavailable() from error
        if answer.status == 401:
            await self.throttle.login_failed(username)
            raise WrongPassword()
        if answer.status == 421:  # metadata's replica: the account's home is another region
            raise self.authenticator.regions.send_home(answer.json()["home_region"], _target(LOGIN_PATH, query))
        if answer.status == 409:  # lost its username: say so, as metadata put it
            raise UsernameLost(answer.json())
        if answer.status != 200:
            raise AccountsAnsweredUnexpectedly()
        account = answer.json()
        now = self.clock()
        session = Session(
            token=new_token(self.authenticator.regions.region),
            account_id=account["account_id"],
            role=account.get("role", "user"),
            created_at=now,
            expires_at=now + self.ttl,
        )
        await self.sessions.add(session)
        return session

    async def log_out(self, authorization: str | None, *, query: str = "") -> None:
        """End the caller's session (401 without one; 307 home for another region's token)."""
        token, _ = await self.authenticator.caller(authorization, _target(LOGOUT_PATH, query))
        await self.sessions.remove(token)


def _target(path: str, query: str) -> str:
    """A canonical path with the request's query, as the home region's gateway should receive it."""
    return path + (f"?{query}" if query else "")
