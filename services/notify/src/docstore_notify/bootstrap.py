"""The composition root of the notify service: settings in, every collaborator built and wired.

Nothing connects here: the MongoDB client connects on first use, SES is called by the
lifespan (`Services.start`). Tests pass overrides (`bootstrap(settings, runtime=...)`) instead
of patching attributes afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from docstore_kit.app import ServiceRuntime
from docstore_kit.auth import InternalAuth
from docstore_kit.http_transport import async_client
from docstore_messaging.unit_of_work import UnitOfWork
from docstore_notify.adapters.accounts_addresses import AccountsAddresses
from docstore_notify.adapters.repositories import Repositories, bound_to, ensure_indexes
from docstore_notify.adapters.secret_box import SecretBox, parse_keys
from docstore_notify.adapters.ses import SesMailer, make_ses_client
from docstore_notify.adapters.webhook_http import Resolver, WebhookClient, system_resolve
from docstore_notify.domain.unsubscribe import UnsubscribeLinks
from docstore_notify.domain.webhooks import parse_schedule
from docstore_notify.service_layer.notifier import Notifier
from docstore_notify.service_layer.subscriptions import Subscriptions
from docstore_notify.service_layer.webhooks import Webhooks
from docstore_notify.settings import Settings


@dataclass
class Services:
    settings: Settings
    runtime: ServiceRuntime
    uow: UnitOfWork[Repositories]
    mailer: SesMailer
    notifier: Notifier
    subscriptions: Subscriptions
    webhooks: Webhooks

    async def start(self) -> None:
        """Create the indexes, verify the sender (in development) and register the sweeper and
        the digest job; then `async with self.runtime` runs them."""
        settings = self.settings
        await ensure_indexes(self.runtime.db)
        if settings.verify_sender_identity:
            await self.mailer.verify_sender(settings.sender_address())
        notifier = self.notifier
        self.runtime.background("notify-sweeper", lambda: notifier.run_sweeper(settings.sweep_interval_seconds))
        self.runtime.background("notify-digests", lambda: notifier.run_digests(settings.digest_interval_seconds))
        webhooks = self.webhooks
        self.runtime.background("notify-webhooks", lambda: webhooks.run(settings.webhook_poll_seconds))


def bootstrap(
    settings: Settings,
    *,
    runtime: ServiceRuntime | None = None,
    mailer: SesMailer | None = None,
    resolve: Resolver = system_resolve,
) -> Services:
    """`resolve`: how webhook hosts are resolved (tests rebind names with their own)."""
    runtime = runtime or ServiceRuntime(settings)
    if mailer is None:
        mailer = SesMailer(
            make_ses_client(
                region=settings.aws_default_region,
                connect_timeout=settings.ses_connect_timeout_seconds,
                read_timeout=settings.ses_read_timeout_seconds,
            ),
            settings.mail_from,
        )
    repositories = bound_to(runtime.db)
    uow = runtime.events.unit_of_work(repositories)
    reads = repositories(None)
    links = UnsubscribeLinks(secret=settings.unsubscribe_secret, base_url=settings.gateway_url)
    metadata = AccountsAddresses(
        async_client(
            base_url=settings.accounts_url,
            timeout=5.0,
            auth=InternalAuth.from_settings(settings).client_auth("accounts"),
        )
    )
    notifier = Notifier(
        uow,
        reads,
        mailer,
        links,
        resend_after=timedelta(seconds=settings.resend_after_seconds),
        max_attempts=settings.max_send_attempts,
        coalesce_window=timedelta(seconds=settings.coalesce_window_seconds),
        consumer=settings.service,
        addresses=metadata.address,
    )
    allow_private = bool(settings.webhook_allow_private_targets)
    webhooks = Webhooks(
        uow,
        reads,
        SecretBox(parse_keys(settings.webhook_secrets_keys)),
        WebhookClient(
            allow_private=allow_private,
            connect_timeout=settings.webhook_connect_timeout_seconds,
            total_timeout=settings.webhook_timeout_seconds,
            resolve=resolve,
        ),
        notifier,
        allow_private=allow_private,
        schedule=parse_schedule(settings.webhook_retry_schedule_seconds),
        lease=timedelta(seconds=settings.webhook_lease_seconds),
        disable_after=settings.webhook_disable_after_failures,
        concurrency=settings.webhook_concurrency,
    )
    return Services(
        webhooks=webhooks,
        settings=settings,
        runtime=runtime,
        uow=uow,
        mailer=mailer,
        notifier=notifier,
        subscriptions=Subscriptions(uow, reads, links),
    )
