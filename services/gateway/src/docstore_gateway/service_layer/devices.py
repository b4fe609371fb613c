"""The owner's view of their sessions as devices (list, end one, end all but this one), and the
revocation of every session of an account when the accounts service says so (`account.sessions-revoked`).

A session here is a refresh-token family: one login, on one device, however often it refreshed.
Its id (`session_id`) is the family's id, which grants nothing by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from docstore_events.credentials import AccountAppPasswordRevoked, AccountSessionsRevoked
from docstore_gateway.domain.devices import Device
from docstore_gateway.domain.errors import NoSuchSession
from docstore_gateway.service_layer.app_passwords import AppPasswordChecks
from docstore_gateway.service_layer.ports import DeviceRepository, Repositories
from docstore_gateway.service_layer.sessions import Authenticator, Logins, RevocationList, SignOuts
from docstore_messaging.unit_of_work import Transaction, UnitOfWork

LIST_PATH = "/v1/account/sessions"
MAX_OFFSET = 10_000


@dataclass(frozen=True)
class DeviceList:
    """One page of the caller's sessions, and which of them is the caller's own."""

    devices: list[Device]
    current: str
    next_offset: int | None


class AccountSessions:
    """The caller's sessions: list them, end one, end every other one."""

    def __init__(self, authenticator: Authenticator, logins: Logins, devices: DeviceRepository) -> None:
        self.authenticator = authenticator
        self.logins = logins
        self.devices = devices

    async def list(self, authorization: str | None, *, offset: int, limit: int, target: str = LIST_PATH) -> DeviceList:
        """A page of the caller's live sessions, newest login first (401 without a live session)."""
        session = await self.authenticator.session(authorization, target)
        rows = await self.devices.list_families(
            session.account_id, now=self.authenticator.clock(), offset=offset, limit=limit + 1
        )
        more = len(rows) > limit and offset + limit <= MAX_OFFSET
        return DeviceList(rows[:limit], session.family_id, offset + limit if more else None)

    async def revoke(self, authorization: str | None, session_id: str, *, target: str) -> None:
        """End one of the caller's sessions (its access and refresh tokens are refused at once);
        404 for an id that is not a live session of the caller's account."""
        session = await self.authenticator.session(authorization, target)
        if await self.devices.family(session.account_id, session_id) is None:
            raise NoSuchSession()
        await self.logins.end_families(session.account_id, "session-revoked", [session_id])

    async def revoke_others(self, authorization: str | None, *, target: str) -> int:
        """End every session of the caller's account but the one making the request; how many."""
        session = await self.authenticator.session(authorization, target)
        others = [family for family in await self.devices.family_ids(session.account_id) if family != session.family_id]
        if others:
            await self.logins.end_families(session.account_id, "other-sessions-revoked", others)
        return len(others)


class Revocations:
    """`account.sessions-revoked` (a password changed or reset, 2FA turned on): every login of
    the account before the event's `revoked_before` ends. Idempotent: once per event id, and
    doing it twice would change nothing anyway (the latest revocation time wins)."""

    def __init__(
        self,
        uow: UnitOfWork[Repositories],
        sign_outs: SignOuts,
        *,
        consumer: str = "gateway",
        app_passwords: AppPasswordChecks | None = None,
        revocation_list: RevocationList | None = None,
    ) -> None:
        self.uow = uow
        self.revocation_list = revocation_list
        self.sign_outs = sign_outs
        self.consumer = consumer
        self.app_passwords = app_passwords

    async def sessions_revoked(self, event_id: str, event: AccountSessionsRevoked) -> bool:
        """Store the revocation time (access tokens of earlier logins are refused from now on)
        and delete those logins' refresh tokens and device rows, in one transaction."""
        account_id, moment = event.account_id, event.revoked_before

        async def work(tx: Transaction[Repositories]) -> None:
            await tx.repos.devices.sign_out_before(account_id, moment)
            await tx.repos.sessions.remove_logins_before(account_id, moment)

        done = await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)
        self.sign_outs.forget(account_id)
        if self.revocation_list is not None:  # refused here at once, by the other replicas at their next read
            await self.revocation_list.refreshed_quietly()
        return done

    async def app_password_revoked(self, event_id: str, event: AccountAppPasswordRevoked) -> bool:
        """`account.app-password-revoked`: every check of the account's app passwords made
        before now (this gateway's clock, which also made them) is made again on its next use, so
        the revoked one is refused and the others go on. Idempotent (the latest time wins)."""
        account_id, moment = event.account_id, datetime.now(UTC)

        async def work(tx: Transaction[Repositories]) -> None:
            await tx.repos.devices.app_passwords_revoked(account_id, moment)

        done = await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)
        if self.app_passwords is not None:
            self.app_passwords.forget_account(account_id)
        return done
