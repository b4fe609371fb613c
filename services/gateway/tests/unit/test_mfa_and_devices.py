"""Pure rules of issue 20's gateway side: the second-step ticket (signed, 5 minutes, names its
account, no identity token passes for one), a user agent's short form, and when a sign-in is new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from docstore_gateway.domain.devices import UNKNOWN_CLIENT, client_of, device_key, is_new_sign_in
from docstore_gateway.domain.mfa import TICKET_SECONDS, InvalidTicket, issue_ticket, read_ticket
from docstore_kit.auth import InternalAuth

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEYS = {"k1": "a" * 40, "k2": "b" * 40}


def test_a_ticket_names_its_account_and_lives_five_minutes() -> None:
    text, issued = issue_ticket("acc-1", "user", "us-west-2", now=NOW, keys=KEYS, key_id="k1")
    read = read_ticket(text, now=NOW + timedelta(seconds=TICKET_SECONDS - 1), keys=KEYS)
    assert read == issued
    assert (read.account_id, read.role, read.region) == ("acc-1", "user", "us-west-2")
    assert read.expires_at - NOW == timedelta(minutes=5)
    with pytest.raises(InvalidTicket):
        read_ticket(text, now=NOW + timedelta(seconds=TICKET_SECONDS), keys=KEYS)


def test_each_ticket_has_its_own_id() -> None:
    ids = {issue_ticket("acc-1", "user", "", now=NOW, keys=KEYS, key_id="k1")[1].ticket_id for _ in range(50)}
    assert len(ids) == 50


def test_a_changed_ticket_or_an_unknown_key_is_refused() -> None:
    text, _ = issue_ticket("acc-1", "user", "", now=NOW, keys=KEYS, key_id="k2")
    header, claims, signature = text.split(".")
    other, _ = issue_ticket("acc-2", "user", "", now=NOW, keys=KEYS, key_id="k2")
    spliced = ".".join([header, other.split(".")[1], signature])  # acc-2's claims under acc-1's signature
    for bad in (spliced, text[:-3] + "AAA", "", "x" * 5000, "not.a.ticket"):
        with pytest.raises(InvalidTicket):
            read_ticket(bad, now=NOW, keys=KEYS)
    with pytest.raises(InvalidTicket):
        read_ticket(text, now=NOW, keys={"k1": KEYS["k1"]})  # k2 retired
    assert read_ticket(text, now=NOW, keys=KEYS).account_id == "acc-1"  # during a rotation, both keys work


def test_an_identity_token_signed_with_the_same_key_is_not_a_ticket() -> None:
    identity = InternalAuth("gateway", KEYS, "k1").mint(audience="gateway", subject="acc-1")
    with pytest.raises(InvalidTicket):
        read_ticket(identity, now=datetime.now(UTC), keys=KEYS)


@pytest.mark.parametrize(
    ("agent", "label", "family"),
    [
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox 133 on Ubuntu",
            "Firefox on Ubuntu",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "Chrome 131 on Mac OS X",
            "Chrome on Mac OS X",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Mobile/15E148 Safari/604.1",
            "Mobile Safari 17 on iOS",
            "Mobile Safari on iOS",
        ),
        ("docstore-sync/0.1.0 (Linux)", "docstore-sync 0.1.0 on Linux", "docstore-sync on Linux"),
        ("python-httpx/0.28.1", "python-httpx 0.28.1", "python-httpx"),
        ("", UNKNOWN_CLIENT, UNKNOWN_CLIENT),
        (None, UNKNOWN_CLIENT, UNKNOWN_CLIENT),
        ("<script>alert(1)</script>", UNKNOWN_CLIENT, UNKNOWN_CLIENT),
    ],
)
def test_a_user_agent_in_short_form(agent: str | None, label: str, family: str) -> None:
    client = client_of(agent)
    assert (client.label, client.family) == (label, family)


def test_a_huge_user_agent_gives_a_short_label() -> None:
    assert len(client_of("x" * 100_000).label) <= 60


def test_a_browser_update_is_the_same_device_another_address_is_not() -> None:
    old = client_of("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0")
    new = client_of("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
    assert device_key("acc-1", old, "10.0.0.1") == device_key("acc-1", new, "10.0.0.1")
    assert device_key("acc-1", new, "10.0.0.1") != device_key("acc-1", new, "10.0.0.2")
    assert device_key("acc-1", new, "10.0.0.1") != device_key("acc-2", new, "10.0.0.1")
    assert "10.0.0.1" not in device_key("acc-1", new, "10.0.0.1")


def test_only_an_unseen_pair_on_an_account_with_history_is_a_new_sign_in() -> None:
    assert is_new_sign_in(seen_before=False, known_devices=1)
    assert not is_new_sign_in(seen_before=True, known_devices=3)
    assert not is_new_sign_in(seen_before=False, known_devices=0)  # the account's first sign-in
