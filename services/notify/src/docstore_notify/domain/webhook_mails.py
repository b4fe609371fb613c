"""The "Your DocStore webhook was turned off" mail (kind `webhooks`): an endpoint failed too many
deliveries in a row and notify stopped calling it. Pure. It names the endpoint's URL host (the
owner's own), why, and where to turn it back on; never the secret."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from docstore_notify.domain.message import WEBHOOKS, Message, safe_filename
from docstore_notify.domain.notices import Notice
from docstore_notify.domain.templating import render_mail

WEBHOOK_DISABLED = "webhook-disabled"


def webhook_disabled_notice(webhook: dict[str, Any], reason: str) -> Notice:
    return Notice(
        webhook["account_id"],
        WEBHOOKS,
        {
            "mail": WEBHOOK_DISABLED,
            "webhook_id": webhook["_id"],
            "host": urlsplit(str(webhook["url"])).hostname or "",
            "reason": reason[:300],
        },
    )


def render_webhook_mail(params: dict[str, Any], *, app_url: str = "") -> Message:
    """The "webhook turned off" mail (`templates/webhook_disabled.*`)."""
    return render_mail(
        "webhook_disabled",
        "Your DocStore webhook was turned off",
        host=safe_filename(str(params.get("host") or "your endpoint")),
        reason=safe_filename(str(params.get("reason") or "")),
        webhook_id=safe_filename(str(params.get("webhook_id") or "")),
    )
