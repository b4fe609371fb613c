"""What metadata's own rules need of identity (issue 36: identity itself is `services/accounts`):
usernames as the accounts service stores them, and the refusal of an action that needs a verified
address."""

from __future__ import annotations

from typing import Any, ClassVar

from docstore_kit.errors import Forbidden


def normalise_username(username: str) -> str:
    return username.strip().lower()


class EmailNotVerified(Forbidden):
    """What an account may not do before its address is verified (share, make public links)."""

    problem: ClassVar[str] = "email-not-verified"

    def __init__(self, action: str) -> None:
        super().__init__(
            f"Please verify your e-mail address before you {action}. "
            "We sent you a link; you can ask for a new one in your account settings."
        )


def require_verified_email(account: dict[str, Any] | None, action: str) -> None:
    """Refuse `action` (e.g. "share documents") for an account whose address is not verified yet.
    Accounts from before verification existed carry no flag and count as verified."""
    if account is not None and account.get("email_verified", True) is False:
        raise EmailNotVerified(action)
