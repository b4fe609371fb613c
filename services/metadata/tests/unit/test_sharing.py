"""Sharing with people of the other region (issue 37, D4), on in-memory repositories."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from docstore_events import AccountCreated, AccountReplicated, ShareCreated
from docstore_kit.errors import Invalid
from docstore_metadata.domain.people import TooManyLookups
from docstore_metadata.domain.sharing import GranteeInOtherRegion, UnknownUser
from docstore_metadata.service_layer.account_projection import AccountProjector
from docstore_metadata.service_layer.people import People

from .test_use_cases import OWNER, PASSWORD, upload

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def replicated(account_id: str, username: str, status: str = "active", version: int = 1) -> AccountReplicated:
    return AccountReplicated(
        account_id=account_id,
        username=username,
        home_region="there",
        replica_region="here",
        version=version,
        status=status,
    )


async def test_a_person_of_the_other_region_is_refused_with_the_truth(world: Any) -> None:
    event = upload()
    await world.documents.record_upload(event)
    # Before this region holds the replica, nobody here knows the name.
    with pytest.raises(UnknownUser):
        await world.sharing.share(OWNER, event.document_id, "zoe", "view")

    await AccountProjector(world.uow).apply_once([("r1", replicated("acc-zoe", "zoe"), AT)])
    with pytest.raises(GranteeInOtherRegion) as refused:
        await world.sharing.share(OWNER, event.document_id, "Zoe", "view")
    assert refused.value.status == 409
    assert refused.value.extra() == {"username": "zoe", "home_region": "there"}
    assert "public link" in str(refused.value) and "Nobody" not in str(refused.value)
    assert not [e for e in world.uow.emitted if isinstance(e, ShareCreated)]
    assert world.repos.sharing.shares == {}

    # The account deleted at home: the replica says so, and the name is nobody's again.
    await AccountProjector(world.uow).apply_once([("r2", replicated("acc-zoe", "zoe", "deleted", 2), AT)])
    with pytest.raises(UnknownUser):
        await world.sharing.share(OWNER, event.document_id, "zoe", "view")


async def test_a_replica_event_sets_only_what_a_replica_holds(world: Any) -> None:
    projector = AccountProjector(world.uow)
    assert await projector.apply_once([("r1", replicated("acc-zoe", "zoe"), AT)]) == {"r1"}
    assert await world.repos.projection.by_id("acc-zoe") == {
        "_id": "acc-zoe",
        "username": "zoe",
        "home_region": "there",
        "status": "active",
    }
    # Redelivered: applied once.
    assert await projector.apply_once([("r1", replicated("acc-zoe", "zoe"), AT)]) == frozenset()


# --- finding a person to share with (issue 37): suggestions that are no enumeration oracle -------


async def test_suggestions_reach_only_people_already_shared_with_and_the_exact_name(world: Any) -> None:
    created = []
    for name in ("bob", "bobby", "bobcat"):
        account = await world.accounts.sign_up(
            username=name, email=f"{name}@example.com", password=PASSWORD, plan="free"
        )
        created.append(
            AccountCreated(account_id=account.id, username=name, email=account.email, plan="free", home_region="here")
        )
    # The projection holds what the sign-ups' events (emitted by the accounts service) and another
    # region's replica said.
    await AccountProjector(world.uow).apply_once(
        [(f"c{i}", e, AT) for i, e in enumerate(created)] + [("r1", replicated("acc-bo", "bo-there"), AT)]
    )
    event = upload()
    await world.documents.record_upload(event)
    await world.sharing.share(OWNER, event.document_id, "bobby", "view")

    def names(found: list[dict[str, Any]]) -> list[str]:
        return [p["username"] for p in found]

    # A prefix suggests only bobby (shared with already), never bob or bobcat (strangers).
    assert names(await world.sharing.people.lookup(OWNER, "bo")) == ["bobby"]
    # The exact name finds a stranger, first, as sharing by that name would.
    found = await world.sharing.people.lookup(OWNER, " BOB ")
    assert names(found) == ["bob", "bobby"] and [p["known"] for p in found] == [False, True]
    # Another region's person, named exactly: told as such, not shareable.
    there = await world.sharing.people.lookup(OWNER, "bo-there")
    assert there == [
        {
            "username": "bo-there",
            "known": False,
            "shareable": False,
            "note": "In another DocStore region (there): send a public link instead.",
        }
    ]
    # The grantee's suggestions name the owner back only if the owner is an account it knows.
    bobby = await world.repos.owners.by_username("bobby")
    assert names(await world.sharing.people.lookup(bobby["_id"], "bob")) == ["bob"]
    for bad in ("   ", "bo\x00", "x" * 65):
        with pytest.raises(Invalid):
            await world.sharing.people.lookup(OWNER, bad)
    # A query is a literal prefix, never a pattern: "." matches no name.
    assert await world.sharing.people.lookup(OWNER, ".") == []


async def test_a_person_signed_up_a_moment_ago_is_suggested_before_their_events_arrive(world: Any) -> None:
    """The projection lags the accounts service's events (a loaded machine: seconds); sharing by
    name asks the accounts service then, and so do the suggestions."""
    carol = await world.accounts.sign_up(username="carol", email="carol@example.com", password=PASSWORD, plan="free")
    event = upload()
    await world.documents.record_upload(event)
    await world.sharing.share(OWNER, event.document_id, "carol", "view")
    assert await world.repos.projection.by_id(carol.id) is None
    assert [p["username"] for p in await world.sharing.people.lookup(OWNER, "car")] == ["carol"]
    assert [(p["username"], p["known"]) for p in await world.sharing.people.lookup(OWNER, "carol")] == [("carol", True)]


async def test_lookups_are_limited_per_account(world: Any) -> None:
    people = People(world.repos, region="here", lookups_per_minute=3)
    for _ in range(3):
        await people.lookup(OWNER, "x")
    with pytest.raises(TooManyLookups) as refused:
        await people.lookup(OWNER, "x")
    assert refused.value.status == 429 and refused.value.retry_after == 60
    await people.lookup("someone-else", "x")  # per account


async def test_the_lookup_limit_holds_across_a_clock_minute(world: Any) -> None:
    now = [60 * 1000 + 55.0]  # five seconds before a new minute
    people = People(world.repos, region="here", lookups_per_minute=3, clock=lambda: now[0])
    for _ in range(3):
        await people.lookup(OWNER, "x")
    now[0] += 10  # five seconds into the next minute: those three were within the last 60 s
    with pytest.raises(TooManyLookups):
        await people.lookup(OWNER, "x")
    now[0] += 60  # a minute later they have all aged out
    await people.lookup(OWNER, "x")


async def test_an_address_finds_its_verified_holder_by_username_and_nothing_else(world: Any) -> None:
    """A query with an `@` asks the accounts service for the one account whose verified address it
    is exactly (any case), answered by username only; a part of an address, an unverified one and
    the caller's own find nobody, and address lookups count against the same limit."""
    dana = await world.accounts.sign_up(username="dana", email="Dana@Example.com", password=PASSWORD, plan="free")
    erin = await world.accounts.sign_up(username="erin", email="erin@example.com", password=PASSWORD, plan="free")
    await world.accounts.update(erin.id, {"email_verified": False})
    people = People(world.repos, region="here", lookups_per_minute=7)  # OWNER asks 7 times below
    found = await people.lookup(OWNER, " dana@example.COM ")
    assert found == [{"username": "dana", "known": False, "shareable": True, "note": None}]
    for nobody in ("dana@example.co", "dana@", "@example.com", "ana@example.com", "erin@example.com"):
        assert await people.lookup(OWNER, nobody) == [], nobody
    assert await people.lookup(dana.id, "dana@example.com") == []  # oneself
    assert await people.lookup(OWNER, "x" * 60 + "@example.com") == []  # an address may be longer than a name
    with pytest.raises(TooManyLookups):
        await people.lookup(OWNER, "dana@example.com")
