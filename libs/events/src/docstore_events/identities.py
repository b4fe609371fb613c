"""Events of the identities linked to an account (sign-in with OpenID Connect, issue 36)."""

from __future__ import annotations

from docstore_events.base import Event


class AccountIdentityUnlinked(Event):
    """Emitted by `accounts` when the owner unlinked an identity of an OpenID provider from the
    account: that identity no longer signs in to it by its link (the next sign-in with it links
    again only when the provider vouches for the account's verified address). Nothing else ends:
    sessions stay. Recorded by the audit trail; never the provider's subject."""

    type = "account.identity-unlinked"

    identity_id: str
    """The link's id as the owner's list showed it (a digest of issuer and subject)."""
    issuer: str
    """The provider's issuer URL."""
