"""Revoking links in another use case's transaction: a document left, a share ended, the owner
stopped letting editors make links, an account was deleted. Each revoked link emits
`share.link-revoked` (keyed by the document's owner: their trail, their inbox)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from docstore_events import ShareLinkRevoked
from docstore_messaging.unit_of_work import Transaction
from docstore_metadata.adapters.repositories import Repositories

Tx = Transaction[Repositories]
Doc = dict[str, Any]


async def revoke_links(tx: Tx, links: list[Doc], reason: str, actor_id: str | None = None) -> int:
    """Revoke `links` in the caller's transaction, one `share.link-revoked` each (to the owner's
    trail and, for the reasons notify mails about, to the owner's inbox); how many."""
    now = datetime.now(UTC)
    killed = 0
    for link in links:
        if await tx.repos.links.revoke(link["_id"], reason=reason, now=now):
            killed += 1
            tx.emit(
                ShareLinkRevoked(
                    account_id=link["owner_id"],
                    link_id=link["_id"],
                    document_id=link["document_id"],
                    reason=reason,
                    actor_id=actor_id,
                    document_name=str(link.get("document_name") or ""),
                    created_by=str(link.get("created_by") or ""),
                )
            )
    return killed


async def revoke_links_made_by(tx: Tx, document_id: str, created_by: str, reason: str, actor_id: str) -> int:
    """A share ended (or lost its right to make links): the links its holder made on the document die."""
    return await revoke_links(tx, await tx.repos.links.live_made_by(created_by, document_id), reason, actor_id)
