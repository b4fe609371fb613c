"""What each person gets: their choice per kind of notice, their notification history, and the
unsubscribe links that change the choice without a login."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import structlog

from docstore_events.activity import NotificationPreferencesChanged
from docstore_messaging.unit_of_work import Transaction, UnitOfWork
from docstore_notify.adapters.notification_log import Page
from docstore_notify.adapters.repositories import Repositories
from docstore_notify.domain.notices import unsubscribe_changes
from docstore_notify.domain.unsubscribe import UnsubscribeLinks, well_formed

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Subscription:
    """What an unsubscribe link names: an account and a kind of mail."""

    account_id: str
    kind: str


class Subscriptions:
    """Per account and kind of notice: instant, digest or off (see `domain.notices`).

    `reads` are the repositories outside any transaction."""

    def __init__(self, uow: UnitOfWork[Repositories], reads: Repositories, links: UnsubscribeLinks) -> None:
        self.uow = uow
        self.reads = reads
        self.links = links

    async def of(self, account_id: str) -> dict[str, str]:
        return await self.reads.preferences.of(account_id)

    async def choose(self, account_id: str, changes: dict[str, str]) -> dict[str, str]:
        """Change the kinds in `changes` (the others stay); returns every kind's mode."""

        async def work(tx: Transaction[Repositories]) -> dict[str, str]:
            before = await tx.repos.preferences.of(account_id)
            after = await tx.repos.preferences.set(account_id, changes)
            _record_changes(tx, account_id, before, after, via="settings")
            return after

        return await self.uow.run(work)

    async def history(self, account_id: str, *, limit: int, cursor: str | None) -> Page:
        """`account_id`'s notifications, newest first; raises `InvalidCursor` (422)."""
        return await self.reads.notifications.page(account_id, limit=limit, cursor=cursor)

    async def resolve(self, token: str) -> Subscription | None:
        """What an unsubscribe link stops; None for a token this service did not sign (with
        its current secret) or that is malformed (control or non-ASCII characters, ...)."""
        if not well_formed(token):
            return None
        found = await self.reads.unsubscribe_tokens.find(token)
        if found is None or not self.links.genuine(token, *found):
            return None
        return Subscription(*found)

    async def unsubscribe(self, token: str) -> Subscription | None:
        """Turn off what the link names (idempotent); None, changing nothing, for a bad link."""
        found = await self.resolve(token)
        if found is None:
            return None

        async def work(tx: Transaction[Repositories]) -> None:
            current = await tx.repos.preferences.of(found.account_id)
            after = await tx.repos.preferences.set(found.account_id, unsubscribe_changes(found.kind, current))
            _record_changes(tx, found.account_id, current, after, via="unsubscribe-link")

        await self.uow.run(work)
        log.info("notifications_unsubscribed", kind=found.kind)
        return found


def _record_changes(
    tx: Transaction[Repositories],
    account_id: str,
    before: dict[str, str],
    after: dict[str, str],
    *,
    via: Literal["settings", "unsubscribe-link"],
) -> None:
    """Emit `notification.preferences-changed` (for the audit trail) with each preference whose
    mode changed, named as the API names it (`quota_warning`); nothing when none changed."""
    changed = {kind.replace(".", "_"): mode for kind, mode in after.items() if before.get(kind) != mode}
    if changed:
        tx.emit(
            NotificationPreferencesChanged(
                account_id=account_id,
                changes=changed,
                via=via,
            )
        )
