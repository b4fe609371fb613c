"""The "New sign-in to DocStore" mail (`account.new-sign-in`, emitted by the gateway when an
account signs in from a client and address it had not used before). Pure.

One kind of notification, `security` (the preference `security`: instant, digest or off, with
the same unsubscribe link as every kind). It says which client, from which address and region,
and when, and what to do if it was not the owner: change the password (which ends every session)
and look at the list of signed-in devices. It holds no link that acts and no token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from docstore_events.devices import NewDeviceSignInDetected
from docstore_notify.domain.message import SECURITY, Message, safe_filename
from docstore_notify.domain.notices import Notice
from docstore_notify.domain.templating import render_mail

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
    """The message of a `security` notice (today: a new sign-in; `templates/new_sign_in.*`)."""
    return render_mail(
        "new_sign_in",
        "New sign-in to DocStore",
        client=safe_filename(str(params.get("client") or "an unknown client")),
        address=safe_filename(str(params.get("address") or "an unknown address")),
        region=safe_filename(str(params.get("region") or "")),
        when=_when(str(params.get("at") or "")),
        devices_url=devices_url(app_url),
    )
