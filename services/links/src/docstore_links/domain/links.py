"""Public share links: anyone holding a link's token may download one document (or one of its
versions) without an account, within the link's limits.

Pure rules: who may create a link, the options' bounds, a link's state, the checks a download
passes before a signed URL is handed out, and the sweeper's two moments (expiry near, expired).
A link row is a plain mapping as stored (`adapters/links.py`); the token itself is never in it,
only its digest (`token_digest`).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from docstore_kit.errors import DomainError, Forbidden, Invalid, NotFound

DEFAULT_EXPIRY_DAYS = 7
MAX_EXPIRY_DAYS = 90
MAX_NOTE = 500
MAX_PASSWORD = 1024
EXPIRY_NEAR = timedelta(hours=24)
"""The sweeper reminds the owner once a live link has this long or less left."""
SIGNED_URL_SECONDS = 60
"""A redeemed link's signed S3 URL lives at most this long: enough for a browser to follow the
redirect, too short to pass around."""
TOKEN_BYTES = 32

State = Literal["active", "expired", "revoked", "exhausted"]
RevokeReason = Literal[
    "revoked",
    "document-trashed",
    "document-deleted",
    "share-removed",
    "links-not-allowed",
    "account-deleted",
]
"""Why a link stopped working before its expiry. `share-removed`: its creator's share ended (or
became view-only); `links-not-allowed`: the owner stopped letting editors create links;
`account-deleted`: the owner's or the creator's account was deleted (issue 33)."""


# --- refusals ---------------------------------------------------------------------------------


class LinkNotFound(NotFound):
    """No such link, or not one the caller may see (both 404, alike). A token nobody holds is
    answered the same way, so guessing learns nothing."""

    problem: ClassVar[str] = "link-not-found"
    title: ClassVar[str] = "No such link"

    def __init__(self) -> None:
        super().__init__("This link does not exist. Check that it was copied whole.")


class LinkGone(DomainError):
    """The link existed but no longer gives the file (410): expired, revoked, used up, or its
    document went to the trash or was deleted. `reason` says which, for programs."""

    status: ClassVar[int] = 410
    problem: ClassVar[str] = "link-gone"
    title: ClassVar[str] = "Link no longer works"

    MESSAGES: ClassVar[dict[str, str]] = {
        "expired": "This link has expired. Ask the person who shared it for a new one.",
        "revoked": "This link has been turned off by the person who shared it.",
        "exhausted": "This link has reached its download limit. Ask the person who shared it for a new one.",
        "document-gone": "The file behind this link is no longer shared.",
    }

    def __init__(self, reason: str) -> None:
        super().__init__(self.MESSAGES.get(reason, self.MESSAGES["revoked"]))
        self.reason = reason

    def extra(self) -> dict[str, Any]:
        return {"reason": self.reason}


class LinkPasswordRefused(DomainError):
    """A protected link asked for its password and got none, or a wrong one (401)."""

    status: ClassVar[int] = 401
    problem: ClassVar[str] = "link-password"
    title: ClassVar[str] = "Password needed"

    def __init__(self, *, given: bool) -> None:
        super().__init__(
            "That password is not right. Check it with the person who shared the link."
            if given
            else "This link is protected by a password. Enter it to download the file."
        )
        self.given = given

    def extra(self) -> dict[str, Any]:
        return {"password_given": self.given}


class InvalidLink(Invalid):
    """A link option out of bounds; `field` names it."""

    problem: ClassVar[str] = "invalid-link"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field

    def extra(self) -> dict[str, Any]:
        return {"field": self.field}


class LinksNotAllowed(Forbidden):
    """An editor may create links only when the owner allows it; a viewer never (403)."""

    problem: ClassVar[str] = "links-not-allowed"

    def __init__(self, access: str) -> None:
        super().__init__(
            "Only the owner of this document can create links to it; the owner has not allowed editors to."
            if access == "edit"
            else "Only the owner of this document, or an editor the owner allows, can create links to it."
        )


# --- tokens -----------------------------------------------------------------------------------


def new_token() -> str:
    """A link's secret: 32 random bytes (256 bits), URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """What is stored and looked up instead of the token: its SHA-256, hex.

    A plain hash (no salt, no slow KDF) is enough here, unlike for passwords: the token is 256
    random bits, so nobody can guess it or find it from its digest by brute force, and a salt
    would only stop the lookup by digest that resolves a link in one indexed read. Someone who
    reads the database learns digests, which open nothing."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_link_id() -> str:
    return f"lnk_{uuid.uuid4().hex}"


