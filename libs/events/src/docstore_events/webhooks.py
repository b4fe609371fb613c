"""Events about an account's webhooks (issue 38). Emitted by `notify`, which keeps the endpoints."""

from __future__ import annotations

from docstore_events.base import Event


class WebhookDisabled(Event):
    """Emitted by `notify` when it turns an endpoint off on its own, after
    `WEBHOOK_DISABLE_AFTER_FAILURES` delivery attempts in a row failed, in the transaction that
    records the last failure (the owner is mailed too). No one acted: the audit trail records it
    with no actor. Never the endpoint's URL (it may carry a receiver's token) nor its secret."""

    type = "webhook.disabled"

    webhook_id: str
    failures: int
    """Failed attempts in a row that turned it off."""
    last_error: str | None = None
    """The last attempt's error, one line (`answered 503`, a connection refused)."""
