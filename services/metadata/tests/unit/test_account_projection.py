"""Metadata's projection of accounts (issue 36): `account.*` events applied once each, and what
documents and sharing read of an account (`Owners`): the projection, else the owner of
accounts when the projection does not know the account or would refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from docstore_events import AccountCreated, AccountDeleted, AccountPlanChanged, AccountUsernameConflicted
from docstore_events.credentials import AccountEmailVerified
from docstore_metadata.service_layer.account_projection import AccountProjector

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def test_each_event_is_applied_once_in_order(world) -> None:
    projector = AccountProjector(world.uow)
    events = [
        (
            "e1",
            AccountCreated(
                account_id="a1",
                username="ann",
                email="a@x.example",
                plan="free",
                home_region="here",
                email_verified=False,
            ),
            AT,
        ),
        ("e2", AccountEmailVerified(account_id="a1"), AT),
        ("e3", AccountPlanChanged(account_id="a1", old_plan="free", new_plan="premium"), AT),
    ]
    assert await projector.apply_once(events) == {"e1", "e2", "e3"}
    row = await world.repos.projection.by_id("a1")
    assert row == {
        "_id": "a1",
        "username": "ann",
        "plan": "premium",
        "home_region": "here",
        "email_verified": True,
        "status": "active",
    }
    assert "email" not in row  # an address is identity's, never metadata's

    # Redelivered, even the creation after the upgrade: nothing changes.
    assert await projector.apply_once(events[:1]) == frozenset()
    assert (await world.repos.projection.by_id("a1"))["plan"] == "premium"

    await projector.apply_once([("e4", AccountDeleted(account_id="a1", username="ann", home_region="here"), AT)])
    row = await world.repos.projection.by_id("a1")
    assert (row["status"], row["deleted_at"]) == ("deleted", AT)
    assert await world.repos.projection.deleted_since(AT) == [{"_id": "a1", "deleted_at": AT}]


async def test_a_lost_username_is_recorded(world) -> None:
    projector = AccountProjector(world.uow)
    lost = AccountUsernameConflicted(
        account_id="a2", username="bo", home_region="here", winner_account_id="w", winner_region="there"
    )
    await projector.apply_once([("e1", lost, AT)])
    assert (await world.repos.projection.by_id("a2"))["status"] == "username_conflict"


async def test_owners_ask_the_accounts_owner_only_when_the_projection_does_not_know_or_would_refuse(world) -> None:
    account = await world.accounts.sign_up(
        username="cyd", email="c@x.example", password="a long passphrase 42", plan="premium"
    )
    # The sign-up's event has not arrived: the owner of accounts answers.
    assert (await world.repos.owners.by_username("cyd"))["_id"] == account.id
    assert await world.repos.owners.plan_of(account.id) == "premium"

    # The projection says unverified and free (an old event): the owner is asked, and wins.
    await world.repos.projection.apply(account.id, {}, {"username": "cyd", "plan": "free", "email_verified": False})
    await world.accounts.update(account.id, {"email_verified": True})
    assert (await world.repos.owners.by_id(account.id))["email_verified"] is True
    assert await world.repos.owners.plan_of(account.id) == "premium"

    # What the projection knows and would not refuse is answered from it alone.
    await world.repos.projection.apply(account.id, {"plan": "premium", "email_verified": True}, {})
    await world.accounts.update(account.id, {"plan": "free", "username": "renamed"})
    assert await world.repos.owners.plan_of(account.id) == "premium"
    assert (await world.repos.owners.by_username("cyd"))["_id"] == account.id
    assert await world.repos.owners.plan_of("nobody") == "free"


async def test_a_deletion_the_accounts_service_confirms_reaches_the_projection_before_its_event(world) -> None:
    """`end_access_now` (the accounts service's call right after a deletion): a link's use asks the
    projection whether its owner is active, so the projection must not wait for `account.deleted`."""
    from docstore_metadata.service_layer.account_purge import AccountPurge

    purge = AccountPurge(world.uow, world.repos, world.documents, grace=timedelta(days=30), interval=60)
    account = await world.accounts.sign_up(
        username="dee", email="d@x.example", password="a long passphrase 42", plan="free"
    )
    created = AccountCreated(
        account_id=account.id, username="dee", email="d@x.example", plan="free", home_region="here", email_verified=True
    )
    await AccountProjector(world.uow).apply_once([("e1", created, AT)])

    await purge.end_access_now(account.id)  # not deleted: whoever calls, nothing changes
    assert (await world.repos.owners.by_id(account.id))["status"] == "active"

    await world.accounts.update(account.id, {"status": "deleted"})
    await purge.end_access_now(account.id)
    assert (await world.repos.projection.by_id(account.id))["status"] == "deleted"
    assert (await world.repos.owners.by_id(account.id))["status"] == "deleted"

    # The event, when it comes, adds the deletion's time (the purge counts from it).
    await AccountProjector(world.uow).apply_once(
        [("e2", AccountDeleted(account_id=account.id, username="dee", home_region="here"), AT)]
    )
    assert (await world.repos.projection.by_id(account.id))["deleted_at"] == AT