# --- options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkOptions:
    """What the creator asked for, as given (checked by `check_options`)."""

    version: int | None = None
    expires_in_days: int | None = None
    password: str | None = None
    download_limit: int | None = None
    note: str | None = None


def expiry_from(now: datetime, days: int | None) -> datetime:
    """`now` + `days` (None: the default 7); 1 to 90 days, else `InvalidLink`."""
    days = DEFAULT_EXPIRY_DAYS if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXPIRY_DAYS:
        raise InvalidLink(
            f"A link lasts 1 to {MAX_EXPIRY_DAYS} days (the default is {DEFAULT_EXPIRY_DAYS}).",
            field="expires_in_days",
        )
    return now + timedelta(days=days)


def check_options(options: LinkOptions) -> LinkOptions:
    """The options with the note trimmed (empty: none) and an empty password as none; `InvalidLink`
    for a note too long, a limit below one, a password too long or a version below one."""
    note = (options.note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidLink(f"A note can be at most {MAX_NOTE} characters long.", field="note")
    if options.download_limit is not None and options.download_limit < 1:
        raise InvalidLink("A download limit is at least 1 (leave it out for no limit).", field="download_limit")
    password = options.password or None
    if password is not None and len(password) > MAX_PASSWORD:
        raise InvalidLink(f"A link's password can be at most {MAX_PASSWORD} characters long.", field="password")
    if options.version is not None and options.version < 1:
        raise InvalidLink("Versions are numbered from 1.", field="version")
    return LinkOptions(options.version, options.expires_in_days, password, options.download_limit, note)


def may_create(access: str, *, editors_may_create_links: bool) -> None:
    """The owner may always create links; an editor only when the owner allows it; a viewer never."""
    if access == "owner" or (access == "edit" and editors_may_create_links):
        return
    raise LinksNotAllowed(access)


def new_link(
    *,
    document: Mapping[str, Any],
    created_by: str,
    options: LinkOptions,
    token: str,
    password_hash: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The row of a new link to `document` (checked options; `password_hash` already made)."""
    return {
        "_id": new_link_id(),
        "token_digest": token_digest(token),
        "document_id": document["_id"],
        "owner_id": document["account_id"],
        "created_by": created_by,
        "document_name": document["name"],
        "version": options.version,
        "created_at": now,
        "expires_at": expiry_from(now, options.expires_in_days),
        "password_hash": password_hash,
        "download_limit": options.download_limit,
        "downloads": 0,
        # Counted down by each download, so "a use is left" is one indexed condition (`> 0`) that
        # the conditional update checks atomically; None for an unlimited link.
        "downloads_left": options.download_limit,
        "note": options.note,
        "revoked_at": None,
        "revoked_reason": None,
        "expiry_reminded": False,
        "expired_announced": False,
    }


# --- state and checks -------------------------------------------------------------------------


def _aware(at: datetime) -> datetime:
    # MongoDB hands datetimes back naive (UTC); compare them as UTC.
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def may_manage(
    link: Mapping[str, Any] | None, account_id: str, access: str | None, *, editors_may_create_links: bool
) -> Mapping[str, Any]:
    """The link if `account_id` owns its document, or created it and may still create links to it
    now (`access` is the caller's current access to the document, None for none: an editor whose
    share ended, or became view-only, or whose owner stopped allowing editors' links, manages
    nothing); `LinkNotFound` for anyone else (404, as for a link that does not exist)."""
    if link is None:
        raise LinkNotFound()
    if account_id == link["owner_id"]:
        return link
    if account_id == link["created_by"] and access == "edit" and editors_may_create_links:
        return link
    raise LinkNotFound()


def creator_keeps_right(link: Mapping[str, Any], creator_access: str | None) -> bool:
    """Whether a link may still give its file: its creator must still hold the right it was made
    with (the owner always; an editor while a share lets them edit: a share removed or made
    view-only ends the editor's links). A link never gives more than the right of the person who
    made it (issue 33). Checked at each use, against metadata's answer of the moment (issue 36)."""
    return link["created_by"] == link["owner_id"] or creator_access == "edit"


def is_exhausted(link: Mapping[str, Any]) -> bool:
    limit = link.get("download_limit")
    return limit is not None and int(link.get("downloads", 0)) >= int(limit)


def state_of(link: Mapping[str, Any], now: datetime) -> State:
    """revoked (by a person, or its document left) > exhausted > expired > active."""
    if link.get("revoked_at") is not None:
        return "revoked"
    if is_exhausted(link):
        return "exhausted"
    if _aware(link["expires_at"]) <= now:
        return "expired"
    return "active"


def check_usable(
    link: Mapping[str, Any] | None,
    document: Mapping[str, Any] | None,
    now: datetime,
    *,
    creator_access: str | None = None,
    accounts_active: bool = True,
) -> Mapping[str, Any]:
    """The link when it can still give its file; `LinkNotFound` (no such token) or `LinkGone`
    with the reason. The password is checked apart (`check_password_given`), after these.
    `creator_access`: the creator's current share of the document (None: none); `accounts_active`:
    whether the owner's and the creator's accounts are both still active."""
    if link is None:
        raise LinkNotFound()
    state = state_of(link, now)
    if state != "active":
        raise LinkGone(state)
    if document is None or document.get("trashed"):
        raise LinkGone("document-gone")
    if not accounts_active or not creator_keeps_right(link, creator_access):
        raise LinkGone("document-gone")
    return link


def needs_password(link: Mapping[str, Any]) -> bool:
    return bool(link.get("password_hash"))


def check_extend(link: Mapping[str, Any], now: datetime, days: int) -> datetime:
    """The new expiry, `days` from now; a revoked link cannot be extended (410), an expired or
    used-up one can (the owner brings it back)."""
    if link.get("revoked_at") is not None:
        raise LinkGone("revoked")
    return expiry_from(now, days)


def reminder_reset(new_expiry: datetime, now: datetime) -> bool:
    """Whether an extension moved the expiry back out of the reminder window, so the sweeper
    reminds again when it comes near (an extension still inside the window does not)."""
    return new_expiry - now > EXPIRY_NEAR


def expiry_near(link: Mapping[str, Any], now: datetime) -> bool:
    """A live, unused-up link with 24 h or less left that has not been reminded of yet."""
    expires_at = _aware(link["expires_at"])
    return (
        link.get("revoked_at") is None
        and not link.get("expiry_reminded")
        and not is_exhausted(link)
        and now < expires_at <= now + EXPIRY_NEAR
    )


def newly_expired(link: Mapping[str, Any], now: datetime) -> bool:
    """An unrevoked link past its expiry whose expiry has not been announced yet."""
    return link.get("revoked_at") is None and not link.get("expired_announced") and _aware(link["expires_at"]) <= now


def view(link: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The link as the API shows it to its owner or creator (never the digest or the hash)."""
    return {
        "id": link["_id"],
        "document_id": link["document_id"],
        "document_name": link["document_name"],
        "version": link.get("version"),
        "created_at": link["created_at"],
        "created_by": link["created_by"],
        "expires_at": _aware(link["expires_at"]),
        "protected": needs_password(link),
        "download_limit": link.get("download_limit"),
        "downloads": int(link.get("downloads", 0)),
        "note": link.get("note"),
        "state": state_of(link, now),
        "revoked_at": link.get("revoked_at"),
    }
