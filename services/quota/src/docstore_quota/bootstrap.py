"""The composition root: every object the quota service runs with, built from its settings.

Nothing connects here: the MongoDB client connects on first use, the runtime starts in
`main`'s lifespan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docstore_events.notifications import QuotaWarningReached
from docstore_events.quota import QuotaExceeded, QuotaRestored
from docstore_kit.account_plans import AccountPlans
from docstore_kit.app import ServiceRuntime
from docstore_kit.auth import InternalAuth
from docstore_kit.consistency import ConsistencyChecker, ProcessedEvents, outbox_checker
from docstore_kit.http_transport import async_client
from docstore_kit.s3 import make_s3_client
from docstore_messaging.dead_letters import DeadLetters
from docstore_messaging.tracing import propagate_to_request
from docstore_messaging.unit_of_work import UnitOfWork
from docstore_quota.adapters import metrics
from docstore_quota.adapters.reconciliation import ReportRepository, S3Inventory
from docstore_quota.adapters.repositories import repositories
from docstore_quota.service_layer.accounts import Accounts
from docstore_quota.service_layer.admin_actions import AdminActions
from docstore_quota.service_layer.dead_letters import DeadLetterBrowser
from docstore_quota.service_layer.ledger import Ledger
from docstore_quota.service_layer.ports import Repos
from docstore_quota.service_layer.reconciliation import Reconciler
from docstore_quota.service_layer.reservations import Reservations
from docstore_quota.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    runtime: ServiceRuntime
    uow: UnitOfWork[Repos]
    ledger: Ledger
    reservations: Reservations
    plans: AccountPlans
    """Metadata's answer about an account's plan, asked before a grant is refused."""
    accounts: Accounts
    reconciler: Reconciler
    dead_letters: DeadLetterBrowser
    admin: AdminActions
    """Replays and reconciliations an administrator asks for, recorded for the audit trail."""
    consistency: ConsistencyChecker
    """The outbox check: notify applied every mail-owing event of quota's (issue 32)."""


def bootstrap(settings: Settings, *, s3: Any = None) -> Services:
    """Build the service; `s3` replaces the S3 client built from `settings` (tests)."""
    runtime = ServiceRuntime(settings)
    bound = repositories(runtime.db)
    uow: UnitOfWork[Repos] = runtime.events.unit_of_work(bound)
    reads = bound(None)
    caps, consumer = settings.caps(), settings.service
    ledger = Ledger(uow, caps, settings.counting_rule(), tuple(settings.warning_percents), consumer=consumer)
    plans = AccountPlans(
        async_client(
            base_url=settings.accounts_url,
            timeout=2.0,
            auth=InternalAuth.from_settings(settings).client_auth("accounts"),
            event_hooks={"request": [propagate_to_request]},  # the call joins the grant's trace
        )
    )
    reservations = Reservations(uow, caps, settings.reservation_grace(), plans=plans)
    accounts = Accounts(uow, reads, reservations, totals_by_plan=lambda: metrics.refresh(reads.usage))
    inventory = S3Inventory(
        s3 or make_s3_client(settings), bucket=settings.bucket_name(settings.region), region=settings.region
    )
    reconciler = Reconciler(reads.usage, inventory, ReportRepository(runtime.db))
    # The system-wide dead-letter browser of the admin dashboard; replays go out through this runtime.
    dead_letters = DeadLetters(
        settings.kafka_bootstrap_servers,
        settings.kafka_topic_prefix,
        publish=runtime.events.publish,
        timeout=settings.dlq_read_timeout_seconds,
        client_id="docstore-quota-dlq",
        security=runtime.events.kafka_security,
    )

    browser = DeadLetterBrowser(dead_letters)
    runtime.background("quota-metrics", lambda: metrics.run_refresher(reads.usage, settings.metrics_interval_seconds))
    if settings.reservation_purge_interval_seconds > 0:
        interval = settings.reservation_purge_interval_seconds
        runtime.background("quota-reservation-purge", lambda: reservations.purge_every(interval))
    if settings.reconcile_interval_seconds > 0:
        every = settings.reconcile_interval_seconds
        runtime.background("quota-reconciliation", lambda: reconciler.run_every(every))

    return Services(
        settings=settings,
        runtime=runtime,
        uow=uow,
        ledger=ledger,
        reservations=reservations,
        plans=plans,
        accounts=accounts,
        reconciler=reconciler,
        dead_letters=browser,
        admin=AdminActions(uow, browser, reconciler),
        consistency=consistency_on(settings, runtime),
    )


OUTBOX_CONSUMERS = {QuotaWarningReached: ("notify",), QuotaExceeded: ("notify",), QuotaRestored: ("notify",)}
"""Quota's events notify applies every time (the mails an account is owed), for the outbox check."""


def consistency_on(settings: Settings, runtime: ServiceRuntime) -> ConsistencyChecker:
    """Quota's published events against notify's processed-event records; run every
    `consistency_period_seconds` and from the admin API."""
    notify = ProcessedEvents.at(
        "notify", settings.notify_url, InternalAuth.from_settings(settings).client_auth("notify")
    )
    prefix = settings.kafka_topic_prefix
    checker = outbox_checker(
        "quota.outbox",
        runtime.db,
        runtime.events.outbox,
        {event.topic(prefix): [notify] for event in OUTBOX_CONSUMERS},
        settings,
    )
    if settings.consistency_period_seconds > 0:
        period = settings.consistency_period_seconds
        runtime.background("quota-consistency", lambda: checker.run_forever(period))
    return checker
