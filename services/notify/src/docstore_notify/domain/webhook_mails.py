"""The "Your DocStore webhook was turned off" mail (kind `webhooks`): an endpoint failed too many
deliveries in a row and notify stopped calling it. Pure. It names the endpoint's URL host (the
owner's own), why, and where to turn it back on; never the secret."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlsplit

from docstore_notify.domain.message import WEBHOOKS, Message, safe_filename
from docstore_notify.domain.message import html_page as _html
from docstore_notify.domain.message import text_body as _text
from docstore_notify.domain.notices import Notice

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
    host = safe_filename(str(params.get("host") or "your endpoint"))
    reason = safe_filename(str(params.get("reason") or ""))
    webhook_id = safe_filename(str(params.get("webhook_id") or ""))
    subject = "Your DocStore webhook was turned off"
    lead = f"DocStore stopped sending events to your webhook at {host} ({webhook_id}): {reason}."
    advice = (
        "Events that happen while it is off are not sent. Once the endpoint answers again, send it a "
        'test event and turn it back on (PATCH /v1/webhooks/{id} with {"enabled": true}).'
    )
    return Message(
        subject,
        _text([lead, advice]),
        _html(html.escape(subject), [html.escape(lead), html.escape(advice)]),
    )
