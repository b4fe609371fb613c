"""Account security use cases (issue 20): e-mail verification, password reset and change, e-mail
change, and TOTP two-factor sign-in with recovery codes.

Every change runs in one unit of work with its events (`account.email-verified`,
`account.password-changed`, `account.mfa-changed`, `account.sessions-revoked`, none carrying a
secret). Token-carrying mails go out after the commit through notify's internal route
(`AccountMailer`); a token exists in clear only in that call and in the answer to nobody else
(if notify is away, the person asks again: resend, or a new reset). Notices without a token
("your password was changed", "your address is being changed") are written in the change's own
transaction (`account_notices`) and sent until notify takes them, so none is lost to a process
that dies after the commit or to notify being away for a while.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from docstore_accounts.adapters.account_mail import AccountMailer
from docstore_accounts.adapters.credentials import CredentialRepositories
from docstore_accounts.domain.accounts import (
    EMAIL,
    AccountNotFound,
    InvalidSignup,
    check_password,
)
from docstore_accounts.domain.credentials import (
    AddressInUse,
    LinkInvalid,
    MfaState,
    SecretBox,
    TooManyRequests,
    WrongCode,
    WrongPassword,
    check_token_row,
    issue_token,
    matching_recovery,
    new_recovery_codes,
    new_totp_secret,
    otpauth_uri,
    qr_svg,
    recovery_digest,
    token_digest,
    totp_step,
)
from docstore_events.credentials import (
    AccountEmailVerified,
    AccountMfaChanged,
    AccountPasswordChanged,
    AccountSessionsRevoked,
)
from docstore_kit.passwords import burn_verification, hash_password, password_matches
from docstore_messaging.origin import current_origin
from docstore_messaging.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger(__name__)
Tx = Transaction[CredentialRepositories]
Doc = dict[str, Any]

LINK_PATHS = {
    "verify-email": "/#/verify-email?token=",
    "reset-password": "/#/reset-password?token=",
    "change-email": "/#/verify-email?token=",
}
"""Where each mailed link opens the web app. The token is in the fragment, which browsers never
send to a server: it stays out of access logs and Referer headers."""


MAIL_RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)
"""Seconds between the tries of a link mail sent after the answer (sign-up's verification, a
reset): notify may be slow or restarting for a moment, and the person waits for that mail. The
link is in no stored row (only its digest is), so the tries live in this process; after the last,
or if the process stops, the person asks again (resend, or a new reset)."""

NOTICE_LEASE = timedelta(seconds=60)
"""How long a sender holds a notice it is sending before another may try it."""
NOTICE_RETRY_INITIAL = timedelta(seconds=5)
NOTICE_RETRY_MAX = timedelta(minutes=15)
NOTICE_MAX_AGE = timedelta(days=3)
"""A notice notify has not taken in this long is dropped (logged as an error): it is news of an
event days old by then."""


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str


def email_verified(account: Mapping[str, Any]) -> bool:
    """Accounts from before verification existed have no flag: they count as verified."""
    return account.get("email_verified", True) is not False


def mfa_enabled(account: Mapping[str, Any]) -> bool:
    return bool((account.get("mfa") or {}).get("enabled"))


def _now() -> datetime:
    return datetime.now(UTC)


def _unknown_key(name: str) -> str:
    """What a reset request for a name nobody holds here is counted (and its decoy token filed)
    under: never the name itself."""
    return "unknown:" + hashlib.sha256(name.lower().encode()).hexdigest()[:32]


def email_key_differs(a: str, b: str) -> bool:
    return a.strip().casefold() != b.strip().casefold()


def _client_address() -> str:
    origin = current_origin.get()
    return (origin.client_address or "") if origin else ""


class AccountSecurity:
    def __init__(
        self,
        uow: UnitOfWork[CredentialRepositories],
        bound: Callable[[Any], CredentialRepositories],
        mailer: AccountMailer,
        box: SecretBox,
        *,
        gateway_url: str,
        verification_mails_per_hour: int = 3,
        reset_mails_per_hour: int = 3,
        wrong_passwords_per_hour: int = 10,
        peers: Mapping[str, str] | None = None,
        replication_secret: str = "",
        peer_http: httpx.AsyncClient | None = None,
        report_to: str = "",
        mail_retry_delays: tuple[float, ...] = MAIL_RETRY_DELAYS,
    ) -> None:
        """`bound(session)`: these repositories on another unit of work's session (the sign-up's);
        `peers`: other regions' accounts services, asked to handle a reset for an account not held here."""
        self.uow = uow
        self.bound = bound
        self.reads = bound(None)
        self.mailer = mailer
        self.box = box
        self.gateway_url = gateway_url.rstrip("/")
        self.verification_mails_per_hour = verification_mails_per_hour
        self.reset_mails_per_hour = reset_mails_per_hour
        self.wrong_passwords_per_hour = wrong_passwords_per_hour
        self.peers = dict(peers or {})
        self.replication_secret = replication_secret
        self.peer_http = peer_http
        self.report_to = report_to
        """Where "this was not me" reports go (`ACCOUNTS_SECURITY_CONTACT`), named in the mail that
        tells an old address it was replaced."""
        self.mail_retry_delays = mail_retry_delays
        self._tasks: set[asyncio.Task[Any]] = set()

    def _link(self, purpose: str, token: str) -> str:
        return f"{self.gateway_url}{LINK_PATHS[purpose]}{token}"

    async def _mail_with_retries(self, kind: str, **fields: Any) -> bool:
        """`mailer.send`, tried again after each of `MAIL_RETRY_DELAYS` while notify does not take
        it. A try whose answer was lost may have sent the mail: the person may get it twice, with
        the same link, rather than not at all."""
        for delay in (*self.mail_retry_delays, None):
            if await self.mailer.send(kind, **fields):
                return True
            if delay is None:
                log.warning("account_mail_given_up", kind=kind, account_id=fields.get("account_id"))
                return False
            await asyncio.sleep(delay)
        return False

    def _later(self, work: Awaitable[Any]) -> None:
        """Run `work` after the answer (kept referenced until done), so its time never shows in it."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _account(self, account_id: str) -> Doc:
        account = await self.reads.accounts.by_id(account_id)
        if account is None:
            raise AccountNotFound(account_id)
        return account

    @staticmethod
    async def _held_by_another(repos: CredentialRepositories, address: str, account_id: str) -> bool:
        holder = await repos.emails.holder(address)
        return holder is not None and holder != account_id

    async def _address_in_use(
        self, tx: Any, repos: CredentialRepositories, account_id: str, address: str, attempt: str
    ) -> None:
        """Tell the owner of `address` (and only them, at that address) that someone asked to use
        it for another account; `account_id` is the asker's account, on which the notice is counted."""
        stored = {"at": _now().isoformat(), "attempt": attempt, "client_address": _client_address()}
        await repos.notices.add(uuid.uuid4().hex, "address-in-use", account_id, address, stored, _now())
        tx.after_commit(lambda: self._later(self.send_notices()))

    # --- e-mail verification --------------------------------------------------------------

    async def on_sign_up(self, tx: Transaction[Any], account_id: str, username: str, email: str) -> None:
        """In the sign-up's own transaction: the address starts unverified and a verification
        token is stored (its digest); the mail goes out after the commit."""
        repos = self.bound(tx.session)
        await repos.accounts.set(account_id, {"email_verified": False})
        if await self._held_by_another(repos, email, account_id):
            # The same answer as for a free address; the address's owner is told, nobody else.
            await self._address_in_use(tx, repos, account_id, email, "sign-up")
            return
        issued = issue_token("verify-email", _now())
        await repos.tokens.add(account_id, issued)
        link = self._link("verify-email", issued.token)
        tx.after_commit(
            lambda: self._later(
                self._mail_with_retries("verify-email", account_id=account_id, to=email, link=link, username=username)
            )
        )

    async def resend_verification(self, account_id: str) -> bool:
        """A new verification mail (older links stop working); False when already verified.
        At most `verification_mails_per_hour` an hour (429 beyond)."""
        account = await self._account(account_id)
        if email_verified(account) and not account.get("pending_email"):
            return False
        pending = account.get("pending_email")
        purpose = "change-email" if pending else "verify-email"
        issued = issue_token(purpose, _now())

        async def work(tx: Tx) -> bool:
            if not await tx.repos.counters.take(account_id, "verify-mail", _now(), self.verification_mails_per_hour):
                raise TooManyRequests("We sent several verification mails in the last hour. Please wait a while.")
            await tx.repos.tokens.retire(account_id, purpose, _now())
            address = pending or account["email"]
            if await self._held_by_another(tx.repos, address, account_id):
                await self._address_in_use(tx, tx.repos, account_id, address, purpose)
                return False
            await tx.repos.tokens.add(account_id, issued, email=pending)
            return True

        if not await self.uow.run(work):
            return True
        await self.mailer.send(
            purpose,
            account_id=account_id,
            to=pending or account["email"],
            link=self._link(purpose, issued.token),
            username=account["username"],
        )
        return True

    async def verify_email(self, token: str) -> Doc:
        """Follow a verification (or e-mail change) link: once, before it expires."""
        digest = token_digest(token)
        now = _now()

        async def work(tx: Tx) -> Doc:
            row = await tx.repos.tokens.get(digest)
            purpose = (row or {}).get("purpose")
            if purpose not in ("verify-email", "change-email"):
                raise LinkInvalid()
            check_token_row(row, str(purpose), now)
            assert row is not None
            if not await tx.repos.tokens.spend(digest, now):
                raise LinkInvalid()
            account_id = row["account_id"]
            account = await tx.repos.accounts.by_id(account_id)
            if account is None:
                raise LinkInvalid()
            changed = purpose == "change-email"
            changes: Doc = {"email_verified": True, "email_verified_at": now}
            address = str(row["email"]) if changed else str(account["email"])
            if changed and account.get("pending_email") != row.get("email"):
                raise LinkInvalid()  # a later change request replaced this one
            # One account per verified address (issue 33): the claim is in this transaction.
            if not await tx.repos.emails.claim(address, account_id):
                raise AddressInUse()
            if changed:
                changes["email"] = address
                await tx.repos.accounts.unset(account_id, "pending_email")
                old = str(account["email"])
                if email_key_differs(old, address):
                    await tx.repos.emails.release(account_id, old)
                # Recovery follows the address: every reset, verification or change link mailed
                # before (to the old address, or to another requested one) stops working.
                await tx.repos.tokens.retire_all(account_id, now)
                if email_verified(account):
                    await self._queue_notice(
                        tx,
                        "email-changed",
                        account_id=account_id,
                        to=old,
                        username=account["username"],
                        at=now,
                        client_address=_client_address(),
                        new_email=address,
                        report_to=self.report_to,
                    )
            else:
                await tx.repos.tokens.retire(account_id, str(purpose), now)
            await tx.repos.accounts.set(account_id, changes)
            tx.emit(AccountEmailVerified(account_id=account_id, changed=changed))
            return {**account, **changes}

        return await self.uow.run(work)

    # --- password reset ---------------------------------------------------------------------

    async def request_reset(self, username_or_email: str, *, forward: bool = True) -> None:
        """Mail a 30-minute reset link to the account named (by username or address), if there is one.

        The caller learns nothing: the same work runs either way (an argon2 verification, the
        lookup, then one transaction with one counter write and one token insert: for a name
        nobody holds, a decoy token row under the name's digest that no one has the token of,
        gone by TTL), and the mail and forwarding happen after the answer. A name not held here
        is handed to the other regions (`forward`), whose accounts service does the same for its own
        accounts: the request reaches the account's home region wherever it was made.
        `bench/password_reset.py` measures both answers' times."""
        name = username_or_email.strip()[:254]
        await asyncio.to_thread(burn_verification, name)
        account = await self.reads.accounts.by_username_or_email(name)
        now = _now()
        known = account is not None and account.get("status", "active") == "active"
        key = str(account["_id"]) if known and account is not None else _unknown_key(name)
        issued = issue_token("reset-password", now)

        async def work(tx: Tx) -> bool:
            if not await tx.repos.counters.take(key, "reset-mail", now, self.reset_mails_per_hour):
                return False
            await tx.repos.tokens.add(key, issued)
            return True

        issued_now = await self.uow.run(work)
        if not known or account is None:
            if forward and account is None:
                self._later(self._forward_reset(name))
            return
        if issued_now:
            self._later(
                self._mail_with_retries(
                    "reset-password",
                    account_id=account["_id"],
                    to=account["email"],
                    link=self._link("reset-password", issued.token),
                    username=account["username"],
                )
            )

    async def _forward_reset(self, name: str) -> None:
        if self.peer_http is None:
            return
        for region, url in self.peers.items():
            try:
                await self.peer_http.post(
                    f"{url}/internal/password-reset",
                    json={"username_or_email": name},
                    headers={"X-Replication-Secret": self.replication_secret},
                )
            except httpx.HTTPError as error:
                log.warning("password_reset_forward_failed", peer_region=region, error=type(error).__name__)

    async def confirm_reset(self, token: str, new_password: str) -> None:
        """Set a new password with a reset link: once, within 30 minutes; every session ends."""
        digest = token_digest(token)
        now = _now()
        row = check_token_row(await self.reads.tokens.get(digest), "reset-password", now)
        account = await self._account(row["account_id"])
        # Strength first: a refused password does not use the link up.
        check_password(new_password, username=account["username"], email=account["email"])
        password_hash = await asyncio.to_thread(hash_password, new_password)

        async def work(tx: Tx) -> None:
            if not await tx.repos.tokens.spend(digest, now):
                raise LinkInvalid()
            # Following the mailed link proves the address is the owner's, unless another account
            # holds it verified (this account then keeps it unverified: one account per address).
            proves = await tx.repos.emails.claim(str(account["email"]), account["_id"])
            await tx.repos.accounts.set(
                account["_id"],
                {"password_hash": password_hash, "password_changed_at": now, "email_verified": proves},
            )
            await tx.repos.tokens.retire(account["_id"], "reset-password", now)
            tx.emit(AccountPasswordChanged(account_id=account["_id"], via="reset"))
            tx.emit(AccountSessionsRevoked(account_id=account["_id"], revoked_before=now, reason="password-reset"))
            if proves and not email_verified(account):
                tx.emit(AccountEmailVerified(account_id=account["_id"], changed=False))
            await self._notice_password_changed(tx, {**account, "email_verified": proves}, now)

        await self.uow.run(work)

    async def _notice_password_changed(self, tx: Tx, account: Mapping[str, Any], at: datetime) -> None:
        if email_verified(account):
            await self._queue_notice(
                tx,
                "password-changed",
                account_id=account["_id"],
                to=account["email"],
                username=account["username"],
                at=at,
                client_address=_client_address(),
            )

    # --- notices: queued in the change's transaction, sent until notify takes them ---------------

    async def _queue_notice(self, tx: Tx, kind: str, *, account_id: str, to: str, **fields: Any) -> None:
        """A notice mail (no token in it) in the change's own transaction: if the process dies
        after the commit, the relay (`run_notices`, any replica) still sends it. After the commit
        it is sent at once; a failure is tried again with backoff."""
        stored = {name: value.isoformat() if isinstance(value, datetime) else value for name, value in fields.items()}
        await tx.repos.notices.add(uuid.uuid4().hex, kind, account_id, to, stored, _now())
        tx.after_commit(lambda: self._later(self.send_notices()))

    async def send_notices(self, now: datetime | None = None, *, limit: int = 100) -> int:
        """Send the due notices (each claimed first, so two replicas never send one twice at once);
        a notice notify did not take is tried again later, with backoff, for `NOTICE_MAX_AGE`.
        Returns how many were sent."""
        now = now or _now()
        queue = self.reads.notices
        sent = 0
        for row in await queue.due(now, limit):
            if not await queue.claim(row, now, NOTICE_LEASE):
                continue
            fields = dict(row.get("fields") or {})
            if await self.mailer.send(row["kind"], account_id=row["account_id"], to=row["to"], **fields):
                await queue.sent(row["_id"])
                sent += 1
                continue
            attempts = int(row.get("attempts", 0)) + 1
            created = row.get("created_at") or now
            created = created.replace(tzinfo=UTC) if created.tzinfo is None else created
            if now - created > NOTICE_MAX_AGE:
                log.error("account_notice_dropped", kind=row["kind"], account_id=row["account_id"], attempts=attempts)
                await queue.sent(row["_id"])
                continue
            delay = min(NOTICE_RETRY_MAX.total_seconds(), NOTICE_RETRY_INITIAL.total_seconds() * 2 ** (attempts - 1))
            await queue.retry_at(row["_id"], now + timedelta(seconds=delay), "not taken by notify")
        return sent

    async def run_notices(self, interval: float = 5.0) -> None:
        """Until cancelled (a background task of the runtime): send what is due."""
        while True:
            try:
                await self.send_notices()
            except asyncio.CancelledError:
                raise
            except Exception:  # MongoDB away: the notices wait in their rows
                log.exception("account_notices_failed")
            await asyncio.sleep(interval)

    # --- change password, change e-mail ------------------------------------------------------

    async def _check_password(self, account: Mapping[str, Any], password: str) -> None:
        """The account's current password, asked again before a change (password, address, 2FA
        off). Wrong answers are counted per account: past `wrong_passwords_per_hour` in the hour,
        every check answers 429 before any password is compared, so a session left open (or
        stolen) cannot be used to guess the password behind it at argon2 speed."""
        await self._not_throttled(account["_id"])
        if not await asyncio.to_thread(password_matches, account["password_hash"], password):
            await self._count_wrong(account["_id"])
            raise WrongPassword()

    async def _not_throttled(self, account_id: str) -> None:
        if await self.reads.counters.count(account_id, "wrong-secret", _now()) >= self.wrong_passwords_per_hour:
            raise TooManyRequests(
                "Too many wrong passwords or codes in the last hour. Please wait a while, or reset your password."
            )

    async def _count_wrong(self, account_id: str) -> None:
        async def work(tx: Tx) -> None:
            await tx.repos.counters.take(account_id, "wrong-secret", _now(), self.wrong_passwords_per_hour)

        await self.uow.run(work)

    async def change_password(self, account_id: str, current_password: str, new_password: str) -> None:
        account = await self._account(account_id)
        await self._check_password(account, current_password)
        check_password(new_password, username=account["username"], email=account["email"])
        password_hash = await asyncio.to_thread(hash_password, new_password)
        now = _now()

        async def work(tx: Tx) -> None:
            await tx.repos.accounts.set(account_id, {"password_hash": password_hash, "password_changed_at": now})
            await tx.repos.tokens.retire(account_id, "reset-password", now)
            tx.emit(AccountPasswordChanged(account_id=account_id, via="change"))
            tx.emit(AccountSessionsRevoked(account_id=account_id, revoked_before=now, reason="password-changed"))
            await self._notice_password_changed(tx, account, now)

        await self.uow.run(work)

    async def change_email(self, account_id: str, password: str, new_email: str) -> None:
        """Ask to move the account to `new_email`: a confirmation link goes there, a notice to the
        old address; the change applies when the link is followed (`verify_email`)."""
        account = await self._account(account_id)
        await self._check_password(account, password)
        new_email = new_email.strip()
        if not EMAIL.match(new_email) or len(new_email) > 254:
            raise InvalidSignup("This doesn't look like an e-mail address.", field="new_email")
        now = _now()
        issued = issue_token("change-email", now)

        async def work(tx: Tx) -> bool:
            if not await tx.repos.counters.take(account_id, "verify-mail", now, self.verification_mails_per_hour):
                raise TooManyRequests("We sent several confirmation mails in the last hour. Please wait a while.")
            await tx.repos.tokens.retire(account_id, "change-email", now)
            await tx.repos.accounts.set(account_id, {"pending_email": new_email})
            # An address another account holds: the same answer, no link; its owner is told.
            in_use = await self._held_by_another(tx.repos, new_email, account_id)
            if in_use:
                await self._address_in_use(tx, tx.repos, account_id, new_email, "email-change")
            else:
                await tx.repos.tokens.add(account_id, issued, email=new_email)
            if email_verified(account):
                await self._queue_notice(
                    tx,
                    "email-change-notice",
                    account_id=account_id,
                    to=account["email"],
                    username=account["username"],
                    at=now,
                    client_address=_client_address(),
                    new_email=new_email,
                )
            return not in_use

        if not await self.uow.run(work):
            return
        await self.mailer.send(
            "change-email",
            account_id=account_id,
            to=new_email,
            link=self._link("change-email", issued.token),
            username=account["username"],
        )

    # --- two-factor sign-in -----------------------------------------------------------------

    async def enrol_mfa(self, account_id: str) -> Enrolment:
        """A new TOTP secret, kept (encrypted) as pending until one code confirms it."""
        account = await self._account(account_id)
        if mfa_enabled(account):
            raise MfaState("Two-step sign-in is already on. Turn it off first to set up another app.")
        secret = new_totp_secret()

        async def work(tx: Tx) -> None:
            await tx.repos.accounts.set(account_id, {"mfa.pending_secret": self.box.encrypt(secret)})

        await self.uow.run(work)
        uri = otpauth_uri(secret, account["username"])
        return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=qr_svg(uri))

    async def confirm_mfa(self, account_id: str, code: str) -> list[str]:
        """Turn two-step sign-in on with one valid code; the ten recovery codes, shown this once.
        Every other session ends."""
        account = await self._account(account_id)
        mfa = account.get("mfa") or {}
        if mfa.get("enabled") or not mfa.get("pending_secret"):
            raise MfaState("Start the set-up first (enrol), then enter a code from the app.")
        secret = self.box.decrypt(mfa["pending_secret"])
        now = _now()
        step = totp_step(secret, code, now, None)
        if step is None:
            raise WrongCode("This code is not right. Check the time on your phone and try the next code.")
        codes = new_recovery_codes()

        async def work(tx: Tx) -> None:
            await tx.repos.accounts.set(
                account_id,
                {
                    "mfa": {
                        "enabled": True,
                        "method": "totp",
                        "secret": mfa["pending_secret"],
                        "last_step": step,
                        "recovery": [recovery_digest(c) for c in codes],
                        "enabled_at": now,
                    }
                },
            )
            tx.emit(AccountMfaChanged(account_id=account_id, enabled=True))
            tx.emit(AccountSessionsRevoked(account_id=account_id, revoked_before=now, reason="mfa-enabled"))

        await self.uow.run(work)
        return codes

    async def disable_mfa(self, account_id: str, password: str, code: str) -> None:
        account = await self._account(account_id)
        if not mfa_enabled(account):
            raise MfaState("Two-step sign-in is not on.")
        await self._check_password(account, password)
        try:
            await self.verify_second_factor(account_id, code)
        except WrongCode:
            await self._count_wrong(account_id)
            raise

        async def work(tx: Tx) -> None:
            await tx.repos.accounts.unset(account_id, "mfa")
            tx.emit(AccountMfaChanged(account_id=account_id, enabled=False))

        await self.uow.run(work)

    async def verify_second_factor(self, account_id: str, code: str) -> str:
        """The second login step: "totp" or "recovery" for a good code, else `WrongCode` (401).

        A TOTP code is accepted once: its time step must be later than the last one accepted,
        moved atomically (two requests with one code: one wins). A recovery code works once."""
        account = await self._account(account_id)
        mfa = account.get("mfa") or {}
        if not mfa.get("enabled"):
            raise MfaState("Two-step sign-in is not on for this account.")  # 409: the gateway never asks then
        step = totp_step(self.box.decrypt(mfa["secret"]), code, _now(), mfa.get("last_step"))
        if step is not None:

            async def advance(tx: Tx) -> bool:
                return await tx.repos.accounts.advance_totp_step(account_id, step)

            if await self.uow.run(advance):
                return "totp"
            raise WrongCode()
        digest = matching_recovery(code, mfa.get("recovery") or [])
        if digest is not None:

            async def spend(tx: Tx) -> bool:
                return await tx.repos.accounts.spend_recovery_code(account_id, digest)

            if await self.uow.run(spend):
                return "recovery"
        raise WrongCode()

    # --- reads for other services ---------------------------------------------------------------

    async def holder_of(self, address: str, *, forward: bool = True) -> Doc:
        """The active account whose *verified* address is `address` (trimmed, any case, as
        `verified_emails` keys it), for metadata's people lookup (issue 37): this region's, else
        (`forward`) another region's, asked of its accounts service, which holds its addresses
        (replicas carry none). The same `AccountNotFound` for nobody, an unverified address, a
        replaced one and a deleted account: anyone can type any address at sign-up, so an
        unverified one names nobody."""
        holder = await self.reads.emails.holder(address)
        account = await self.reads.accounts.by_id(holder) if holder is not None else None
        if (
            account is not None
            and account.get("status", "active") == "active"
            and email_verified(account)
            and not email_key_differs(str(account.get("email") or ""), address)
        ):
            return account
        if forward and (elsewhere := await self._holder_elsewhere(address)) is not None:
            return elsewhere
        raise AccountNotFound("")

    async def _holder_elsewhere(self, address: str) -> Doc | None:
        """The account another region's accounts service names for `address` (its
        `POST /internal/people/by-email/here`, with the replication secret), or None: nobody
        there, or no region answered (a lookup is a help: it then finds nobody)."""
        if self.peer_http is None:
            return None
        for region, url in self.peers.items():
            try:
                answer = await self.peer_http.post(
                    f"{url}/internal/people/by-email/here",
                    json={"email": address},
                    headers={"X-Replication-Secret": self.replication_secret},
                )
            except httpx.HTTPError as error:
                log.warning("people_lookup_peer_failed", peer_region=region, error=type(error).__name__)
                continue
            if answer.status_code == 200:
                found = answer.json()
                return {"_id": found["id"], **{key: value for key, value in found.items() if key != "id"}}
            if answer.status_code != 404:
                log.warning("people_lookup_peer_failed", peer_region=region, status=answer.status_code)
        return None

    async def flags(self, account: Mapping[str, Any]) -> dict[str, bool]:
        """What the login answer adds: whether a second step is needed, whether the address is verified."""
        return {"mfa_required": mfa_enabled(account), "email_verified": email_verified(account)}

    async def email_of(self, account_id: str) -> Doc:
        account = await self._account(account_id)
        return {"email": account["email"], "email_verified": email_verified(account)}

    async def status(self, account_id: str) -> Doc:
        account = await self._account(account_id)
        return {
            "email": account["email"],
            "email_verified": email_verified(account),
            "pending_email": account.get("pending_email"),
            "mfa_enabled": mfa_enabled(account),
            "recovery_codes_left": len((account.get("mfa") or {}).get("recovery") or []),
        }
