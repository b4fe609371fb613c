"""Sign-in with OpenID Connect: who a provider's identity is here (the linking rules), the username
a new account gets, and the refusals. Pure: no I/O (the flow itself is `service_layer/oidc.py`)."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from docstore_accounts.domain.accounts import EMAIL, USERNAME
from docstore_kit.errors import Conflict, DomainError, Forbidden, NotFound


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


# --- linked identities: the account's list, and unlinking ------------------------------------------


def identity_key(issuer: str, subject: str) -> str:
    """The link's key (`oidc_links._id`): the identity at its provider."""
    return f"{issuer} {subject}"


def identity_id(issuer: str, subject: str) -> str:
    """The id the owner's list and `DELETE` use, and what a replica of the account carries: the
    SHA-256 of the key (the subject is the provider's; a path, a log line or another region needs
    only something that names it)."""
    return hashlib.sha256(identity_key(issuer, subject).encode()).hexdigest()


class IdentityNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No identity with this id is linked to your account.")


class LastWayIn(Conflict):
    """Unlinking would leave the account no way to sign in to the web app (409)."""

    problem: ClassVar[str] = "last-way-in"

    def __init__(self, provider_name: str, *, password_sign_in: bool) -> None:
        provider = provider_name or "this identity provider"
        if password_sign_in:
            how = (
                f"Your account has no password, so {provider} is the only way you sign in. Set a password first: "
                "sign out, choose “Forgot your password?” on the sign-in page and follow the link we mail to your "
                "address (or “Mail me a link to set a password” under Sign-in providers in Settings). Then unlink it."
            )
        else:
            how = (
                f"Signing in with a password is turned off on this DocStore, so {provider} is the only way you sign "
                "in, and it cannot be unlinked."
            )
        super().__init__(how)


def check_unlink(*, has_password: bool, password_sign_in: bool, other_identities: int, provider_name: str) -> None:
    """Unlinking one identity is refused when it is the last way in: no other identity is linked
    and the account has no password (an account created by a provider's sign-in has none), or
    passwords cannot sign in here (`ACCOUNTS_PASSWORD_SIGN_IN=false`). App passwords do not count:
    they never sign in to the web app."""
    if other_identities > 0:
        return
    if not (has_password and password_sign_in):
        raise LastWayIn(provider_name, password_sign_in=password_sign_in)
