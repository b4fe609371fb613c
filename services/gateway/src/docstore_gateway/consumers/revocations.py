"""The gateway's subscriptions: `account.sessions-revoked` (from accounts) ends every login
of the account before the event's time; `account.app-password-revoked` makes the gateway check
the account's app passwords again before trusting them. Delivered by the gateway's `EventRuntime` (consumer
group `gateway`, FastStream subscriber with AckPolicy.NACK_ON_ERROR, retries and a dead-letter
topic, as every service's); the use case runs once per event id."""

from __future__ import annotations

from docstore_events.credentials import AccountAppPasswordRevoked, AccountSessionsRevoked
from docstore_events.envelope import Envelope
from docstore_gateway.service_layer.devices import Revocations
from docstore_messaging.runtime import EventRuntime


def register(events: EventRuntime, revocations: Revocations) -> None:
    """Subscribe the revocation use case (before the runtime starts)."""

    async def handle(envelope: Envelope[AccountSessionsRevoked]) -> bool:
        return await revocations.sessions_revoked(envelope.id, envelope.data)

    events.subscribe(AccountSessionsRevoked, handle)

    async def handle_app_password(envelope: Envelope[AccountAppPasswordRevoked]) -> bool:
        return await revocations.app_password_revoked(envelope.id, envelope.data)

    events.subscribe(AccountAppPasswordRevoked, handle_app_password)
