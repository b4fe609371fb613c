"""The composition root: every object the accounts service runs with, built from its settings.

Nothing connects here: the MongoDB client connects on first use, the runtime starts in `main`'s
lifespan (which calls `prepare` first: indexes and the background loops)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from docstore_accounts.adapters.account_mail import NotifyMailer
from docstore_accounts.adapters.app_passwords import AppPasswordRepository, app_password_repositories
from docstore_accounts.adapters.audit_log import AuditLog, AuditRepositories, audit_repositories
from docstore_accounts.adapters.credentials import EmailClaims, credential_repositories, ensure_credential_indexes
from docstore_accounts.adapters.metadata_client import MetadataAccess
from docstore_accounts.adapters.oidc import OidcFlows, OidcLinks, Provider
from docstore_accounts.adapters.replication import ReplicationQueue, ReplicationRelay
from docstore_accounts.adapters.repositories import Repositories, ensure_indexes, repositories
from docstore_accounts.domain.accounts import AccountNotFound
from docstore_accounts.domain.credentials import SecretBox, parse_keys
from docstore_accounts.service_layer.account_security import AccountSecurity
from docstore_accounts.service_layer.accounts import Accounts
from docstore_accounts.service_layer.app_passwords import AppPasswords
from docstore_accounts.service_layer.audit import AuditTrail
from docstore_accounts.service_layer.oidc import LinkedIdentities, OidcSignIn
from docstore_accounts.settings import Settings
from docstore_events import AccountCreated, AccountPlanChanged
from docstore_events.base import Event
from docstore_events.credentials import AccountEmailVerified
from docstore_kit.app import ServiceRuntime
from docstore_kit.auth import InternalAuth
from docstore_kit.consistency import ConsistencyChecker, ProcessedEvents, outbox_checker
from docstore_kit.http_transport import async_client
from docstore_kit.passwords import use_password_hash_cost
from docstore_messaging.unit_of_work import MongoUnitOfWork, UnitOfWork

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
    audit: AuditTrail
    """The audit trail (its own unit of work and collections; README "Audit trail")."""
    oidc: OidcSignIn | None = None
    """Sign-in with the OpenID provider of the settings (None: none configured)."""
    identities: LinkedIdentities | None = None
    """The identities linked to each account: the owner's list and unlink (with or without a provider now)."""

    async def prepare(self) -> None:
        """Create the indexes and register the background loops (before the runtime starts)."""
        db = self.runtime.db
        await ensure_indexes(db)
        await ensure_credential_indexes(db)
        await AppPasswordRepository(db).ensure_indexes()
        await self.audit.reads.ensure_indexes()
        self.runtime.background("accounts-audit-retention", self.audit.run_purge)
        await OidcFlows(db).ensure_indexes()
        await OidcLinks(db).ensure_indexes()
        self.runtime.background("accounts-replication-relay", self.replication_relay.run)
        self.runtime.background("accounts-notices", self.account_security.run_notices)
        if self.settings.consistency_period_seconds > 0:
            period = self.settings.consistency_period_seconds
            self.runtime.background("accounts-consistency", lambda: self.consistency.run_forever(period))


def bootstrap(settings: Settings) -> Services:
    use_password_hash_cost(settings.password_hash_cost)
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
        async_client(base_url=settings.metadata_url, timeout=10.0, auth=auth.client_auth("metadata"))
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
            async_client(timeout=10.0),
        )

        async def holder_elsewhere(address: str) -> str | None:
            try:
                return str((await account_security.holder_of(address))["home_region"])
            except AccountNotFound:
                return None

        oidc = OidcSignIn(
            provider,
            OidcFlows(db),
            OidcLinks(db),
            EmailClaims(db),
            accounts,
            settings.role_of,
            region=settings.region,
            home_of_identity=reads.replicas.home_of_identity,
            holder_elsewhere=holder_elsewhere,
        )
    return Services(
        oidc=oidc,
        identities=LinkedIdentities(
            accounts,
            OidcLinks(db),
            issuer=settings.oidc_issuer,
            provider_name=settings.oidc_provider_name,
            password_sign_in=settings.password_sign_in,
        ),
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
        audit=audit_trail_on(settings, runtime.events.unit_of_work, db),
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
        NotifyMailer(async_client(base_url=settings.notify_url, timeout=10.0, auth=auth.client_auth("notify"))),
        SecretBox(parse_keys(settings.secrets_keys)),
        gateway_url=settings.gateway_url,
        verification_mails_per_hour=settings.verification_mails_per_hour,
        reset_mails_per_hour=settings.reset_mails_per_hour,
        peers=settings.peers(),
        replication_secret=settings.replication_secret,
        peer_http=async_client(timeout=settings.replication_timeout_seconds),
        report_to=settings.security_contact,
    )


def audit_trail_on(
    settings: Settings,
    unit_of_work: Callable[[Callable[[Any], AuditRepositories]], UnitOfWork[AuditRepositories]],
    db: AsyncDatabase[Any],
) -> AuditTrail:
    """The audit trail on `db` (also the operators' command, `docstore_accounts.audit`, which has
    no event runtime)."""
    return AuditTrail(
        unit_of_work(audit_repositories(db)),
        AuditLog(db),
        region=settings.region,
        retention=timedelta(days=settings.audit_retention_days),
        purge_interval=settings.audit_purge_interval_seconds,
        page_size_max=settings.page_size_max,
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
    return outbox_checker(
        "accounts.outbox",
        runtime.db,
        runtime.events.outbox,
        {event.topic(prefix): [asked[name] for name in names] for event, names in OUTBOX_CONSUMERS.items()},
        settings,
    )
