"""What another service answered, as typed results (issue 36): the adapter
(`adapters/answers.py`, used by `adapters/upstreams.py`) turns HTTP answers into these, so no
use case (and no page) reads a status code. A service that does not answer at all is
`UpstreamUnavailable`, raised."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from docstore_gateway.domain.app_passwords import AppPasswordCaller

# --- a forwarded answer ----------------------------------------------------------------------


@dataclass(frozen=True)
class UpstreamAnswer:
    """A service's answer to a request the gateway forwards (`adapters/upstreams.py`): its status,
    body, and only the headers the gateway returns. It goes back to the client as it is; the typed
    results below are what the gateway's own calls are answered."""

    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def succeeded(self) -> bool:
        """The service did what was asked (2xx): forwarded answers are returned as they are, and
        this is all a use case reads of them."""
        return 200 <= self.status < 300


# --- shared -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """Wrong credentials (or a code not even shaped like one): one answer to the client."""


@dataclass(frozen=True)
class HomeElsewhere:
    """The account lives in another region: ask there."""

    region: str


@dataclass(frozen=True)
class Unexpected:
    """An answer the contract does not name (a bug on one side): never a session, never a page."""

    status: int


# --- the login's password step ------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordAccepted:
    account_id: str
    role: str
    mfa_required: bool
    """Two-step sign-in is on: a code comes before any session."""


@dataclass(frozen=True)
class NameLost:
    """The account lost its username to a simultaneous sign-up in another region; `answer` is
    the accounts service's own body, which the client is shown as it is."""

    answer: Any


@dataclass(frozen=True)
class PasswordsOff:
    """The operator turned password sign-in off (issue 36, OpenID Connect); `answer` is the accounts
    service's own body (its message names the provider to use), shown as it is."""

    answer: Any


CredentialsAnswer = PasswordAccepted | Refused | HomeElsewhere | NameLost | PasswordsOff | Unexpected


# --- the login's second step --------------------------------------------------------------------


@dataclass(frozen=True)
class CodeAccepted:
    method: str
    """`totp` or `recovery`."""


@dataclass(frozen=True)
class Gone:
    """The account is gone, or two-step sign-in went off meanwhile: the ticket is worth nothing."""


SecondFactorAnswer = CodeAccepted | Refused | Gone | Unexpected


# --- app passwords ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppPasswordAccepted:
    caller: AppPasswordCaller


AppPasswordAnswer = AppPasswordAccepted | Refused | HomeElsewhere | Unexpected


# --- public share links -------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkShown:
    """What the link's page shows (name, size, note, protected, preview_url...)."""

    link: dict[str, Any]


@dataclass(frozen=True)
class LinkRedeemed:
    """A signed S3 URL for the download (one download counted)."""

    url: str


@dataclass(frozen=True)
class LinkMissing:
    """No such link."""


@dataclass(frozen=True)
class LinkGone:
    """Expired, revoked, used up, or its document gone: metadata's human reason."""

    reason: str | None


@dataclass(frozen=True)
class LinkPasswordRefused:
    """A protected link, and no password or a wrong one: metadata's human reason."""

    reason: str | None


@dataclass(frozen=True)
class LinkRefused:
    """Any other refusal (a malformed request): metadata's human reason."""

    reason: str | None


LinkAnswer = LinkShown | LinkMissing | LinkGone | LinkRefused
RedeemAnswer = LinkRedeemed | LinkPasswordRefused | LinkMissing | LinkGone | LinkRefused
