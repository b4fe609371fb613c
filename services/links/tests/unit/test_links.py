"""The pure rules of public share links (`domain/links.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from docstore_links.domain import links as rules
from docstore_links.domain.links import (
    InvalidLink,
    LinkGone,
    LinkNotFound,
    LinkOptions,
    LinksNotAllowed,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DOCUMENT = {"_id": "doc-1", "account_id": "owner", "name": "report.pdf", "current_version": 2}


def link(**changes: object) -> dict[str, object]:
    row = rules.new_link(
        document=DOCUMENT, created_by="owner", options=LinkOptions(), token="t" * 43, password_hash=None, now=NOW
    )
    row.update(changes)
    return row


def test_a_new_link_lasts_seven_days_and_stores_only_the_tokens_digest() -> None:
    token = rules.new_token()
    row = rules.new_link(
        document=DOCUMENT, created_by="owner", options=LinkOptions(), token=token, password_hash=None, now=NOW
    )
    assert row["expires_at"] == NOW + timedelta(days=7)
    assert token not in repr(row)
    assert row["token_digest"] == rules.token_digest(token) and len(row["token_digest"]) == 64
    assert row["owner_id"] == "owner" and row["version"] is None and row["downloads"] == 0
    assert rules.state_of(row, NOW) == "active"


def test_tokens_are_long_and_random() -> None:
    tokens = {rules.new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(token) >= 43 for token in tokens)


@pytest.mark.parametrize("days", [0, 91, -1, 365])
def test_an_expiry_outside_one_to_ninety_days_is_refused(days: int) -> None:
    with pytest.raises(InvalidLink) as refused:
        rules.expiry_from(NOW, days)
    assert refused.value.field == "expires_in_days" and refused.value.status == 422


@pytest.mark.parametrize("days", [1, 90])
def test_the_bounds_themselves_are_allowed(days: int) -> None:
    assert rules.expiry_from(NOW, days) == NOW + timedelta(days=days)


def test_options_are_checked() -> None:
    with pytest.raises(InvalidLink) as refused:
        rules.check_options(LinkOptions(note="x" * 501))
    assert refused.value.field == "note"
    with pytest.raises(InvalidLink) as refused:
        rules.check_options(LinkOptions(download_limit=0))
    assert refused.value.field == "download_limit"
    checked = rules.check_options(LinkOptions(note="  hello  ", password=""))
    assert checked.note == "hello" and checked.password is None


def test_who_may_create_links() -> None:
    rules.may_create("owner", editors_may_create_links=False)
    rules.may_create("edit", editors_may_create_links=True)
    with pytest.raises(LinksNotAllowed):
        rules.may_create("edit", editors_may_create_links=False)
    with pytest.raises(LinksNotAllowed):
        rules.may_create("view", editors_may_create_links=True)


def test_only_the_owner_or_the_creator_manages_a_link() -> None:
    row = link(created_by="editor")
    assert rules.may_manage(row, "owner", "owner", editors_may_create_links=False) is row
    assert rules.may_manage(row, "editor", "edit", editors_may_create_links=True) is row
    with pytest.raises(LinkNotFound):
        rules.may_manage(row, "stranger", None, editors_may_create_links=True)
    with pytest.raises(LinkNotFound):
        rules.may_manage(None, "owner", "owner", editors_may_create_links=True)


@pytest.mark.parametrize(
    ("access", "allowed"), [(None, True), ("view", True), ("edit", False)], ids=["unshared", "view-only", "not-allowed"]
)
def test_a_creator_who_lost_the_right_to_make_links_manages_none(access: str | None, allowed: bool) -> None:
    """Issue 33, finding 7: `created_by` alone no longer manages a link (an ex-editor extended one by 90 days)."""
    row = link(created_by="editor")
    with pytest.raises(LinkNotFound):
        rules.may_manage(row, "editor", access, editors_may_create_links=allowed)


def test_a_link_gives_its_file_only_while_its_creator_keeps_the_right_it_was_made_with() -> None:
    by_editor = link(created_by="editor")
    assert rules.check_usable(by_editor, DOCUMENT, NOW, creator_access="edit")
    for access in ("view", None):  # made view-only, or the share removed (issue 36: checked at use)
        with pytest.raises(LinkGone) as refused:
            rules.check_usable(by_editor, DOCUMENT, NOW, creator_access=access)
        assert refused.value.reason == "document-gone"
    # The owner's own link needs no share; a deleted account's links give nothing.
    assert rules.check_usable(link(), DOCUMENT, NOW)
    with pytest.raises(LinkGone):
        rules.check_usable(link(), DOCUMENT, NOW, accounts_active=False)


def test_states() -> None:
    assert rules.state_of(link(), NOW) == "active"
    assert rules.state_of(link(), NOW + timedelta(days=7)) == "expired"
    assert rules.state_of(link(download_limit=2, downloads=2), NOW) == "exhausted"
    assert rules.state_of(link(download_limit=2, downloads=1), NOW) == "active"
    assert rules.state_of(link(revoked_at=NOW, download_limit=1, downloads=1), NOW) == "revoked"
    # MongoDB hands datetimes back without a zone: they are UTC.
    assert rules.state_of(link(expires_at=(NOW - timedelta(seconds=1)).replace(tzinfo=None)), NOW) == "expired"


def test_a_download_needs_a_live_link_and_a_live_document() -> None:
    assert rules.check_usable(link(), DOCUMENT, NOW)
    with pytest.raises(LinkNotFound):
        rules.check_usable(None, DOCUMENT, NOW)
    for gone, reason in [
        (link(revoked_at=NOW), "revoked"),
        (link(expires_at=NOW), "expired"),
        (link(download_limit=1, downloads=1), "exhausted"),
    ]:
        with pytest.raises(LinkGone) as refused:
            rules.check_usable(gone, DOCUMENT, NOW)
        assert refused.value.reason == reason and refused.value.status == 410
    with pytest.raises(LinkGone) as refused:
        rules.check_usable(link(), {**DOCUMENT, "trashed": True}, NOW)
    assert refused.value.reason == "document-gone"
    with pytest.raises(LinkGone):
        rules.check_usable(link(), None, NOW)


def test_extending_moves_the_expiry_from_now_and_a_revoked_link_stays_dead() -> None:
    assert rules.check_extend(link(expires_at=NOW - timedelta(days=1)), NOW, 3) == NOW + timedelta(days=3)
    with pytest.raises(InvalidLink):
        rules.check_extend(link(), NOW, 91)
    with pytest.raises(LinkGone):
        rules.check_extend(link(revoked_at=NOW), NOW, 3)


def test_the_expiry_reminder_window() -> None:
    near = link(expires_at=NOW + timedelta(hours=23))
    assert rules.expiry_near(near, NOW)
    assert rules.expiry_near(link(expires_at=NOW + timedelta(hours=24)), NOW)
    assert not rules.expiry_near(link(expires_at=NOW + timedelta(hours=25)), NOW)
    assert not rules.expiry_near({**near, "expiry_reminded": True}, NOW)
    assert not rules.expiry_near({**near, "revoked_at": NOW}, NOW)
    assert not rules.expiry_near({**near, "download_limit": 1, "downloads": 1}, NOW)
    assert not rules.expiry_near(link(expires_at=NOW - timedelta(seconds=1)), NOW)
    # An extension out of the window reminds again; one still inside it does not.
    assert rules.reminder_reset(NOW + timedelta(days=2), NOW)
    assert not rules.reminder_reset(NOW + timedelta(hours=20), NOW)


def test_expiry_is_announced_once() -> None:
    past = link(expires_at=NOW - timedelta(minutes=1))
    assert rules.newly_expired(past, NOW)
    assert not rules.newly_expired({**past, "expired_announced": True}, NOW)
    assert not rules.newly_expired({**past, "revoked_at": NOW}, NOW)
    assert not rules.newly_expired(link(), NOW)


def test_the_view_shows_no_secret() -> None:
    shown = rules.view(link(password_hash="$argon2id$...", note="for Ada"), NOW)
    assert shown["protected"] is True and shown["note"] == "for Ada" and shown["state"] == "active"
    assert "password_hash" not in shown and "token_digest" not in shown
