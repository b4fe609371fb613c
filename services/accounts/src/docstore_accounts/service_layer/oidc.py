"""Sign-in with OpenID Connect (authorization code with PKCE): start a flow, then finish it with
the provider's code, and say which account signs in (linked before, linked now by a verified
address, or created). The gateway issues the session, as after a password."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from docstore_accounts.adapters.credentials import EmailClaims
from docstore_accounts.adapters.oidc import Flow, OidcFlows, OidcLinks
from docstore_accounts.domain.accounts import Account, UsernameTaken, status_of
from docstore_accounts.domain.oidc import (
    Create,
    LinkByEmail,
    Linked,
    OidcSignInRefused,
    ProviderIdentity,
    decide,
    username_candidates,
)
from docstore_accounts.service_layer.accounts import Accounts, Tx
from docstore_kit.errors import Conflict

NAME_TRIES = 12


class ProviderPort(Protocol):
    async def authorization_url(self, flow: Flow) -> str: ...

    async def identity(self, flow: Flow, code: str) -> ProviderIdentity: ...


@dataclass(frozen=True)
class SignedIn:
    account_id: str
    username: str
    role: str
    how: str
    """`linked` (signed in before), `linked-by-email` (first time, an existing account) or `created`."""


class AddressTaken(Conflict):
    def __init__(self) -> None:
        super().__init__("Someone verified this e-mail address here a moment ago. Please sign in again.")


class OidcSignIn:
    def __init__(
        self,
        provider: ProviderPort,
        flows: OidcFlows,
        links: OidcLinks,
        claims: EmailClaims,
        accounts: Accounts,
        role_of: Callable[[dict[str, Any]], str],
    ) -> None:
        self.provider = provider
        self.flows = flows
        self.links = links
        self.claims = claims
        self.accounts = accounts
        self.role_of = role_of

    async def start(self) -> tuple[str, str]:
        """A new flow: the provider's authorization URL and the flow's `state` (the gateway binds it
        to the browser with a cookie)."""
        flow = await self.flows.start()
        return await self.provider.authorization_url(flow), flow.state

    async def finish(self, state: str, code: str) -> SignedIn:
        flow = await self.flows.take(state)
        if flow is None:
            raise OidcSignInRefused("This sign-in link has expired or was already used. Please sign in again.")
        identity = await self.provider.identity(flow, code)
        linked = await self.links.account_for(identity.issuer, identity.subject)
        holder = await self.claims.holder(identity.email) if identity.email and identity.email_verified else None
        match decide(identity, linked_account=linked, email_holder=holder):
            case Linked(account_id=account_id):
                return await self._signed_in(account_id, "linked")
            case LinkByEmail(account_id=account_id):
                await self.links.link(identity.issuer, identity.subject, account_id)
                return await self._signed_in(account_id, "linked-by-email")
            case Create():
                account = await self._create(identity)
                return SignedIn(account.id, account.username, "user", "created")
        raise AssertionError("unreachable")

    async def _signed_in(self, account_id: str, how: str) -> SignedIn:
        account = await self.accounts.account(account_id)
        if status_of(account) != "active":
            raise OidcSignInRefused("The DocStore account linked to this identity is closed.")
        return SignedIn(account_id, str(account["username"]), self.role_of(account), how)

    async def _create(self, identity: ProviderIdentity) -> Account:
        async def also(tx: Tx, account: Account) -> None:
            session = tx.repos.accounts.session
            db = tx.repos.accounts.collection.database
            if not await EmailClaims(db, session).claim(identity.email, account.id):
                raise AddressTaken()
            await OidcLinks(db, session).link(identity.issuer, identity.subject, account.id)

        for _, name in zip(range(NAME_TRIES), username_candidates(identity), strict=False):
            try:
                return await self.accounts.sign_up_verified(username=name, email=identity.email, plan="free", also=also)
            except UsernameTaken:
                continue
        raise Conflict("No free username could be found for this identity. Please sign up with a password.")
