"""What notify refuses, or is refused."""

from __future__ import annotations

from docstore_kit.errors import Invalid


class InvalidCursor(Invalid):
    """A pagination cursor this service did not hand out (422, detail "invalid cursor")."""

    problem = "invalid-cursor"
    title = "Invalid cursor"


class MailRejected(Exception):
    """The mail service refused this mail for good (unverified sender, bad address, ...):
    sending it again would not help."""
