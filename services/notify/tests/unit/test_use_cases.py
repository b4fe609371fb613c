"""notify's use cases on a FakeUnitOfWork with in-memory repositories and a recording mailer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from notify_fakes import World

from docstore_events import AccountCreated, FileModified, QuotaExceeded, UploadExpired
from docstore_notify.domain.errors import InvalidCursor, MailRejected
from docstore_notify.domain.notices import Notice

GB = 1_000_000_000
ACCOUNT, EMAIL = "acc-1", "ada@example.com"


def signed_up(account_id: str = ACCOUNT, email: str = EMAIL) -> AccountCreated:
    return AccountCreated(account_id=account_id, username="ada", email=email, plan="free", home_region="us-west-2")


def full(account_id: str = ACCOUNT, used: int = 5_300_000_000) -> Notice:
    return Notice.quota_exceeded(QuotaExceeded(account_id=account_id, used_bytes=used, cap_bytes=5 * GB, plan="free"))


def changed(version: int, actor_id: str = "acc-editor") -> FileModified:
    return FileModified(
        account_id="acc-owner", document_id="doc-1", version=version, name="plan.odt", size=10, actor_id=actor_id
    )


async def test_quota_exceeded_sends_one_mail_and_marks_it_sent() -> None:
    world = World.build()
    await world.notifier.remember_recipient("e-0", signed_up())
    assert await world.notifier.notify("e-1", full())
    [mail] = world.mailer.sent
    assert mail.to == EMAIL and mail.message.subject == "Your DocStore storage is full"
    assert mail.unsubscribe_url and mail.unsubscribe_url.startswith("https://docstore.example/v1/notifications/")
    row = world.rows()["e-1"]
    assert row["status"] == "sent" and row["message_id"] == "msg-1" and row["attempts"] == 1


async def test_claiming_sending_and_marking_a_mail_commit_no_transaction_of_their_own() -> None:
    # Single writes outside any transaction: in one, a process killed between the claim and its
    # commit left the row locked for the database's 60 s transaction lifetime, and every sweep,
    # sorted to that row, waited behind it.
    world = World.build()
    await world.notifier.remember_recipient("e-0", signed_up())
    before = world.uow.commits
    assert await world.notifier.notify("e-1", full())
    assert world.rows()["e-1"]["status"] == "sent"
    assert world.uow.commits == before + 1  # the event's own record only


async def test_a_redelivered_event_sends_nothing_twice() -> None:
    world = World.build()
    await world.notifier.remember_recipient("e-0", signed_up())
    assert await world.notifier.notify("e-1", full())
    assert not await world.notifier.notify("e-1", full())  # Kafka redelivers: same event id
    assert not await world.notifier.remember_recipient("e-0", signed_up())
    assert len(world.mailer.sent) == 1 and list(world.rows()) == ["e-1"]
    assert await world.notifier.sweep() == 0  # nothing left pending either
    assert len(world.mailer.sent) == 1


async def test_an_unsubscribed_recipient_gets_no_mail() -> None:
    world = World.build()
    await world.notifier.remember_recipient("e-0", signed_up())
    await world.notifier.notify("e-1", full())
    token = (world.mailer.sent[0].unsubscribe_url or "").rsplit("/", 1)[1]
    found = await world.subscriptions.unsubscribe(token)
    assert found is not None and found.kind == "quota.exceeded"
    assert (await world.subscriptions.of(ACCOUNT))["quota.exceeded"] == "off"

    await world.notifier.notify("e-2", full(used=7 * GB))
    assert len(world.mailer.sent) == 1 and "e-2" not in world.rows()


async def test_a_forged_or_malformed_unsubscribe_link_changes_nothing() -> None:
    world = World.build()
    assert await world.subscriptions.unsubscribe("A" * 43) is None
    assert await world.subscriptions.resolve("é" * 43) is None
    assert (await world.subscriptions.of(ACCOUNT))["quota.exceeded"] == "instant"


async def test_a_mail_before_the_address_waits_and_goes_once_the_account_arrives() -> None:
    world = World.build()
    await world.notifier.notify("e-1", full())
    assert world.rows()["e-1"]["status"] == "waiting" and world.mailer.sent == []
    await world.notifier.remember_recipient("e-0", signed_up())
    assert [mail.to for mail in world.mailer.sent] == [EMAIL]
    assert world.rows()["e-1"]["status"] == "sent"


async def test_a_transient_send_failure_is_retried_by_the_sweeper_once_the_lease_runs_out() -> None:
    world = World.build()
    await world.notifier.remember_recipient("e-0", signed_up())
    world.mailer.refuse.append(ConnectionError("SES away"))
    await world.notifier.notify("e-1", full())
    row = world.rows()["e-1"]
    assert world.mailer.sent == [] and row["status"] == "pending" and "SES away" in row["last_error"]
    assert await world.notifier.sweep() == 0  # the lease still holds
    row["next_attempt_at"] = datetime.now(UTC) - timedelta(seconds=1)
    assert await world.notifier.sweep() == 1
    assert len(world.mailer.sent) == 1 and world.rows()["e-1"]["status"] == "sent"


async def test_a_refused_mail_fails_at_once_and_is_never_retried() -> None:
    world = World.build()
    await world.notifier.remember_recipient("e-0", signed_up())
    world.mailer.refuse.append(MailRejected("MessageRejected"))
    await world.notifier.notify("e-1", full())
    row = world.rows()["e-1"]
    assert row["status"] == "failed" and row["attempts"] == 1
    row["next_attempt_at"] = datetime.now(UTC) - timedelta(seconds=1)
    assert await world.notifier.sweep() == 0 and world.mailer.sent == []


async def test_changes_to_a_followed_file_make_one_mail_per_follower_never_to_its_author() -> None:
    world = World.build()
    for n, who in enumerate(("acc-reader", "acc-editor")):
        await world.notifier.remember_recipient(f"a-{n}", signed_up(who, f"{who}@example.com"))
        await world.notifier.set_following(
            f"f-{n}", document_id="doc-1", follower_id=who, following=True, at=datetime.now(UTC)
        )
    for version in (2, 3, 4):
        await world.notifier.notify_followers(f"m-{version}", changed(version))
    # Held for the coalescing window: nothing yet, and one row for the three changes.
    assert world.mailer.sent == []
    [row] = world.rows().values()
    assert row["account_id"] == "acc-reader" and row["params"]["changes"] == 3 and row["params"]["version"] == 4
    row["next_attempt_at"] = datetime.now(UTC) - timedelta(seconds=1)
    assert await world.notifier.sweep() == 1
    assert [mail.to for mail in world.mailer.sent] == ["acc-reader@example.com"]


async def test_an_unfollow_older_than_the_follow_is_ignored() -> None:
    world = World.build(coalesce_window=timedelta(0))
    now = datetime.now(UTC)
    await world.notifier.remember_recipient("a-1", signed_up("acc-reader", "r@example.com"))
    await world.notifier.set_following("f-2", document_id="doc-1", follower_id="acc-reader", following=True, at=now)
    await world.notifier.set_following(
        "f-1", document_id="doc-1", follower_id="acc-reader", following=False, at=now - timedelta(seconds=5)
    )
    await world.notifier.notify_followers("m-1", changed(2))
    assert [mail.to for mail in world.mailer.sent] == ["r@example.com"]


async def test_digest_items_go_out_as_one_digest_mail() -> None:
    world = World.build()
    await world.notifier.remember_recipient("e-0", signed_up())
    await world.subscriptions.choose(ACCOUNT, {"upload.expired": "digest", "quota.exceeded": "digest"})
    for n in range(3):
        expired = UploadExpired(account_id=ACCOUNT, upload_id=f"u{n}", document_id=f"d{n}", filename=f"f{n}.txt")
        await world.notifier.notify(f"x-{n}", Notice.upload_expired(expired))
    assert world.mailer.sent == []
    assert await world.notifier.send_digests() == 1
    [mail] = world.mailer.sent
    assert mail.message.subject == "Your DocStore digest: 3 updates"
    assert await world.notifier.send_digests() == 0

    # The digest's unsubscribe link turns off every kind set to digest, and only those.
    token = (mail.unsubscribe_url or "").rsplit("/", 1)[1]
    await world.subscriptions.unsubscribe(token)
    modes = await world.subscriptions.of(ACCOUNT)
    assert modes["upload.expired"] == modes["quota.exceeded"] == "off" and modes["quota.restored"] == "instant"


async def test_history_pages_newest_first_and_refuses_foreign_cursors() -> None:
    world = World.build()
    await world.notifier.remember_recipient("e-0", signed_up())
    for n in range(3):
        await world.notifier.notify(f"e-{n + 1}", full(used=(6 + n) * GB))
    first = await world.subscriptions.history(ACCOUNT, limit=2, cursor=None)
    assert len(first.rows) == 2 and first.next_cursor
    second = await world.subscriptions.history(ACCOUNT, limit=2, cursor=first.next_cursor)
    assert len(second.rows) == 1 and second.next_cursor is None
    with pytest.raises(InvalidCursor):
        await world.subscriptions.history(ACCOUNT, limit=2, cursor="nope")
