"""Links whose right ended, revoked from metadata's and accounts' events: a document went to the
trash or was deleted, a share ended or became view-only, an account was deleted. Each applied once
per event (a processed-event record in the same transaction), each revoked link with its
`share.link-revoked` through the outbox.

These events only make the owner's list show the links ended (and notify mail the owner): a link
already gives nothing from the moment the right ends, since every use asks metadata first
(`Links._usable`)."""

from __future__ import annotations

from docstore_events import AccountDeleted, FileDeleted, FileTrashed, ShareCreated
from docstore_events.activity import ShareRevoked
from docstore_events.base import Event
from docstore_links.adapters.repositories import Repositories
from docstore_links.service_layer.links import Doc, Tx, revoke_links
from docstore_messaging.unit_of_work import UnitOfWork

CONSUMER = "links"
ENDING: tuple[type[Event], ...] = (FileTrashed, FileDeleted, ShareRevoked, ShareCreated, AccountDeleted)
"""The events that can end a link's right."""


class Revocations:
    def __init__(self, uow: UnitOfWork[Repositories]) -> None:
        self.uow = uow

    async def apply_once(self, event_id: str, event: Event) -> bool:
        """Revoke the links `event` ended, once per `event_id`; False when it was applied already."""

        async def work(tx: Tx) -> None:
            links, reason, actor = await ended_by(tx, event)
            await revoke_links(tx, links, reason, actor)

        return await self.uow.run_once(consumer=CONSUMER, event_id=event_id, work=work)


async def ended_by(tx: Tx, event: Event) -> tuple[list[Doc], str, str | None]:
    """The live links `event` ends, why, and who did it."""
    links = tx.repos.links
    if isinstance(event, FileTrashed):
        return await links.live_of_document(event.document_id), "document-trashed", None
    if isinstance(event, FileDeleted):
        rows = await links.live_of_document(event.document_id) if event.whole_document else []
        return rows, "document-deleted", None
    if isinstance(event, ShareRevoked):
        rows = await links.live_made_by(event.grantee_id, event.document_id)
        return rows, "share-removed", event.account_id
    if isinstance(event, ShareCreated):
        # A share made (or made again) view-only: the links its holder made end with the right.
        rows = [] if event.permission == "edit" else await links.live_made_by(event.grantee_id, event.document_id)
        return rows, "share-removed", event.account_id
    if isinstance(event, AccountDeleted):
        rows = await links.live_of_owner(event.account_id)
        seen = {row["_id"] for row in rows}
        rows += [row for row in await links.live_made_by(event.account_id) if row["_id"] not in seen]
        return rows, "account-deleted", event.account_id
    return [], "revoked", None
