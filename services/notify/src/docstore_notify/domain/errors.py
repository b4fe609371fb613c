"""What notify refuses, or is refused."""

from __future__ import annotations

from docstore_kit.pagination import InvalidCursor as SharedInvalidCursor


class InvalidCursor(SharedInvalidCursor):
    """A pagination cursor this service did not hand out (422 `invalid-cursor`, as on every list;
    detail "invalid cursor")."""


class MailRejected(Exception):
    """The mail service refused this mail for good (unverified sender, bad address, ...):
    sending it again would not help."""
