"""Sign-in with OpenID Connect (authorization code with PKCE): start a flow, then finish it with
the provider's code, and say which account signs in (linked before, linked now by a verified
address, or created). The gateway issues the session, as after a password.

`LinkedIdentities`: the owner's list of the identities linked to the account, and unlinking one
(never the last way in).

Another region's account: an identity linked there (its replica here names it), or a first sign-in
whose verified address that region holds, is answered `HomeElsewhere` (421, the gateway sends the
browser to sign in there), never linked or given a second account here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from docstore_accounts.adapters.credentials import EmailClaims
from docstore_accounts.adapters.oidc import Flow, OidcFlows, OidcLinks
from docstore_accounts.domain.accounts import Account, AccountNotFound, HomeElsewhere, UsernameTaken, status_of
from docstore_accounts.domain.oidc import (
    Create,
    IdentityNotFound,
    LinkByEmail,
    Linked,
    OidcSignInRefused,
    ProviderIdentity,
    check_unlink,
    decide,
    identity_id,
    username_candidates,
)
from docstore_accounts.service_layer.accounts import Accounts, Tx
from docstore_events.identities import AccountIdentityUnlinked
from docstore_kit.errors import Conflict

NAME_TRIES = 12


Doc = dict[str, Any]


class LinksPort(Protocol):
    """`adapters.oidc.OidcLinks`, bound to a session (or none)."""

    async def account_for(self, issuer: str, subject: str) -> str | None: ...

    async def link(self, issuer: str, subject: str, account_id: str) -> None: ...

    async def signed_in(self, issuer: str, subject: str, at: datetime) -> None: ...

    async def of_account(self, account_id: str) -> list[Doc]: ...

    async def unlink(self, account_id: str, link_id: str) -> Doc | None: ...


LinksIn = Callable[[Tx], LinksPort]
"""The links bound to a transaction's session."""


def links_in(tx: Tx) -> LinksPort:
    """`OidcLinks` on the transaction's database and session (the accounts unit of work's)."""
    return OidcLinks(tx.repos.accounts.collection.database, tx.repos.accounts.session)


class HomeOfIdentity(Protocol):
    async def __call__(self, identity_id: str) -> str | None:
        """The home region of the active account another region linked the identity to (its
        replica here names it), else None."""
        ...


class HolderElsewhere(Protocol):
    async def __call__(self, address: str) -> str | None:
        """The home region of the active account of another region holding `address` verified,
        else None (nobody, or no region answered)."""
        ...


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
        links: LinksPort,
        claims: EmailClaims,
        accounts: Accounts,
        role_of: Callable[[dict[str, Any]], str],
        *,
        region: str = "",
        home_of_identity: HomeOfIdentity | None = None,
        holder_elsewhere: HolderElsewhere | None = None,
        links_in: LinksIn = links_in,
    ) -> None:
        self.provider = provider
        self.flows = flows
        self.links = links
        self.claims = claims
        self.accounts = accounts
        self.role_of = role_of
        self.region = region
        self.home_of_identity = home_of_identity
        self.holder_elsewhere = holder_elsewhere
        self.links_in = links_in

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
        return await self.sign_in(identity)

    async def sign_in(self, identity: ProviderIdentity) -> SignedIn:
        """Who the checked identity signs in as (the rules: `domain.oidc.decide`)."""
        linked = await self.links.account_for(identity.issuer, identity.subject)
        if linked is None:
            await self._not_at_home_elsewhere(identity)
        holder = await self.claims.holder(identity.email) if identity.email and identity.email_verified else None
        match decide(identity, linked_account=linked, email_holder=holder):
            case Linked(account_id=account_id):
                return await self._signed_in(identity, account_id, "linked")
            case LinkByEmail(account_id=account_id):
                await self._link(identity, account_id)
                return await self._signed_in(identity, account_id, "linked-by-email")
            case Create():
                if identity.email and (home := await self._holder_home(identity.email)) is not None:
                    raise HomeElsewhere(home)
                account = await self._create(identity)
                return SignedIn(account.id, account.username, "user", "created")
        raise AssertionError("unreachable")

    async def _not_at_home_elsewhere(self, identity: ProviderIdentity) -> None:
        """An identity linked to another region's account (its replica here names it) signs in
        there: `HomeElsewhere`, never a link or a second account here."""
        if self.home_of_identity is None:
            return
        home = await self.home_of_identity(identity_id(identity.issuer, identity.subject))
        if home is not None and home != self.region:
            raise HomeElsewhere(home)

    async def _holder_home(self, address: str) -> str | None:
        """Before making a new account: the region of another region's account holding the
        address verified (the first sign-in links there, by the same rule), else None."""
        if self.holder_elsewhere is None:
            return None
        home = await self.holder_elsewhere(address)
        return home if home is not None and home != self.region else None

    async def _link(self, identity: ProviderIdentity, account_id: str) -> None:
        """Link the identity, in one transaction with the account's new replica (which names it)."""

        async def work(tx: Tx) -> None:
            await self.links_in(tx).link(identity.issuer, identity.subject, account_id)
            await self.accounts.replicate(tx, account_id)

        await self.accounts.uow.run(work)

    async def _signed_in(self, identity: ProviderIdentity, account_id: str, how: str) -> SignedIn:
        account = await self.accounts.account(account_id)
        if status_of(account) != "active":
            raise OidcSignInRefused("The DocStore account linked to this identity is closed.")
        await self.links.signed_in(identity.issuer, identity.subject, datetime.now(UTC))
        return SignedIn(account_id, str(account["username"]), self.role_of(account), how)

    async def _create(self, identity: ProviderIdentity) -> Account:
        async def also(tx: Tx, account: Account) -> None:
            session = tx.repos.accounts.session
            db = tx.repos.accounts.collection.database
            if not await EmailClaims(db, session).claim(identity.email, account.id):
                raise AddressTaken()
            links = self.links_in(tx)
            await links.link(identity.issuer, identity.subject, account.id)
            await links.signed_in(identity.issuer, identity.subject, account.created_at)

        for _, name in zip(range(NAME_TRIES), username_candidates(identity), strict=False):
            try:
                return await self.accounts.sign_up_verified(username=name, email=identity.email, plan="free", also=also)
            except UsernameTaken:
                continue
        raise Conflict("No free username could be found for this identity. Please sign up with a password.")


