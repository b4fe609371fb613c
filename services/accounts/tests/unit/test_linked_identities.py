"""Linked OpenID identities (issue 36): the unlink rule (pure), the list and unlink use case on
`FakeUnitOfWork`, and a sign-in at a region that is not the account's home (sent home, nothing
linked or created there)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from docstore_accounts.domain.accounts import HomeElsewhere, replica_state
from docstore_accounts.domain.oidc import IdentityNotFound, LastWayIn, ProviderIdentity, check_unlink, identity_id
from docstore_accounts.service_layer.oidc import LinkedIdentities, OidcSignIn
from docstore_events.identities import AccountIdentityUnlinked

ISSUER = "https://id.example.org"
PASSWORD = "quartz lantern orbit 97 meadow"


# --- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("has_password", "password_sign_in", "others", "allowed"),
    [
        (True, True, 0, True),  # the password is still a way in
        (False, True, 0, False),  # created by a provider's sign-in: no password yet
        (False, True, 1, True),  # another identity is still linked
        (True, False, 0, False),  # passwords cannot sign in here: the identity is the only way
        (True, False, 1, True),
    ],
)
def test_unlinking_is_refused_only_for_the_last_way_in(
    has_password: bool, password_sign_in: bool, others: int, allowed: bool
) -> None:
    def check() -> None:
        check_unlink(
            has_password=has_password, password_sign_in=password_sign_in, other_identities=others, provider_name="Acme"
        )

    if allowed:
        check()
    else:
        with pytest.raises(LastWayIn) as refused:
            check()
        assert refused.value.status == 409 and "Acme" in refused.value.detail()


def test_the_refusal_says_how_to_set_a_password_first() -> None:
    detail = LastWayIn("Acme", password_sign_in=True).detail()
    assert "no password" in detail and "Forgot your password?" in detail


# --- the use case -----------------------------------------------------------------------------


class InMemoryLinks:
    """`OidcLinks` in memory; it names each link on the account document as the adapter does."""

    def __init__(self, accounts: Any) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.accounts = accounts

    async def account_for(self, issuer: str, subject: str) -> str | None:
        row = self.rows.get(f"{issuer} {subject}")
        return row["account_id"] if row else None

    async def link(self, issuer: str, subject: str, account_id: str) -> None:
        self.rows.setdefault(
            f"{issuer} {subject}",
            {"account_id": account_id, "issuer": issuer, "subject": subject, "linked_at": datetime.now(UTC)},
        )
        names = self.accounts.rows.get(account_id, {}).setdefault("oidc_identities", [])
        if identity_id(issuer, subject) not in names:
            names.append(identity_id(issuer, subject))

    async def signed_in(self, issuer: str, subject: str, at: datetime) -> None:
        self.rows[f"{issuer} {subject}"]["last_signed_in_at"] = at

    async def of_account(self, account_id: str) -> list[dict[str, Any]]:
        return [
            row | {"identity_id": identity_id(row["issuer"], row["subject"])}
            for row in self.rows.values()
            if row["account_id"] == account_id
        ]

    async def unlink(self, account_id: str, link_id: str) -> dict[str, Any] | None:
        for key, row in list(self.rows.items()):
            if row["account_id"] == account_id and identity_id(row["issuer"], row["subject"]) == link_id:
                del self.rows[key]
                self.accounts.rows[account_id]["oidc_identities"].remove(link_id)
                return row
        return None


@pytest.fixture
def links(world: Any) -> InMemoryLinks:
    return InMemoryLinks(world.repos.accounts)


def identities(world: Any, links: InMemoryLinks, *, password_sign_in: bool = True) -> LinkedIdentities:
    return LinkedIdentities(
        world.accounts,
        links,
        issuer=ISSUER,
        provider_name="Acme",
        password_sign_in=password_sign_in,
        links_in=lambda _tx: links,
    )


async def _account(world: Any, *, password: bool) -> str:
    account = await world.accounts.sign_up(username="ada", email="ada@example.com", password=PASSWORD, plan="free")
    if not password:
        world.repos.accounts.rows[account.id]["password_hash"] = ""  # as an account a provider's sign-in made
    return str(account.id)


async def test_an_account_without_a_password_cannot_unlink_its_only_identity(world: Any, links: InMemoryLinks) -> None:
    ada = await _account(world, password=False)
    await links.link(ISSUER, "s-1", ada)
    use = identities(world, links)
    [listed] = await use.list(ada)
    assert (listed["provider"], listed["can_unlink"]) == ("Acme", False)
    commits = world.uow.commits
    with pytest.raises(LastWayIn):
        await use.unlink(ada, identity_id(ISSUER, "s-1"))
    assert len(links.rows) == 1 and world.uow.commits == commits  # nothing removed, nothing emitted

    await links.link("https://other.example.net", "s-9", ada)  # a second identity: either may go now
    assert [row["can_unlink"] for row in await use.list(ada)] == [True, True]
    await use.unlink(ada, identity_id(ISSUER, "s-1"))
    [left] = await use.list(ada)
    assert (left["provider"], left["can_unlink"]) == ("https://other.example.net", False)


async def test_unlinking_emits_the_event_and_replicates_the_account_without_the_identity(
    world: Any, links: InMemoryLinks
) -> None:
    ada = await _account(world, password=True)
    await links.link(ISSUER, "s-1", ada)
    gone = identity_id(ISSUER, "s-1")
    await identities(world, links).unlink(ada, gone)
    assert links.rows == {}
    event = world.uow.emitted[-1]
    assert isinstance(event, AccountIdentityUnlinked)
    assert (event.account_id, event.identity_id, event.issuer) == (ada, gone, ISSUER)
    assert "s-1" not in event.model_dump_json()  # the provider's subject is not in the audit trail
    queued = world.repos.replication.rows[f"there:{ada}"]
    assert queued["oidc_identities"] == [] and queued["version"] == 2


async def test_another_accounts_identity_or_an_unknown_id_is_404(world: Any, links: InMemoryLinks) -> None:
    ada = await _account(world, password=True)
    await links.link(ISSUER, "s-1", "someone-else")
    with pytest.raises(IdentityNotFound) as refused:
        await identities(world, links).unlink(ada, identity_id(ISSUER, "s-1"))
    assert refused.value.status == 404 and len(links.rows) == 1
    with pytest.raises(IdentityNotFound):
        await identities(world, links).unlink(ada, "0" * 64)


# --- the other region -------------------------------------------------------------------------


def test_the_replica_carries_the_ids_of_the_linked_identities_and_never_the_subject() -> None:
    account = {"username": "ada", "home_region": "eu", "oidc_identities": [identity_id(ISSUER, "s-1")]}
    state = replica_state(account)
    assert state["oidc_identities"] == [identity_id(ISSUER, "s-1")] and "s-1" not in str(state)
    assert replica_state({"username": "ada", "home_region": "eu"})["oidc_identities"] == []


class NoClaims:
    async def holder(self, address: str) -> str | None:
        return None


def sign_in_at(world: Any, links: InMemoryLinks, *, linked_home: str | None, holder_home: str | None) -> OidcSignIn:
    async def home_of_identity(_identity_id: str) -> str | None:
        return linked_home

    async def holder_elsewhere(_address: str) -> str | None:
        return holder_home

    return OidcSignIn(
        provider=None,  # type: ignore[arg-type]
        flows=None,  # type: ignore[arg-type]
        links=links,
        claims=NoClaims(),  # type: ignore[arg-type]
        accounts=world.accounts,
        role_of=lambda _account: "user",
        region="here",
        home_of_identity=home_of_identity,
        holder_elsewhere=holder_elsewhere,
        links_in=lambda _tx: links,
    )


IDENTITY = ProviderIdentity(issuer=ISSUER, subject="s-1", email="ada@example.com", email_verified=True)


@pytest.mark.parametrize(
    ("linked_home", "holder_home"),
    [("there", None), (None, "there")],
    ids=["identity-linked-at-home", "address-verified-at-home"],
)
async def test_a_sign_in_at_a_region_that_is_not_home_is_sent_home_and_makes_nothing_here(
    world: Any, links: InMemoryLinks, linked_home: str | None, holder_home: str | None
) -> None:
    with pytest.raises(HomeElsewhere) as sent:
        await sign_in_at(world, links, linked_home=linked_home, holder_home=holder_home).sign_in(IDENTITY)
    assert sent.value.status == 421 and sent.value.home_region == "there"
    assert world.repos.accounts.rows == {} and links.rows == {} and world.uow.emitted == []
