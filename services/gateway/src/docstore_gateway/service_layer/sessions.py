"""Logging in and out, refreshing, and who a bearer token belongs to.

Sessions live in MongoDB (the gateway keeps no session state, so any replica answers any
request); passwords are checked by the accounts service (metadata), never here. A login issues
a short-lived access token (the bearer token) and a refresh token, both of one new *family*;
a refresh spends its refresh token once for a new pair, and a spent one presented again revokes
the family. Every access token is looked up on each request, so revoking a family or an account
refuses its access tokens at once, not only when they expire.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from docstore_events.activity import SessionEnded as SessionEndedEvent
from docstore_events.activity import SessionEndReason
from docstore_events.unit_of_work import Transaction, UnitOfWork
from docstore_gateway.domain.errors import (
    AccountsAnsweredUnexpectedly,
    AccountsUnavailable,
    SessionEnded,
    Throttled,
    Unauthenticated,
    UpstreamUnavailable,
    UsernameLost,
    WrongPassword,
)
from docstore_gateway.domain.regions import Regions
from docstore_gateway.domain.sessions import Caller, Issued, RefreshOutcome, RefreshToken, Session
from docstore_gateway.domain.tokens import bearer_token, new_token, token_region, well_formed
from docstore_gateway.service_layer.ports import Accounts, LoginThrottle, Repositories, SessionRepository

Clock = Callable[[], datetime]

LOGIN_PATH = "/v1/sessions"
LOGOUT_PATH = "/v1/sessions/current"
REFRESH_PATH = "/v1/sessions/refresh"
LOGOUT_EVERYWHERE_PATH = "/v1/sessions"


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
        session = await self.session(authorization, target)
        return session.token, session.caller

    async def session(self, authorization: str | None, target: str) -> Session:
        """The live session of the request's bearer token (refusals as `caller`)."""
        token = bearer_token(authorization)
        if token is None or not well_formed(token, self.regions.known()):
            raise Unauthenticated()
        session = await self.sessions.get(token)
        if session is None or not session.live_at(self.clock()):
            issuer = token_region(token)
            if issuer and self.regions.elsewhere(issuer):
                raise self.regions.send_home(issuer, target)
            raise Unauthenticated()
        return session


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
        access_ttl: timedelta | None = None,
        clock: Clock = _now,
        uow: UnitOfWork[Repositories] | None = None,
    ) -> None:
        """`uow`: ends sessions together with their `session.ended` event (the outbox); without
        one (unit tests of other rules) sessions end on `sessions` and nothing is emitted."""
        self.sessions = sessions
        self.uow = uow
        self.accounts = accounts
        self.throttle = throttle
        self.authenticator = authenticator
        self.ttl = ttl
        """How long a session lasts unused: each refresh token lives this long from its issue."""
        self.access_ttl = min(access_ttl or ttl, ttl)
        """How long an access token lives (minutes): what a stolen bearer token is worth."""
        self.clock = clock

    async def log_in(self, username: str, password: str, *, address: str, query: str = "") -> Issued:
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
        return await self._issue(account["account_id"], account.get("role", "user"), new_token(""))

    async def _issue(self, account_id: str, role: str, family_id: str) -> Issued:
        """A new access token and refresh token of `family_id`, stored."""
        now = self.clock()
        region = self.authenticator.regions.region
        access = Session(
            token=new_token(region),
            account_id=account_id,
            role=role,
            created_at=now,
            expires_at=now + self.access_ttl,
            family_id=family_id,
        )
        refresh = RefreshToken(
            token=new_token(region),
            family_id=family_id,
            account_id=account_id,
            role=role,
            expires_at=now + self.ttl,
        )
        await self.sessions.add_refresh(refresh)
        await self.sessions.add(access)
        return Issued(access, refresh)

    def _readable_refresh(self, refresh_token: str | None, target: str) -> str:
        """The refresh token if it may be looked up here; SessionEnded for none or a malformed one,
        the 307 home for one another region issued (its family lives there)."""
        regions = self.authenticator.regions
        if not refresh_token or not well_formed(refresh_token, regions.known()):
            raise SessionEnded()
        issuer = token_region(refresh_token)
        if issuer and regions.elsewhere(issuer):
            raise regions.send_home(issuer, target)
        return refresh_token

    async def refresh(self, refresh_token: str | None, *, query: str = "") -> Issued:
        """Spend a refresh token for a new access token and refresh token of its family.

        A token already spent means two holders: the family is revoked (every access and refresh
        token of that login), and the answer is 401 as for an unknown or expired one."""
        token = self._readable_refresh(refresh_token, _target(REFRESH_PATH, query))
        outcome, found = await self.sessions.use_refresh(token, self.clock())
        if found is None:
            raise SessionEnded()
        if outcome == RefreshOutcome.REUSED:
            family = found.family_id
            await self._end(found.account_id, "refresh-reuse", lambda sessions: sessions.remove_family(family))
            raise SessionEnded()
        if not found.live_at(self.clock()):
            await self.sessions.remove_family(found.family_id)
            raise SessionEnded()
        return await self._issue(found.account_id, found.role, found.family_id)

    async def log_out(self, authorization: str | None, *, refresh_token: str | None = None, query: str = "") -> None:
        """End this session: the bearer token's family, or (no live bearer token, e.g. it expired)
        the refresh token's. 401 with neither; 307 home for another region's token."""
        target = _target(LOGOUT_PATH, query)
        try:
            session = await self.authenticator.session(authorization, target)
        except Unauthenticated:
            if not refresh_token:
                raise
            token = self._readable_refresh(refresh_token, target)
            found = await self.sessions.find_refresh(token)
            if found is None:
                raise SessionEnded() from None
            family = found.family_id
            await self._end(found.account_id, "logout", lambda sessions: sessions.remove_family(family))
            return

        async def remove(sessions: SessionRepository) -> None:
            await sessions.remove(session.token)
            await sessions.remove_family(session.family_id)

        await self._end(session.account_id, "logout", remove)

    async def log_out_everywhere(self, authorization: str | None, *, query: str = "") -> None:
        """End every session of the caller's account, on every device (401 without a live session)."""
        session = await self.authenticator.session(authorization, _target(LOGOUT_EVERYWHERE_PATH, query))
        await self._end(
            session.account_id, "logout-everywhere", lambda sessions: sessions.remove_account(session.account_id)
        )

    async def _end(
        self, account_id: str, reason: SessionEndReason, remove: Callable[[SessionRepository], Awaitable[None]]
    ) -> None:
        """Remove sessions and, in the same transaction, emit `session.ended` (for the audit trail)."""
        if self.uow is None:
            await remove(self.sessions)
            return

        async def work(tx: Transaction[Repositories]) -> None:
            await remove(tx.repos.sessions)
            tx.emit(SessionEndedEvent(account_id=account_id, reason=reason))

        await self.uow.run(work)


def _target(path: str, query: str) -> str:
    """A canonical path with the request's query, as the home region's gateway should receive it."""
    return path + (f"?{query}" if query else "")
