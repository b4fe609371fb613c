"""The composition root: every object the accounts service runs with, built from its settings.

Nothing connects here: the MongoDB client connects on first use, the runtime starts in `main`'s
lifespan (which calls `prepare` first: indexes and the background loops)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from docstore_accounts.adapters.account_mail import NotifyMailer
from docstore_accounts.adapters.app_passwords import AppPasswordRepository, app_password_repositories
from docstore_accounts.adapters.credentials import EmailClaims, credential_repositories, ensure_credential_indexes
from docstore_accounts.adapters.metadata_client import MetadataAccess
from docstore_accounts.adapters.oidc import OidcFlows, OidcLinks, Provider
from docstore_accounts.adapters.replication import ReplicationQueue, ReplicationRelay
from docstore_accounts.adapters.repositories import Repositories, ensure_indexes, repositories
from docstore_accounts.domain.credentials import SecretBox, parse_keys
from docstore_accounts.service_layer.account_security import AccountSecurity
from docstore_accounts.service_layer.accounts import Accounts
from docstore_accounts.service_layer.app_passwords import AppPasswords
from docstore_accounts.service_layer.oidc import OidcSignIn
from docstore_accounts.settings import Settings
from docstore_events import AccountCreated, AccountPlanChanged
from docstore_events.base import Event
from docstore_events.credentials import AccountEmailVerified
from docstore_events.unit_of_work import MongoUnitOfWork
from docstore_kit.app import ServiceRuntime
from docstore_kit.auth import InternalAuth
from docstore_kit.consistency import ConsistencyChecker, OutboxRowsCheck, ProcessedEvents, RepairBudget

OIDC_CALLBACK_PATH = "/v1/sessions/oidc/callback"
"""Where the provider sends people back: the gateway's callback (`services/gateway`, `api/oidc.py`)."""


@dataclass(frozen=True)
class Services:
    settings: Settings
    runtime: ServiceRuntime
    uow: MongoUnitOfWork[Repositories]
    reads: Repositories
    """The repositories outside any transaction (reads, and the relay's rows)."""
    accounts: Accounts
    """Sign-up, the credential check, plan changes, deletion, replicas from other regions."""
    account_security: AccountSecurity
    """Verification, reset, password and e-mail changes, 2FA (its own unit of work; README "Account security")."""
    app_passwords: AppPasswords
    """App passwords: create, list, revoke, the gateway's check (its own unit of work; README "App passwords")."""
    replication_queue: ReplicationQueue
    replication_relay: ReplicationRelay
    consistency: ConsistencyChecker
    """The outbox check: events quota and notify never applied are published again (issue 32)."""
    oidc: OidcSignIn | None = None
    """Sign-in with the OpenID provider of the settings (None: none configured)."""

    async def prepare(self) -> None:
        """Create the indexes and register the background loops (before the runtime starts)."""
        db = self.runtime.db
        await ensure_indexes(db)
        await ensure_credential_indexes(db)
        await AppPasswordRepository(db).ensure_indexes()
        await OidcFlows(db).ensure_indexes()
        await OidcLinks(db).ensure_indexes()
        self.runtime.background("accounts-replication-relay", self.replication_relay.run)
        self.runtime.background("accounts-notices", self.account_security.run_notices)
        if self.settings.consistency_period_seconds > 0:
            period = self.settings.consistency_period_seconds
            self.runtime.background("accounts-consistency", lambda: self.consistency.run_forever(period))


