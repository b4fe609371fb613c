"""The "New sign-in to DocStore" mail: what it says (client, address, time; escaped), that it is
the `security` kind (preference, unsubscribe), once per event, and that an unverified address
gets none (only the verification and reset mails go there)."""

from __future__ import annotations

from datetime import UTC, datetime

from notify_fakes import World

from docstore_events import AccountCreated, Envelope
from docstore_events.devices import NewDeviceSignInDetected
from docstore_notify.consumers.handlers import handlers
from docstore_notify.domain.mail import KINDS, SECURITY, render
from docstore_notify.domain.sign_in_mails import new_sign_in_notice

ACCOUNT, EMAIL = "acc-1", "ada@example.com"
AT = datetime(2026, 11, 23, 18, 5, tzinfo=UTC)


def signed_in(client: str = "Firefox 133 on Ubuntu") -> NewDeviceSignInDetected:
    return NewDeviceSignInDetected(
        account_id=ACCOUNT, client=client, address="203.0.113.7", region="us-west-2", signed_in_at=AT, session_id="s1"
    )


def signed_up(*, verified: bool = True) -> AccountCreated:
    return AccountCreated(
        account_id=ACCOUNT, username="ada", email=EMAIL, plan="free", home_region="us-west-2", email_verified=verified
    )


def test_the_mail_names_client_address_and_time_and_where_to_act() -> None:
    notice = new_sign_in_notice(signed_in())
    assert notice.kind == SECURITY and SECURITY in KINDS
    message = render(notice.kind, notice.params, app_url="https://docstore.example")
    assert message.subject == "New sign-in to DocStore"
    for fact in ("Firefox 133 on Ubuntu", "203.0.113.7", "Monday 23 November 2026, 18:05 UTC", "change your password"):
        assert fact in message.text
    assert "https://docstore.example/#/settings" in message.text


def test_a_client_name_is_escaped_in_the_html() -> None:
    notice = new_sign_in_notice(signed_in(client='<img src=x onerror="alert(1)">'))
    message = render(notice.kind, notice.params)
    assert "<img" not in message.html and "&lt;img" in message.html


async def test_one_mail_per_event_under_the_security_preference() -> None:
    world = World.build()
    await world.notifier.remember_recipient("e-0", signed_up())
    handle = handlers(world.notifier)[NewDeviceSignInDetected]
    envelope = Envelope(id="e-1", source="/docstore/us-west-2/gateway", time=AT, data=signed_in())
    assert await handle(envelope)
    assert not await handle(envelope)  # redelivered: nothing twice
    [mail] = world.mailer.sent
    assert mail.to == EMAIL and mail.message.subject == "New sign-in to DocStore"
    assert mail.unsubscribe_url  # the same unsubscribe as every kind

    await world.subscriptions.choose(ACCOUNT, {SECURITY: "off"})
    await world.notifier.notify("e-2", new_sign_in_notice(signed_in(client="Chrome 131 on Mac OS X")))
    assert len(world.mailer.sent) == 1


async def test_an_unverified_address_gets_no_sign_in_mail() -> None:
    world = World.build()
    await world.notifier.remember_recipient("e-0", signed_up(verified=False))
    await world.notifier.notify("e-1", new_sign_in_notice(signed_in()))
    assert world.mailer.sent == []
