"""Public share link use cases: create, list, extend, revoke, the link policy, resolve and redeem
(the gateway's public page), killing a document's links when it leaves, and the sweeper.

The rules are pure (`domain/links.py`); this module reads what they need and runs each change in
one transaction with its `share.link-*` events. Every event is keyed by the document's owner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from docstore_events import (
    ShareLinkCreated,
    ShareLinkExpired,
    ShareLinkExpiryNeared,
    ShareLinkExtended,
    ShareLinkRevoked,
    ShareLinkUsed,
)
from docstore_kit.pagination import cursor_offset, offset_cursor
from docstore_kit.passwords import burn_verification, hash_password, password_matches
from docstore_links.adapters.metadata import MetadataClient, Serve
from docstore_links.adapters.repositories import Repositories
from docstore_links.domain import links as rules
from docstore_links.domain.links import LinkGone, LinkOptions, LinkPasswordRefused
from docstore_links.domain.rights import (
    EmailNotVerified,
    Grant,
    Served,
    VersionNotFound,
    owned,
    visible,
)
from docstore_messaging.tracing import loop_span
from docstore_messaging.unit_of_work import Transaction, UnitOfWork

Tx = Transaction[Repositories]
Doc = dict[str, Any]
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Created:
    """A new link and its token (shown this once, never stored)."""

    link: Doc
    token: str


@dataclass(frozen=True)
class Resolved:
    """What the public page shows for a token, before any download is counted."""

    link: Mapping[str, Any]
    name: str
    size: int
    content_type: str
    version: int
    preview_url: str | None


@dataclass(frozen=True)
class Redeemed:
    url: str
    expires_in: int
    name: str


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


def access_of(account_id: str, link: Mapping[str, Any], grant: Grant | None) -> str | None:
    """`account_id`'s access now to the document of `link`: "owner", the permission of its share,
    or None (none)."""
    if account_id == link["owner_id"]:
        return "owner"
    return grant.access if grant is not None and grant.access in ("view", "edit") else None


def ended_because(link: Mapping[str, Any], grant: Grant | None) -> str:
    """Why a link whose right ended ended, for its `share.link-revoked`."""
    if grant is None:
        return "document-deleted"
    if not grant.accounts_active:
        return "account-deleted"
    return "document-trashed" if grant.trashed else "share-removed"


class Links:
    def __init__(
        self,
        uow: UnitOfWork[Repositories],
        reads: Repositories,
        metadata: MetadataClient,
        *,
        signed_url_seconds: int = rules.SIGNED_URL_SECONDS,
    ) -> None:
        """`reads`: repositories outside any transaction; `metadata` answers what an account may
        do with a document now, and signs the URLs a link hands out."""
        self.uow = uow
        self.reads = reads
        self.metadata = metadata
        self.signed_url_seconds = min(signed_url_seconds, rules.SIGNED_URL_SECONDS)

    # --- the owner's side -------------------------------------------------------------------

    async def create(self, account_id: str, document_id: str, options: LinkOptions) -> Created:
        """A new link to a document the caller owns, or may edit when the owner allows editors to."""
        found = visible(await self.metadata.grant(document_id, account_id, version=options.version), document_id)
        policy = await self.reads.links.policy(document_id)
        rules.may_create(found.access, editors_may_create_links=bool(policy.get("editors_may_create_links")))
        if not found.verified:
            raise EmailNotVerified("create public links")
        checked = rules.check_options(options)
        now = datetime.now(UTC)
        rules.expiry_from(now, checked.expires_in_days)  # refuse a bad expiry before hashing anything
        if checked.version is not None and found.served is None:
            raise VersionNotFound(checked.version)
        if found.trashed:
            raise rules.LinkGone("document-gone")
        # argon2 takes ~100 ms of CPU: off the event loop, as for account passwords.
        hashed = await asyncio.to_thread(hash_password, checked.password) if checked.password else None
        token = rules.new_token()
        link = rules.new_link(
            document=found.document(),
            created_by=account_id,
            options=checked,
            token=token,
            password_hash=hashed,
            now=now,
        )

        async def work(tx: Tx) -> None:
            await tx.repos.links.add(link)
            tx.emit(
                ShareLinkCreated(
                    account_id=link["owner_id"],
                    link_id=link["_id"],
                    document_id=document_id,
                    document_name=link["document_name"],
                    version=link["version"],
                    expires_at=link["expires_at"],
                    protected=hashed is not None,
                    download_limit=link["download_limit"],
                    actor_id=account_id,
                )
            )

        await self.uow.run(work)
        return Created(link, token)

    async def of_document(
        self, account_id: str, document_id: str, *, cursor: str | None, limit: int
    ) -> tuple[list[Doc], str | None]:
        """One page of a document's links: for its owner, or an editor when the owner allows
        editors to create links (then the editor sees them all: they manage them together)."""
        skip = cursor_offset(cursor)
        found = visible(await self.metadata.grant(document_id, account_id), document_id)
        policy = await self.reads.links.policy(document_id)
        rules.may_create(found.access, editors_may_create_links=bool(policy.get("editors_may_create_links")))
        rows = await self.reads.links.of_document(document_id, skip, limit + 1)
        return rows[:limit], offset_cursor(skip + limit) if len(rows) > limit else None

    async def mine(self, account_id: str, *, cursor: str | None, limit: int) -> tuple[list[Doc], str | None]:
        """One page of the links on the caller's documents and those the caller created."""
        skip = cursor_offset(cursor, limit=10_000)
        rows = await self.reads.links.of_account(account_id, skip, limit + 1)
        page = []
        for row in rows[:limit]:  # a creator who lost the right to manage a link no longer sees it
            try:
                page.append(
                    await self._manageable(self.reads, account_id, row["_id"]) if row["owner_id"] != account_id else row
                )
            except rules.LinkNotFound:
                continue
        return page, offset_cursor(skip + limit) if len(rows) > limit else None

    async def _manageable(self, repos: Repositories, account_id: str, link_id: str) -> Doc:
        """The link if the caller may manage it now (`rules.may_manage`): current access, not only `created_by`."""
        link = await repos.links.get(link_id)
        if link is None or account_id not in (link["owner_id"], link["created_by"]):
            raise rules.LinkNotFound()
        grant = (
            None if account_id == link["owner_id"] else await self.metadata.grant(str(link["document_id"]), account_id)
        )
        access = access_of(account_id, link, grant)
        policy = await repos.links.policy(str(link["document_id"]))
        allowed = bool(policy.get("editors_may_create_links"))
        return dict(rules.may_manage(link, account_id, access, editors_may_create_links=allowed))

    async def get(self, account_id: str, link_id: str) -> Doc:
        return await self._manageable(self.reads, account_id, link_id)

    async def extend(self, account_id: str, link_id: str, days: int) -> Doc:
        """Move the expiry to `days` from now (1..90). The owner or the link's creator."""

        async def work(tx: Tx) -> Doc:
            link = await self._manageable(tx.repos, account_id, link_id)
            now = datetime.now(UTC)
            expires_at = rules.check_extend(link, now, days)
            remind_again = rules.reminder_reset(expires_at, now)
            if not await tx.repos.links.extend(link_id, expires_at=expires_at, remind_again=remind_again):
                raise LinkGone("revoked")
            link.update(expires_at=expires_at, expired_announced=False)
            tx.emit(
                ShareLinkExtended(
                    account_id=link["owner_id"],
                    link_id=link_id,
                    document_id=link["document_id"],
                    expires_at=expires_at,
                    actor_id=account_id,
                )
            )
            return link

        return await self.uow.run(work)

    async def revoke(self, account_id: str, link_id: str) -> None:
        """Turn a link off for good (idempotent: revoking a revoked link changes nothing)."""

        async def work(tx: Tx) -> None:
            link = await self._manageable(tx.repos, account_id, link_id)
            if await tx.repos.links.revoke(link_id, reason="revoked", now=datetime.now(UTC)):
                tx.emit(
                    ShareLinkRevoked(
                        account_id=link["owner_id"],
                        link_id=link_id,
                        document_id=link["document_id"],
                        reason="revoked",
                        actor_id=account_id,
                    )
                )

        await self.uow.run(work)

    async def policy(self, account_id: str, document_id: str) -> Doc:
        """Whether editors of the document may create links: for anyone it is shared with, so an
        editor's app knows whether to offer a link, and for its owner's switch."""
        visible(await self.metadata.grant(document_id, account_id), document_id)
        policy = await self.reads.links.policy(document_id)
        return {"document_id": document_id, "editors_may_create_links": bool(policy.get("editors_may_create_links"))}

    async def set_policy(self, account_id: str, document_id: str, *, editors_may_create_links: bool) -> Doc:
        """Whether editors of the document may create (and then list) its links. Owner only."""
        owned(await self.metadata.grant(document_id, account_id), document_id, "choose who may create links to it")

        async def work(tx: Tx) -> None:
            await tx.repos.links.set_policy(document_id, account_id, editors_may_create_links=editors_may_create_links)
            if not editors_may_create_links:
                # The right ended: every link an editor made on the document ends with it.
                made = await tx.repos.links.live_of_document(document_id)
                by_editors = [link for link in made if link["created_by"] != link["owner_id"]]
                await revoke_links(tx, by_editors, "links-not-allowed", account_id)

        await self.uow.run(work)
        return {"document_id": document_id, "editors_may_create_links": editors_may_create_links}

    # --- the public side (the gateway's page) -------------------------------------------------

    async def _usable(self, token: str, now: datetime, serve: Serve) -> tuple[Mapping[str, Any], Grant, Served]:
        """The link of `token`, its document's grant and the version it gives, after every check but
        the password; `LinkNotFound` / `LinkGone` otherwise. Metadata is asked at each use, as the
        link's creator: a link gives no more than its creator may read now, and nothing once the
        owner's or the creator's account is deleted. A link found dead that way is revoked here
        too (its owner's list shows it ended), whether or not the event that ended it came yet."""
        link = await self.reads.links.by_digest(rules.token_digest(token))
        if link is None:
            raise rules.LinkNotFound()
        state = rules.state_of(link, now)
        if state != "active":
            raise LinkGone(state)
        grant = await self.metadata.grant(
            str(link["document_id"]),
            str(link["created_by"]),
            version=link.get("version"),
            serve=serve,
            url_seconds=self.signed_url_seconds,
        )
        creator_access = access_of(str(link["created_by"]), link, grant)
        document = None if grant is None else grant.document()
        active = grant is not None and grant.accounts_active
        try:
            rules.check_usable(link, document, now, creator_access=creator_access, accounts_active=active)
        except LinkGone:
            await self.end(link, ended_because(link, grant))
            raise
        assert grant is not None  # check_usable refused otherwise
        if grant.served is None:  # a pinned version pruned since
            raise LinkGone("document-gone")
        return link, grant, grant.served

    async def end(self, link: Mapping[str, Any], reason: str) -> None:
        """Revoke one link whose right ended (idempotent)."""

        async def work(tx: Tx) -> None:
            await revoke_links(tx, [dict(link)], reason)

        await self.uow.run(work)

    async def resolve(self, token: str) -> Resolved:
        """What the public page shows; counts nothing."""
        link, grant, served = await self._usable(token, datetime.now(UTC), "page")
        return Resolved(
            link=link,
            name=grant.name,
            size=served.size,
            content_type=served.content_type,
            version=served.number,
            # A protected link shows nothing of the file before its password: no thumbnail either.
            preview_url=None if rules.needs_password(link) else served.preview_url,
        )

    async def redeem(self, token: str, password: str | None) -> Redeemed:
        """Every check, then the password, then one download counted atomically (a limit of N
        gives exactly N, however many redeem at once), `share.link-used`, and a signed URL that
        lives at most 60 s and downloads the file under its name."""
        link, grant, served = await self._usable(token, datetime.now(UTC), "download")
        if rules.needs_password(link):
            if not password:
                raise LinkPasswordRefused(given=False)
            if not await asyncio.to_thread(password_matches, str(link["password_hash"]), password):
                raise LinkPasswordRefused(given=True)
        elif password:
            await asyncio.to_thread(burn_verification, password)  # same timing with or without one

        async def work(tx: Tx) -> Doc:
            now = datetime.now(UTC)
            counted = await tx.repos.links.count_use(
                link["_id"], limited=link.get("download_limit") is not None, now=now
            )
            if counted is None:  # the last use went to another request, or it died meanwhile
                raise LinkGone(rules.state_of(await tx.repos.links.get(link["_id"]) or link, now))
            limit = counted.get("download_limit")
            tx.emit(
                ShareLinkUsed(
                    account_id=counted["owner_id"],
                    link_id=counted["_id"],
                    document_id=counted["document_id"],
                    document_name=grant.name,
                    version=served.number,
                    downloads=int(counted["downloads"]),
                    download_limit=limit,
                    exhausted=limit is not None and int(counted["downloads"]) >= int(limit),
                )
            )
            return counted

        await self.uow.run(work)
        assert served.download_url is not None, "metadata signs the URL of a download it grants"
        return Redeemed(url=served.download_url, expires_in=self.signed_url_seconds, name=grant.name)

    # --- the sweeper ------------------------------------------------------------------------

    async def sweep(self, *, batch: int = 200) -> tuple[int, int]:
        """One round: `share.link-expiry-neared` for each live link that came within 24 h of its
        expiry, `share.link-expired` for each that passed it; each once per link (per extension),
        whichever replica gets there first (a conditional update decides). (reminded, expired)."""
        now = datetime.now(UTC)
        reminded = expired = 0
        for link in await self.reads.links.nearing_expiry(
            now, now + rules.EXPIRY_NEAR + timedelta(milliseconds=1), batch
        ):
            if rules.expiry_near(link, now) and await self._announce(link, "expiry_reminded", near=True):
                reminded += 1
        for link in await self.reads.links.past_expiry(now, batch):
            if rules.newly_expired(link, now) and await self._announce(link, "expired_announced", near=False):
                expired += 1
        return reminded, expired

    async def _announce(self, link: Mapping[str, Any], flag: str, *, near: bool) -> bool:
        async def work(tx: Tx) -> bool:
            if not await tx.repos.links.mark(link["_id"], flag, link["expires_at"]):
                return False  # another replica announced it, or it changed meanwhile
            expires_at = link["expires_at"] if link["expires_at"].tzinfo else link["expires_at"].replace(tzinfo=UTC)
            if near:
                tx.emit(
                    ShareLinkExpiryNeared(
                        account_id=link["owner_id"],
                        link_id=link["_id"],
                        document_id=link["document_id"],
                        document_name=link["document_name"],
                        expires_at=expires_at,
                    )
                )
            else:
                tx.emit(
                    ShareLinkExpired(
                        account_id=link["owner_id"],
                        link_id=link["_id"],
                        document_id=link["document_id"],
                        expires_at=expires_at,
                    )
                )
            return True

        # Each announcement starts a trace of its own (a sweep round that did work).
        with loop_span("links sweep", link_id=str(link["_id"])):
            return bool(await self.uow.run(work))


class LinkSweeper:
    """The background loop of every links replica that runs `Links.sweep` every `interval`
    seconds; idempotent, so any number of replicas may run it at once."""

    def __init__(self, links: Links, *, interval: float) -> None:
        self.links = links
        self.interval = interval

    async def run(self) -> None:
        """Until cancelled (a background task of the runtime, `Services.prepare`)."""
        while True:
            try:
                reminded, expired = await self.links.sweep()
                if reminded or expired:
                    log.info("links_swept", reminded=reminded, expired=expired)
            except asyncio.CancelledError:
                raise
            except Exception:  # MongoDB away: the links stay unannounced, try again next round
                log.exception("link_sweep_failed")
            await asyncio.sleep(self.interval)
