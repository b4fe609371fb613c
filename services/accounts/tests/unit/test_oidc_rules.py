"""Sign-in with OpenID Connect: the linking rules and the usernames of new accounts (pure)."""

from __future__ import annotations

import itertools

import pytest

from docstore_accounts.domain.accounts import USERNAME
from docstore_accounts.domain.oidc import (
    Create,
    LinkByEmail,
    Linked,
    PasswordSignInOff,
    ProviderIdentity,
    UnverifiedProviderEmail,
    decide,
    username_base,
    username_candidates,
)

ISSUER = "https://id.example.org"


def who(email: str = "ann@example.org", *, verified: bool = True, **more: str) -> ProviderIdentity:
    return ProviderIdentity(issuer=ISSUER, subject="s-1", email=email, email_verified=verified, **more)


def test_a_linked_identity_signs_in_to_its_account_whatever_its_address_says_now() -> None:
    assert decide(who("other@example.org", verified=False), linked_account="acc-1", email_holder="acc-2") == Linked(
        "acc-1"
    )


def test_the_first_sign_in_links_the_account_holding_the_verified_address() -> None:
    assert decide(who(), linked_account=None, email_holder="acc-2") == LinkByEmail("acc-2")


def test_the_first_sign_in_with_a_free_verified_address_creates_an_account() -> None:
    assert decide(who(), linked_account=None, email_holder=None) == Create()


@pytest.mark.parametrize("identity", [who(verified=False), who(""), who("not-an-address")])
def test_an_address_the_provider_did_not_verify_links_nobody_and_creates_nothing(identity: ProviderIdentity) -> None:
    with pytest.raises(UnverifiedProviderEmail):
        decide(identity, linked_account=None, email_holder="acc-2")
    with pytest.raises(UnverifiedProviderEmail):
        decide(identity, linked_account=None, email_holder=None)


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        (who(preferred_username="Ann.Lee"), "ann.lee"),
        (who("zoë.müller@example.org"), "zoe.muller"),
        (who(preferred_username="../../etc/passwd"), "etc-passwd"),
        (who("--@example.org", name="Ω"), "user"),
        (who(preferred_username="a" * 80), "a" * 28),
        (who("x@example.org", name="Jo Bloggs"), "jo-bloggs"),
    ],
)
def test_usernames_are_derived_safely(identity: ProviderIdentity, expected: str) -> None:
    assert username_base(identity) == expected
    assert USERNAME.match(expected)


def test_candidates_are_valid_distinct_and_go_on_when_the_numbered_ones_are_taken() -> None:
    names = list(itertools.islice(username_candidates(who(preferred_username="ann")), 30))
    assert names[:3] == ["ann", "ann-2", "ann-3"]
    assert all(USERNAME.match(name) for name in names)
    assert len(set(names)) > 25  # random suffixes after the numbered ones


def test_password_sign_in_off_answers_403_naming_the_provider() -> None:
    refused = PasswordSignInOff("Example ID")
    assert refused.status == 403
    assert "Sign in with Example ID instead" in refused.detail()
