"""Events about the devices an account signs in from.

Emitted by the `gateway`, which owns sessions, through its outbox in the transaction that
records the sign-in. None carries a token, a password, a code or the full user agent string.
"""

from __future__ import annotations

from datetime import datetime

from docstore_events.base import Event


class NewDeviceSignInDetected(Event):
    """Emitted by `gateway` when a login (a password, or a password and a second-factor code)
    started a session from a client and address pair not seen before for the account (its very
    first sign-in excepted: there is nothing to compare with). `notify` mails the owner "New
    sign-in to DocStore" (preference `security`).

    `client` is the user agent in short form ("Firefox 133 on Ubuntu"), `address` the client
    address the gateway saw, `region` the region that issued the session. Never a token."""

    type = "account.new-sign-in"

    client: str
    """The user agent in short form, e.g. "Firefox 133 on Ubuntu" (never the raw header)."""
    address: str
    """The client address the gateway saw (the same one throttling uses)."""
    region: str
    """The region whose gateway issued the session."""
    signed_in_at: datetime
    """When the login completed (UTC)."""
    session_id: str = ""
    """The new session's id as `GET /v1/account/sessions` lists it (not a credential)."""
