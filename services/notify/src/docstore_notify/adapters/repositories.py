"""Notify's repositories for one transaction (or none), as the unit of work hands them out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_notify.adapters.follows import FollowRepository
from docstore_notify.adapters.notification_log import NotificationLog
from docstore_notify.adapters.preferences import PreferenceRepository
from docstore_notify.adapters.recipients import RecipientRepository
from docstore_notify.adapters.unsubscribe import UnsubscribeTokens
from docstore_notify.adapters.webhooks import DeliveryQueue, WebhookRepository


@dataclass(frozen=True)
class Repositories:
    recipients: RecipientRepository
    notifications: NotificationLog
    preferences: PreferenceRepository
    follows: FollowRepository
    unsubscribe_tokens: UnsubscribeTokens
    webhooks: WebhookRepository
    deliveries: DeliveryQueue


def bound_to(db: AsyncDatabase[Any]) -> Callable[[AsyncClientSession | None], Repositories]:
    """What `EventRuntime.unit_of_work` takes: the repositories bound to a session (None: to no
    transaction, for reads that need no consistency with a write)."""

    def repositories(session: AsyncClientSession | None) -> Repositories:
        return Repositories(
            recipients=RecipientRepository(db, session),
            notifications=NotificationLog(db, session),
            preferences=PreferenceRepository(db, session),
            follows=FollowRepository(db, session),
            unsubscribe_tokens=UnsubscribeTokens(db, session),
            webhooks=WebhookRepository(db, session),
            deliveries=DeliveryQueue(db, session),
        )

    return repositories


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    await NotificationLog(db).ensure_indexes()
    await FollowRepository(db).ensure_indexes()
    await WebhookRepository(db).ensure_indexes()
    await DeliveryQueue(db).ensure_indexes()
