"""Logging in and out, refreshing, and who a bearer token belongs to.

Sessions live in MongoDB (the gateway keeps no session state, so any replica answers any
request); passwords are checked by the accounts service, never here. A login issues
a short-lived access token (the bearer token) and a refresh token, both of one new *family*;
a refresh spends its refresh token once for a new pair, and a spent one presented again revokes
the family. Access tokens are signed (issue 36, `domain/tokens.py`): the `Authenticator` checks
one in memory, against its signature, its expiry and the `RevocationList` (ended sessions and
accounts signed out, read from MongoDB by every process about once a second, and at once by the
process that ended them), so a request costs no database read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from docstore_events.activity import SessionEnded as SessionEndedEvent
from docstore_events.activity import SessionEndReason
from docstore_events.devices import NewDeviceSignInDetected
from docstore_gateway.domain.answers import (
    CodeAccepted,
    Gone,
    HomeElsewhere,
    NameLost,
    PasswordAccepted,
    PasswordsOff,
    Refused,
)
from docstore_gateway.domain.devices import Device, client_of, device_key, is_new_sign_in
from docstore_gateway.domain.errors import (
    AccountsAnsweredUnexpectedly,
    AccountsUnavailable,
    MfaRequired,
    MfaTicketRefused,
    PasswordSignInOff,
    RevocationsUnavailable,
    SessionEnded,
    SignedOut,
    Throttled,
    Unauthenticated,
    UpstreamUnavailable,
    UsernameLost,
    WrongCode,
    WrongPassword,
)
from docstore_gateway.domain.mfa import InvalidTicket, issue_ticket, read_ticket
from docstore_gateway.domain.regions import Regions
from docstore_gateway.domain.sessions import Caller, Issued, RefreshOutcome, RefreshToken, Revocation, Session
from docstore_gateway.domain.tokens import (
    AccessClaims,
    InvalidAccessToken,
    bearer_token,
    is_signed,
    new_token,
    read_access,
    sign_access,
    token_region,
    well_formed,
)
from docstore_gateway.service_layer.ports import (
    Accounts,
    DeviceRepository,
    LoginThrottle,
    Repositories,
    RevocationStore,
    SessionRepository,
)
from docstore_messaging.unit_of_work import Transaction, UnitOfWork

Clock = Callable[[], datetime]

LOGIN_PATH = "/v1/sessions"
LOGOUT_PATH = "/v1/sessions/current"
REFRESH_PATH = "/v1/sessions/refresh"
LOGOUT_EVERYWHERE_PATH = "/v1/sessions"
MFA_PATH = "/v1/sessions/mfa"
SIGN_OUT_CACHE_SECONDS = 2.0
"""How long a process trusts what it read of an account's revocation time: a revoked session is
refused by every replica within this (at once by the one that handled the revocation)."""


REVOCATION_POLL_SECONDS = 1.0
"""How often each process reads what was revoked since its last read: a session ended by another
replica (or an account signed out by the event) is refused here within about this."""
REVOCATION_STALE_SECONDS = 10.0
"""A list not read for this long (the poll failed: MongoDB down) is read on the request; if that
fails too, signed tokens are answered 503 rather than trusted blindly."""
REVOCATION_OVERLAP = timedelta(seconds=10)
"""Each read starts this much before the newest entry seen: an entry whose transaction committed
after a later one was read (or written by a replica whose clock is a little behind) is not missed."""

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class RevocationList:
    """What ended before the access tokens it refuses expire, held in memory by each process
    (issue 36): sessions (families) ended, and accounts whose logins before a moment were signed
    out. Fed from MongoDB (`RevocationStore`), where every removal writes its entry in its own
    transaction: a poll every `REVOCATION_POLL_SECONDS` (`run`, one query per process whatever the
    traffic), and `refresh()` at once in the process that ended a session. Entries older than
    `keep` (an access token's lifetime and a margin) are dropped: no token they refuse is alive."""

    def __init__(
        self,
        store: RevocationStore,
        *,
        keep: timedelta,
        poll_seconds: float = REVOCATION_POLL_SECONDS,
        stale_seconds: float = REVOCATION_STALE_SECONDS,
        clock: Clock = _now,
    ) -> None:
        self.store = store
        self.keep = keep
        self.poll_seconds = poll_seconds
        self.stale_seconds = stale_seconds
        self.clock = clock
        self.ended: dict[str, datetime] = {}
        """family id -> when it ended."""
        self.signed_out: dict[str, tuple[datetime, datetime]] = {}
        """account id -> (logins before this are refused, when written)."""
        self._cursor: datetime | None = None
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    def apply(self, entries: list[Revocation]) -> None:
        for entry in entries:
            if entry.kind == "family":
                self.ended[entry.key] = max(entry.at, self.ended.get(entry.key, entry.at))
            elif entry.kind == "account" and entry.before is not None:
                before, _ = self.signed_out.get(entry.key, (entry.before, entry.at))
                self.signed_out[entry.key] = (max(before, entry.before), entry.at)
            self._cursor = entry.at if self._cursor is None else max(self._cursor, entry.at)

    async def refresh(self) -> None:
        """Read what was written since the last read (everything kept, the first time)."""
        async with self._lock:
            since = datetime.min.replace(tzinfo=UTC) if self._cursor is None else self._cursor - REVOCATION_OVERLAP
            started = time.monotonic()
            self.apply(await self.store.revocations_since(since))
            self._read_at = started
            oldest = self.clock() - self.keep
            self.ended = {family: at for family, at in self.ended.items() if at >= oldest}
            self.signed_out = {account: row for account, row in self.signed_out.items() if row[1] >= oldest}

    async def current(self) -> None:
        """Make sure the list was read recently (read it now when the poll has not: 503 if that fails)."""
        if self._read_at is not None and time.monotonic() - self._read_at < self.stale_seconds:
            return
        try:
            await self.refresh()
        except Exception as error:  # MongoDB down: never trust a token without the list
            raise RevocationsUnavailable() from error

    async def ended_for(self, claims: AccessClaims) -> bool:
        """Whether the session of a signed token ended (or its account was signed out since its login)."""
        await self.current()
        if claims.family_id in self.ended:
            return True
        row = self.signed_out.get(claims.account_id)
        return row is not None and claims.signed_in_at < row[0]

    async def run(self) -> None:
        """Poll for ever (a task of the lifespan); a failed read is logged and tried again."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("revocation_list_read_failed", exc_info=True)
            await asyncio.sleep(self.poll_seconds)

    async def refreshed_quietly(self) -> None:
        """`refresh`, for a process that just ended a session: a failure leaves it to the poll."""
        with contextlib.suppress(Exception):
            await self.refresh()


class SignOuts:
    """When each account's sessions were last revoked as a whole (`account.sessions-revoked`),
    read through a short per-process cache so the check costs no query on most requests."""

    def __init__(self, devices: DeviceRepository, *, ttl_seconds: float = SIGN_OUT_CACHE_SECONDS) -> None:
        self.devices = devices
        self.ttl_seconds = ttl_seconds
        self._cache: dict[str, tuple[float, datetime | None]] = {}

    async def valid_after(self, account_id: str) -> datetime | None:
        now = time.monotonic()
        cached = self._cache.get(account_id)
        if cached is not None and now - cached[0] < self.ttl_seconds:
            return cached[1]
        moment = await self.devices.valid_after(account_id)
        if len(self._cache) > 50_000:  # bounded: a burst of accounts cannot grow it without end
            self._cache.clear()
        self._cache[account_id] = (now, moment)
        return moment

    def forget(self, account_id: str) -> None:
        """This process just stored a revocation: read it again on the next request."""
        self._cache.pop(account_id, None)


class Authenticator:
    """Who a request's `Authorization` header belongs to."""

    def __init__(
        self,
        sessions: SessionRepository,
        regions: Regions,
        clock: Clock = _now,
        sign_outs: SignOuts | None = None,
        *,
        access_keys: Mapping[str, bytes] | None = None,
        access_key_id: str = "",
        revocations: RevocationList | None = None,
    ) -> None:
        """`sign_outs`: refuse access tokens of logins before the account's last revocation
        (None: unit tests of other rules). `access_keys` (MAC key by key id, `tokens.access_keys`)
        and `access_key_id` (the one new tokens are signed with): access tokens are signed and
        checked in memory against `revocations`; without keys, they are random and looked up
        (unit tests of other rules)."""
        self.sessions = sessions
        self.regions = regions
        self.clock = clock
        self.sign_outs = sign_outs
        self.access_keys = dict(access_keys or {})
        self.access_key_id = access_key_id
        self.revocations = revocations

    @property
    def signs(self) -> bool:
        """Whether this gateway issues signed access tokens."""
        return bool(self.access_keys) and self.revocations is not None

    def sign(self, session: Session) -> str:
        """The signed token text of a new access token."""
        claims = AccessClaims(
            family_id=session.family_id,
            account_id=session.account_id,
            role=session.role,
            signed_in_at=session.login_time(),
            issued_at=session.created_at,
            expires_at=session.expires_at,
        )
        return sign_access(self.regions.region, claims, keys=self.access_keys, key_id=self.access_key_id)

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
        if self.signs and is_signed(token):
            return await self._signed(token, target)
        session = await self.sessions.get(token)  # a random token: issued before tokens were signed
        if session is None or not session.live_at(self.clock()):
            issuer = token_region(token)
            if issuer and self.regions.elsewhere(issuer):
                raise self.regions.send_home(issuer, target)
            raise Unauthenticated()
        if session.revoked:
            raise SignedOut()
        if self.sign_outs is not None:
            revoked = await self.sign_outs.valid_after(session.account_id)
            if revoked is not None and session.login_time() < revoked:
                raise SignedOut()
        return session

    async def _signed(self, token: str, target: str) -> Session:
        """A signed access token, checked in memory: another region's is sent home unread (its keys
        are that region's); then signature and expiry, then the revocation list."""
        issuer = token_region(token)
        if issuer and self.regions.elsewhere(issuer):
            raise self.regions.send_home(issuer, target)
        try:
            claims = read_access(token, now=self.clock(), keys=self.access_keys)
        except InvalidAccessToken:
            raise Unauthenticated() from None
        assert self.revocations is not None
        if await self.revocations.ended_for(claims):
            raise SignedOut()
        return Session(
            token=token,
            account_id=claims.account_id,
            role=claims.role,
            created_at=claims.issued_at,
            expires_at=claims.expires_at,
            family_id=claims.family_id,
            signed_in_at=claims.signed_in_at,
        )


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
        devices: DeviceRepository | None = None,
        ticket_keys: Mapping[str, str] | None = None,
        ticket_key_id: str = "",
    ) -> None:
        """`uow`: ends sessions together with their `session.ended` event (the outbox), and
        records a sign-in with its `account.new-sign-in`; without one (unit tests of other rules)
        sessions end on `sessions` and nothing is emitted. `devices`: sessions as devices, the
        devices seen, revocations, spent tickets (None: none of it is kept). `ticket_keys` and
        `ticket_key_id`: what second-step tickets are signed with (the internal signing keys)."""
        self.sessions = sessions
        self.devices = devices
        self.ticket_keys = dict(ticket_keys or {})
        self.ticket_key_id = ticket_key_id
        self.uow = uow
        self.accounts = accounts
        self.throttle = throttle
        self.authenticator = authenticator
        self.ttl = ttl
        """How long a session lasts unused: each refresh token lives this long from its issue."""
        self.access_ttl = min(access_ttl or ttl, ttl)
        """How long an access token lives (minutes): what a stolen bearer token is worth."""
        self.clock = clock

    async def log_in(
        self, username: str, password: str, *, address: str, query: str = "", user_agent: str | None = None
    ) -> Issued:
        """A new session for the account, or a refusal: throttled (429), wrong password (401,
        counted toward the username's limit), home elsewhere (307 to the same login there),
        username lost to another region's sign-up (409), accounts unavailable (503), and for an
        account with two-factor sign-in, 401 `mfa_required` with a ticket for the second step."""
        if wait := await self.throttle.login_attempt(username, address):
            raise Throttled(wait, "login attempts for this account or from this address")
        try:
            answer = await self.accounts.verify_credentials(username, password)
        except UpstreamUnavailable as error:
            raise AccountsUnavailable() from error
        match answer:
            case PasswordAccepted(account_id=account_id, role=role, mfa_required=mfa_required):
                pass
            case Refused():
                await self.throttle.login_failed(username)
                raise WrongPassword()
            case HomeElsewhere(region=region):  # accounts holds a replica: log in at the home region
                raise self.authenticator.regions.send_home(region, _target(LOGIN_PATH, query))
            case NameLost(answer=lost):  # say so, as the accounts service put it
                raise UsernameLost(lost)
            case PasswordsOff(answer=off):  # the operator turned passwords off (OpenID Connect only)
                raise PasswordSignInOff(off)
            case _:
                raise AccountsAnsweredUnexpectedly()
        if mfa_required:
            if not self.ticket_keys:
                raise AccountsAnsweredUnexpectedly()  # no key to sign a ticket with: never a session
            ticket, _ = issue_ticket(
                account_id,
                role,
                self.authenticator.regions.region,
                now=self.clock(),
                keys=self.ticket_keys,
                key_id=self.ticket_key_id,
            )
            raise MfaRequired(ticket)
        return await self.start_session(account_id, role, address=address, user_agent=user_agent)

    async def complete_mfa(
        self, ticket: str, code: str, *, address: str, query: str = "", user_agent: str | None = None
    ) -> Issued:
        """The second step: a session for the ticket's account once the accounts service accepts
        `code` (TOTP or recovery). Refusals: a ticket that is not one, expired or spent (401,
        sign in again), throttled (429, the password step's limits: the address's attempts
        together, the account's wrong codes apart), a wrong code (401, counted; the ticket stays
        usable until it expires), another region's ticket (307 there), accounts unavailable (503)."""
        regions = self.authenticator.regions
        try:
            found = read_ticket(ticket, now=self.clock(), keys=self.ticket_keys)
        except InvalidTicket:
            raise MfaTicketRefused() from None
        if found.region != regions.region:
            if found.region and regions.elsewhere(found.region):
                raise regions.send_home(found.region, _target(MFA_PATH, query))
            raise MfaTicketRefused()
        if wait := await self.throttle.mfa_attempt(found.account_id, address):
            raise Throttled(wait, "sign-in attempts for this account or from this address")
        # A spent ticket is refused before any code is checked: a recovery code sent with it
        # must not be used up for nothing.
        if self.devices is not None and await self.devices.ticket_spent(found.ticket_id):
            raise MfaTicketRefused()
        try:
            answer = await self.accounts.verify_second_factor(found.account_id, code)
        except UpstreamUnavailable as error:
            raise AccountsUnavailable() from error
        match answer:
            case CodeAccepted():
                pass
            case Refused():  # a wrong code, or not even the shape of one
                await self.throttle.mfa_failed(found.account_id)
                raise WrongCode()
            case Gone():  # the account is gone, or 2FA went off meanwhile
                raise MfaTicketRefused()
            case _:
                raise AccountsAnsweredUnexpectedly()
        # Spent only now: a mistyped code may be tried again (throttled), a used ticket never.
        if self.devices is not None and not await self.devices.spend_ticket(found.ticket_id, found.expires_at):
            raise MfaTicketRefused()
        return await self.start_session(found.account_id, found.role, address=address, user_agent=user_agent)

    async def start_session(self, account_id: str, role: str, *, address: str, user_agent: str | None) -> Issued:
        """A new session (family) for a login that passed every step, recorded as a device (also
        after an OpenID Connect sign-in, whose check accounts made: `api/oidc.py`)."""
        now = self.clock()
        issued = await self._issue(account_id, role, new_token(""), signed_in_at=now)
        await self._record_sign_in(issued, now=now, address=address, user_agent=user_agent)
        return issued

    async def _record_sign_in(self, issued: Issued, *, now: datetime, address: str, user_agent: str | None) -> None:
        """The session's row in the list of devices and, when its client and address are new for
        the account, `account.new-sign-in` (same transaction, through the outbox)."""
        if self.devices is None:
            return
        account_id = issued.access.account_id
        client = client_of(user_agent)
        region = self.authenticator.regions.region
        device = Device(
            session_id=issued.refresh.family_id,
            account_id=account_id,
            client=client.label,
            address=address,
            region=region,
            created_at=now,
            last_seen_at=now,
            expires_at=issued.refresh.expires_at,
        )
        key = device_key(account_id, client, address)
        if self.uow is None:
            await self.devices.add_family(device)
            await self.devices.remember(account_id, key, now)
            return

        async def work(tx: Transaction[Repositories]) -> None:
            await tx.repos.devices.add_family(device)
            seen, known = await tx.repos.devices.remember(account_id, key, now)
            if is_new_sign_in(seen_before=seen, known_devices=known):
                tx.emit(
                    NewDeviceSignInDetected(
                        account_id=account_id,
                        client=client.label,
                        address=address,
                        region=region,
                        signed_in_at=now,
                        session_id=device.session_id,
                    )
                )

        await self.uow.run(work)

    async def _issue(self, account_id: str, role: str, family_id: str, *, signed_in_at: datetime | None) -> Issued:
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
            signed_in_at=signed_in_at,
        )
        if self.authenticator.signs:  # signed: nothing of it is stored
            access = replace(access, token=self.authenticator.sign(access))
        refresh = RefreshToken(
            token=new_token(region),
            family_id=family_id,
            account_id=account_id,
            role=role,
            expires_at=now + self.ttl,
            signed_in_at=signed_in_at,
        )
        await self.sessions.add_refresh(refresh)
        if not self.authenticator.signs:
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

    async def refresh(self, refresh_token: str | None, *, query: str = "", address: str = "") -> Issued:
        """Spend a refresh token for a new access token and refresh token of its family.

        A token already spent means two holders: the family is revoked (every access and refresh
        token of that login), and the answer is 401 as for an unknown or expired one."""
        token = self._readable_refresh(refresh_token, _target(REFRESH_PATH, query))
        outcome, found = await self.sessions.use_refresh(token, self.clock())
        if found is None:
            raise SessionEnded()
        if found.revoked:
            raise SignedOut()  # ended from the owner's device list: "signed out", not a theft
        if outcome == RefreshOutcome.REUSED:
            family = found.family_id
            await self._end(found.account_id, "refresh-reuse", lambda sessions: sessions.remove_family(family))
            raise SessionEnded()
        if not found.live_at(self.clock()):
            await self.sessions.remove_family(found.family_id)
            raise SessionEnded()
        if self.devices is not None:
            revoked = await self.devices.valid_after(found.account_id)  # never cached: it mints tokens
            if revoked is not None and (found.signed_in_at is None or found.signed_in_at < revoked):
                await self.sessions.remove_family(found.family_id)
                raise SignedOut()
        issued = await self._issue(found.account_id, found.role, found.family_id, signed_in_at=found.signed_in_at)
        if self.devices is not None:
            await self.devices.touch_family(
                found.family_id, seen_at=self.clock(), expires_at=issued.refresh.expires_at, address=address
            )
        return issued

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

    async def end_families(self, account_id: str, reason: SessionEndReason, family_ids: list[str]) -> None:
        """End these sessions (families) of the account, with one `session.ended`. Their tokens are
        kept as revoked until they expire: a client holding one is told it was signed out (401
        `signed-out`), not handed the bare 401 of a token nobody knows."""

        at = self.clock()

        async def remove(sessions: SessionRepository) -> None:
            for family_id in family_ids:
                await sessions.revoke_family(family_id, at)

        await self._end(account_id, reason, remove)

    async def _end(
        self, account_id: str, reason: SessionEndReason, remove: Callable[[SessionRepository], Awaitable[None]]
    ) -> None:
        """Remove sessions and, in the same transaction, emit `session.ended` (for the audit trail);
        then read the revocation list, so this process refuses their signed tokens at once."""
        if self.uow is None:
            await remove(self.sessions)
        else:

            async def work(tx: Transaction[Repositories]) -> None:
                await remove(tx.repos.sessions)
                tx.emit(SessionEndedEvent(account_id=account_id, reason=reason))

            await self.uow.run(work)
        if self.authenticator.revocations is not None:  # refused here at once, elsewhere by the poll
            await self.authenticator.revocations.refreshed_quietly()


def _target(path: str, query: str) -> str:
    """A canonical path with the request's query, as the home region's gateway should receive it."""
    return path + (f"?{query}" if query else "")
