"""Sign-in with OpenID Connect: who a provider's identity is here (the linking rules), the username
a new account gets, and the refusals. Pure: no I/O (the flow itself is `service_layer/oidc.py`)."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from docstore_accounts.domain.accounts import EMAIL, USERNAME
from docstore_kit.errors import DomainError, Forbidden


@dataclass(frozen=True)
class ProviderIdentity:
    """What a verified ID token (and the userinfo answer) said about the person."""

    issuer: str
    subject: str
    email: str = ""
    email_verified: bool = False
    preferred_username: str = ""
    name: str = ""


@dataclass(frozen=True)
class Linked:
    """The identity was linked before: this account."""

    account_id: str


@dataclass(frozen=True)
class LinkByEmail:
    """First sign-in: an account of this region holds the provider's verified address; link it."""

    account_id: str


@dataclass(frozen=True)
class Create:
    """First sign-in, nobody holds the address: a new account with it, verified."""


Decision = Linked | LinkByEmail | Create


class OidcSignInRefused(DomainError):
    """The provider's answer cannot sign anyone in (bad or replayed state, a token that fails a
    check, a code the provider refused): 400, sign in again."""

    status: ClassVar[int] = 400
    problem: ClassVar[str] = "oidc-sign-in-refused"
    title: ClassVar[str] = "Sign-in refused"


class OidcNotConfigured(DomainError):
    status: ClassVar[int] = 404
    problem: ClassVar[str] = "oidc-not-configured"
    title: ClassVar[str] = "Not found"

    def __init__(self) -> None:
        super().__init__("Sign-in with an identity provider is not set up on this DocStore.")


class UnverifiedProviderEmail(Forbidden):
    """The provider did not vouch for the address: it links to nobody and makes no account."""

    problem: ClassVar[str] = "oidc-email-unverified"

    def __init__(self) -> None:
        super().__init__(
            "Your identity provider did not confirm your e-mail address, so it cannot sign you in here yet. "
            "Confirm the address with your provider, or sign in with your DocStore password."
        )


class PasswordSignInOff(Forbidden):
    """The operator turned password sign-in off (`ACCOUNTS_PASSWORD_SIGN_IN=false`)."""

    problem: ClassVar[str] = "password-sign-in-off"

    def __init__(self, provider_name: str) -> None:
        where = f"with {provider_name}" if provider_name else "with your organisation's identity provider"
        super().__init__(f"Signing in with a password is turned off on this DocStore. Sign in {where} instead.")


def decide(identity: ProviderIdentity, *, linked_account: str | None, email_holder: str | None) -> Decision:
    """Who signs in: the account linked to (issuer, subject) if any; else, at the first sign-in,
    the account holding the provider's address verified here, but only when the provider says
    the address is verified; else a new account. An address the provider has not verified links
    to nobody and creates nothing (`UnverifiedProviderEmail`): anyone can type any address at
    some providers, and linking on it would hand over the account that holds it."""
    if linked_account is not None:
        return Linked(linked_account)
    if not identity.email or not identity.email_verified or not EMAIL.match(identity.email):
        raise UnverifiedProviderEmail()
    if email_holder is not None:
        return LinkByEmail(email_holder)
    return Create()


def username_base(identity: ProviderIdentity) -> str:
    """A username from the provider's preferred name or the address's local part: ASCII letters,
    digits, '.', '_' and '-', lower case, starting with a letter or a digit, 3 to 32 characters
    ("user" when nothing usable is left)."""
    for raw in (identity.preferred_username, identity.email.partition("@")[0], identity.name):
        ascii_only = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().lower()
        cleaned = re.sub(r"[^a-z0-9_.-]+", "-", ascii_only.strip())
        cleaned = re.sub(r"^[^a-z0-9]+", "", cleaned)[:28].rstrip("-_.")
        if len(cleaned) >= 3 and USERNAME.match(cleaned):
            return cleaned
    return "user"


def username_candidates(identity: ProviderIdentity, *, tries: int = 6) -> Iterator[str]:
    """The names to try, in order, until one is free: the base, base-2 ... base-5, then the base
    with random digits (the unique index decides; a name is never taken from anyone)."""
    base = username_base(identity)
    if len(base) >= 3:
        yield base
    for n in range(2, tries):
        yield f"{base}-{n}"
    while True:
        yield f"{base}-{secrets.randbelow(10**6):06d}"
