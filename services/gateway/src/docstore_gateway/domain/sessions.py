"""Login sessions: who a live session belongs to, and what a login hands out.

A login starts a session *family*: a short-lived access token (the bearer token, minutes) and a
refresh token (kept by browsers in an HttpOnly cookie). Each refresh spends its refresh token
once and hands out a new pair of the same family; a spent refresh token presented again means
that one of its copies was stolen, so the whole family is revoked (refresh-token reuse detection).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Caller:
    """Who a live session belongs to."""

    account_id: str
    role: str = "user"


@dataclass(frozen=True)
class Session:
    """A session as stored: its bearer token (the store keeps only a digest of it), its
    account and role, and when it stops being live."""

    token: str
    account_id: str
    role: str
    created_at: datetime
    expires_at: datetime
    family_id: str = ""
    """The login this access token descends from (empty for sessions stored before families)."""
    signed_in_at: datetime | None = None
    """When that login happened (None for sessions stored before this was kept: `created_at`
    stands in). A revocation of every session refuses tokens of logins before its time."""
    revoked: bool = False
    """The owner ended this session from their list of devices: its tokens are refused with
    "signed out, sign in again" (not a bare 401), so the client knows to ask for a new login."""

    def login_time(self) -> datetime:
        return self.signed_in_at or self.created_at

    @property
    def caller(self) -> Caller:
        return Caller(self.account_id, self.role)

    def live_at(self, now: datetime) -> bool:
        return now < self.expires_at


@dataclass(frozen=True)
class RefreshToken:
    """A refresh token as stored (the store keeps only a digest of `token`): its family, account
    and role, when it stops being usable, and when it was spent (None: not yet)."""

    token: str
    family_id: str
    account_id: str
    role: str
    expires_at: datetime
    used_at: datetime | None = None
    signed_in_at: datetime | None = None
    """When the login this token descends from happened (None: stored before this was kept)."""
    revoked: bool = False
    """Its session was ended from the owner's list of devices (`Session.revoked`)."""

    def live_at(self, now: datetime) -> bool:
        return now < self.expires_at


@dataclass(frozen=True)
class Issued:
    """What a login or a refresh hands out: an access token and the refresh token that follows it."""

    access: Session
    refresh: RefreshToken


@dataclass(frozen=True)
class Revocation:
    """An entry of the revocation list (issue 36): signed access tokens are checked in memory, so
    each gateway process holds what ended before they expire. `family`: that session ended
    (logout, refresh-token reuse, ended from the device list); `account`: every login of the
    account before `before` ended (logout everywhere, account deleted, password changed or reset)."""

    kind: str
    """"family" or "account"."""
    key: str
    """The family id, or the account id."""
    at: datetime
    """When it was written (the poll's cursor)."""
    before: datetime | None = None
    """An account's: logins before this moment are refused."""


class RefreshOutcome:
    """How spending a refresh token went (`SessionRepository.use_refresh`)."""

    SPENT = "spent"
    """This call spent it: the caller may issue the next pair."""
    REUSED = "reused"
    """It had been spent before: a copy is in other hands."""
    UNKNOWN = "unknown"
    """No such token (never issued, or its family is gone)."""
