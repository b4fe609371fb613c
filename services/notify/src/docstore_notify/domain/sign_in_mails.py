"""The "New sign-in to DocStore" mail (`account.new-sign-in`, emitted by the gateway when an
account signs in from a client and address it had not used before). Pure.

One kind of notification, `security` (the preference `security`: instant, digest or off, with
the same unsubscribe link as every kind). It says which client, from which address and region,
and when, and what to do if it was not the owner: change the password (which ends every session)
and look at the list of signed-in devices. It holds no link that acts and no token.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from docstore_events.devices import NewDeviceSignInDetected
from docstore_notify.domain.message import SECURITY, Message, safe_filename
from docstore_notify.domain.message import html_page as _html
from docstore_notify.domain.message import text_body as _text
from docstore_notify.domain.notices import Notice

NEW_SIGN_IN = "new-sign-in"


def new_sign_in_notice(event: NewDeviceSignInDetected) -> Notice:
    """The owner's notice of a sign-in from a new client and address."""
    return Notice(
        event.account_id,
        SECURITY,
        {
            "mail": NEW_SIGN_IN,
            "client": event.client,
            "address": event.address,
            "region": event.region,
            "at": event.signed_in_at.astimezone(UTC).isoformat(),
        },
    )


def _when(at: str) -> str:
    try:
        moment = datetime.fromisoformat(at).astimezone(UTC)
    except ValueError:
        return "just now"
    return moment.strftime("%A %-d %B %Y, %H:%M UTC")


def devices_url(app_url: str) -> str:
    """The web app's account page, where the signed-in devices are listed and can be signed out."""
    return f"{app_url.rstrip('/')}/#/settings" if app_url else ""


def render_security_mail(params: dict[str, Any], *, app_url: str = "") -> Message:
    """The message of a `security` notice (today: a new sign-in)."""
    client = safe_filename(str(params.get("client") or "an unknown client"))
    address = safe_filename(str(params.get("address") or "an unknown address"))
    region = safe_filename(str(params.get("region") or ""))
    when = _when(str(params.get("at") or ""))
    subject = "New sign-in to DocStore"
    facts = [
        f"Client: {client}",
        f"Address: {address}" + (f" (region {region})" if region else ""),
        f"Time: {when}",
    ]
    lead = "Your DocStore account was just signed in to from a device or address it had not used before."
    advice = (
        "If this was you, there is nothing to do. If it was not, change your password now: "
        "that signs out every device. You can also sign out single devices from your account settings."
    )
    url = devices_url(app_url)
    text_lines = [lead, "\n".join(facts), advice] + ([f"Your devices: {url}"] if url else [])
    html_lines = [
        html.escape(lead),
        "<br>".join(html.escape(fact) for fact in facts),
        html.escape(advice),
    ] + ([f'<a href="{html.escape(url, quote=True)}">See your devices</a>'] if url else [])
    return Message(subject, _text(text_lines), _html(html.escape(subject), html_lines))
