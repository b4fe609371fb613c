"""The parts every mail of notify is built from: the kinds a person chooses instant, digest or
off for, `Message` (subject, text, HTML), and the helpers each mail module uses to gather a
mail's facts (`safe_filename`, `document_url`). Pure.

Each family of mails has its own module (`mail.py`: quota, uploads, followed files, the digest;
`link_mails.py`, `sign_in_mails.py`, `webhook_mails.py`, `share_mails.py`, `account_mails.py`);
each works out the facts and has `templating.render_mail` say them with its Jinja2 templates
(`docstore_notify/templates/`). They all build on this one, and `mail.render` dispatches to them,
so no module imports back the one that imports it (import-linter contract `notify-mail-modules`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

GB = 1_000_000_000
"""Decimal gigabytes, as `quota` counts caps (Free 5 GB = 5 * 10**9 bytes)."""

QUOTA_WARNING = "quota.warning"
QUOTA_EXCEEDED = "quota.exceeded"
QUOTA_RESTORED = "quota.restored"
UPLOAD_EXPIRED = "upload.expired"
FILE_MODIFIED = "file.modified"
SHARE_LINKS = "share.links"
"""Mails about the owner's public links: expiring tomorrow, download limit reached (`link_mails.py`)."""
SECURITY = "security"
"""Mails about the account's safety: a sign-in from a new device (`sign_in_mails.py`)."""
WEBHOOKS = "webhooks"
"""Mails about the account's webhooks: an endpoint disabled after failing (`webhook_mails.py`)."""
SHARE_RECEIVED = "share.received"
"""Someone shared a document with the account (`share_mails.py`, issue 37)."""
KINDS = (
    QUOTA_WARNING,
    QUOTA_EXCEEDED,
    QUOTA_RESTORED,
    UPLOAD_EXPIRED,
    FILE_MODIFIED,
    SHARE_LINKS,
    SECURITY,
    WEBHOOKS,
    SHARE_RECEIVED,
)
"""The kinds of notification a user chooses instant, digest or off for."""
DIGEST = "digest"
"""The digest mail itself (not a preference: it carries the kinds set to `digest`)."""

SIGNATURE = "The DocStore team"
MAX_FILENAME_CHARS = 200


@dataclass(frozen=True)
class Message:
    """A mail's content, without its recipient."""

    subject: str
    text: str
    html: str


def safe_filename(name: str) -> str:
    """A user-supplied file name fit for a mail line: no control characters, bounded length."""
    cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in name).strip()
    if len(cleaned) > MAX_FILENAME_CHARS:
        cleaned = cleaned[: MAX_FILENAME_CHARS - 1] + "…"
    return cleaned or "your file"


def document_url(app_url: str, document_id: str) -> str:
    """Where the web app (served by the gateway at `app_url`) opens a document's details:
    the files view with `open=<document id>`."""
    return f"{app_url.rstrip('/')}/#/files?open={quote(document_id, safe='')}"