def bootstrap(settings: Settings) -> Services:
    runtime = ServiceRuntime(settings)
    db = runtime.db
    peers = settings.peers()
    bound = repositories(db, peers)
    uow = runtime.events.unit_of_work(bound)
    reads = bound(None)
    queue = ReplicationQueue(db, peers)
    account_security = account_security_on(settings, runtime)
    auth = InternalAuth.from_settings(settings)
    metadata = MetadataAccess(
        httpx.AsyncClient(base_url=settings.metadata_url, timeout=10.0, auth=auth.client_auth("metadata"))
    )
    accounts = Accounts(
        uow,
        reads,
        settings.region,
        replication_written=queue.wake,
        on_sign_up=account_security.on_sign_up,
        end_access=metadata.end,
    )
    passwords = app_password_repositories(db)
    oidc = None
    if settings.oidc_enabled():
        provider = Provider(
            settings.oidc_issuer,
            settings.oidc_client_id,
            settings.oidc_client_secret,
            f"{settings.gateway_url.rstrip('/')}{OIDC_CALLBACK_PATH}",
            httpx.AsyncClient(timeout=10.0),
        )
        oidc = OidcSignIn(provider, OidcFlows(db), OidcLinks(db), EmailClaims(db), accounts, settings.role_of)
    return Services(
        oidc=oidc,
        settings=settings,
        runtime=runtime,
        uow=uow,
        reads=reads,
        accounts=accounts,
        account_security=account_security,
        app_passwords=AppPasswords(
            runtime.events.unit_of_work(passwords),
            passwords(None),
            reads.accounts,
            accounts.home_of,
            region=settings.region,
        ),
        consistency=consistency_on(settings, runtime),
        replication_queue=queue,
        replication_relay=ReplicationRelay(
            queue,
            secret=settings.replication_secret,
            batch_size=settings.replication_batch_size,
            concurrency=settings.replication_concurrency,
            retry_initial=settings.replication_retry_initial_seconds,
            retry_max=settings.replication_retry_max_seconds,
            poll_interval=settings.replication_poll_seconds,
            timeout=settings.replication_timeout_seconds,
        ),
    )


def account_security_on(settings: Settings, runtime: ServiceRuntime) -> AccountSecurity:
    """Account security on the accounts database, with its own unit of work (same `accounts` collection)."""
    bound = credential_repositories(runtime.db)
    auth = InternalAuth.from_settings(settings)
    return AccountSecurity(
        runtime.events.unit_of_work(bound),
        bound,
        NotifyMailer(httpx.AsyncClient(base_url=settings.notify_url, timeout=10.0, auth=auth.client_auth("notify"))),
        SecretBox(parse_keys(settings.secrets_keys)),
        gateway_url=settings.gateway_url,
        verification_mails_per_hour=settings.verification_mails_per_hour,
        reset_mails_per_hour=settings.reset_mails_per_hour,
        peers=settings.peers(),
        replication_secret=settings.replication_secret,
        peer_http=httpx.AsyncClient(timeout=settings.replication_timeout_seconds),
        report_to=settings.security_contact,
    )


OUTBOX_CONSUMERS: dict[type[Event], tuple[str, ...]] = {
    AccountCreated: ("quota", "notify"),
    AccountPlanChanged: ("quota",),
    AccountEmailVerified: ("notify",),
}
"""The account events quota and notify apply every time, with a processed-event record (their
READMEs): the outbox check asks them about these (as metadata's did before the move)."""


def consistency_on(settings: Settings, runtime: ServiceRuntime) -> ConsistencyChecker:
    """The outbox check (`docstore_kit.consistency.OutboxRowsCheck`): published rows of
    `OUTBOX_CONSUMERS`, older than the settle time, that a consumer never applied are published again."""
    auth = InternalAuth.from_settings(settings)
    asked = {
        "quota": ProcessedEvents.at("quota", settings.quota_url, auth.client_auth("quota")),
        "notify": ProcessedEvents.at("notify", settings.notify_url, auth.client_auth("notify")),
    }
    prefix = settings.kafka_topic_prefix
    check = OutboxRowsCheck(
        "accounts.outbox",
        runtime.events.outbox,
        {event.topic(prefix): [asked[name] for name in names] for event, names in OUTBOX_CONSUMERS.items()},
        RepairBudget(runtime.db),
        settle_seconds=settings.consistency_settle_seconds,
    )
    return ConsistencyChecker(
        runtime.db,
        [check],
        service=settings.service,
        page_size=settings.consistency_page_size,
        pages_per_run=settings.consistency_pages_per_run,
    )
