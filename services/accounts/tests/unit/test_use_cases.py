"""Account use cases on `FakeUnitOfWork` and in-memory repositories (`conftest.py`): what each one
stores, emits and refuses, without servers."""

from __future__ import annotations

from typing import Any

import pytest

from docstore_accounts.domain.accounts import AccountNotFound, HomeElsewhere, InvalidReplica, UsernameTaken
from docstore_events import AccountCreated, AccountPlanChanged

PASSWORD = "quartz lantern orbit 97 meadow"


# --- accounts --------------------------------------------------------------------------------


async def test_sign_up_emits_account_created_without_secrets_and_queues_the_replica(world: Any) -> None:
    account = await world.accounts.sign_up(username=" Ada ", email="ada@example.com", password=PASSWORD, plan="free")
    [created] = world.uow.emitted
    assert isinstance(created, AccountCreated)
    assert created.account_id == account.id and created.username == "ada" and created.home_region == "here"
    dumped = created.model_dump_json()
    assert PASSWORD not in dumped and account.password_hash not in dumped and "password" not in dumped
    assert world.repos.replicas.usernames["ada"]["account_id"] == account.id
    assert world.repos.replication.rows[f"there:{account.id}"]["version"] == 1
    assert world.woken == ["replication"]


async def test_a_taken_username_is_refused_with_409_and_emits_nothing(world: Any) -> None:
    await world.accounts.sign_up(username="ada", email="ada@example.com", password=PASSWORD, plan="free")
    with pytest.raises(UsernameTaken, match="^The username ada is taken") as refused:
        await world.accounts.sign_up(username="ADA", email="other@example.com", password=PASSWORD, plan="free")
    assert refused.value.status == 409
    assert len(world.uow.emitted) == 1 and world.uow.commits == 1


async def test_plan_change_bumps_the_replica_version_and_unknown_accounts_are_404(world: Any) -> None:
    account = await world.accounts.sign_up(username="ada", email="ada@example.com", password=PASSWORD, plan="free")
    changed = await world.accounts.change_plan(account.id, "premium")
    assert changed["plan"] == "premium" and changed["replica_version"] == 2
    assert [type(e) for e in world.uow.emitted] == [AccountCreated, AccountPlanChanged]
    assert world.repos.replication.rows[f"there:{account.id}"]["plan"] == "premium"
    await world.accounts.change_plan(account.id, "premium")  # no change, no event
    assert len(world.uow.emitted) == 2
    with pytest.raises(AccountNotFound) as missing:
        await world.accounts.change_plan("nobody", "premium")
    assert missing.value.status == 404 and str(missing.value) == "This account could not be found."


async def test_log_in_elsewhere_and_replicas_of_this_region_are_refused(world: Any) -> None:
    applied = await world.accounts.receive_replica(
        "acc-far", {"username": "bob", "home_region": "there", "plan": "free", "status": "active", "version": 1}
    )
    assert applied
    assert not await world.accounts.receive_replica(
        "acc-far", {"username": "bob", "home_region": "there", "plan": "free", "status": "active", "version": 1}
    )
    with pytest.raises(HomeElsewhere) as elsewhere:
        await world.accounts.authenticate("bob", PASSWORD)
    assert elsewhere.value.status == 421 and elsewhere.value.extra() == {"home_region": "there"}
    assert await world.accounts.authenticate("nobody", PASSWORD) is None
    with pytest.raises(InvalidReplica):
        await world.accounts.receive_replica(
            "acc-x", {"username": "x", "home_region": "here", "plan": "free", "status": "active", "version": 1}
        )


# --- documents -------------------------------------------------------------------------------