class LinkedIdentities:
    """The identities linked to an account: the owner's list, and unlinking one. Works whether or
    not a provider is configured now (a link made before stays listed and can go)."""

    def __init__(
        self,
        accounts: Accounts,
        links: LinksPort,
        *,
        issuer: str,
        provider_name: str,
        password_sign_in: bool,
        links_in: LinksIn = links_in,
    ) -> None:
        self.accounts = accounts
        self.links = links
        self.issuer = issuer.rstrip("/")
        self.provider_name = provider_name
        self.password_sign_in = password_sign_in
        self.links_in = links_in

    def name_of(self, issuer: str) -> str:
        """The provider's name for the configured issuer; any other issuer is named by its URL."""
        return (self.provider_name or "your identity provider") if issuer == self.issuer else issuer

    async def list(self, account_id: str) -> list[Doc]:
        """The account's links, oldest first: `identity_id`, `provider`, `issuer`, `linked_at`,
        `last_signed_in_at`, and `can_unlink` (False for the last way in)."""
        account = await self.accounts.account(account_id)
        rows = await self.links.of_account(account_id)
        out = []
        for row in rows:
            try:
                self._check(account, row, others=len(rows) - 1)
                can_unlink = True
            except Conflict:
                can_unlink = False
            out.append(row | {"provider": self.name_of(row["issuer"]), "can_unlink": can_unlink})
        return out

    def _check(self, account: Doc, row: Doc, *, others: int) -> None:
        check_unlink(
            has_password=bool(account.get("password_hash")),
            password_sign_in=self.password_sign_in,
            other_identities=others,
            provider_name=self.name_of(row["issuer"]),
        )

    async def unlink(self, account_id: str, link_id: str) -> None:
        """Remove the link: that identity no longer signs in to the account by it (a later sign-in
        with it links again only when the provider vouches for the account's verified address).
        404 for an id not among the account's; 409 (`LastWayIn`) for the last way in. With
        `account.identity-unlinked` and the account's new replica, in one transaction; the
        account document's `$pull` makes two unlinks of one account at once run one after the
        other, so they cannot remove its last two identities together."""

        async def work(tx: Tx) -> None:
            account = await tx.repos.accounts.by_id(account_id)
            if account is None or status_of(account) != "active":
                raise AccountNotFound(account_id)
            links = self.links_in(tx)
            rows = await links.of_account(account_id)
            row = next((row for row in rows if row["identity_id"] == link_id), None)
            if row is None:
                raise IdentityNotFound()
            self._check(account, row, others=len(rows) - 1)
            if await links.unlink(account_id, link_id) is None:
                raise IdentityNotFound()
            tx.emit(AccountIdentityUnlinked(account_id=account_id, identity_id=link_id, issuer=row["issuer"]))
            await self.accounts.replicate(tx, account_id)

        await self.accounts.uow.run(work)
