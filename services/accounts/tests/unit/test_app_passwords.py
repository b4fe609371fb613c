"""App passwords' rules (issue 36): what one looks like, how it is stored, names, scopes, and
how often a use is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from docstore_accounts.domain.app_passwords import (
    ALPHABET,
    InvalidAppPassword,
    check_name,
    check_scope,
    digest,
    last_use_due,
    looks_like,
    new_secret,
)


def test_a_new_app_password_is_six_groups_of_five_unambiguous_characters_and_never_repeats() -> None:
    secrets = {new_secret() for _ in range(200)}
    assert len(secrets) == 200
    for secret in secrets:
        groups = secret.split("-")
        assert len(groups) == 6 and all(len(group) == 5 and set(group) <= set(ALPHABET) for group in groups)
        assert looks_like(secret)


def test_it_is_stored_as_a_digest_that_forgives_case_dashes_and_spaces_only() -> None:
    secret = new_secret()
    stored = digest(secret)
    assert len(stored) == 64 and secret not in stored
    assert digest(secret.upper()) == digest(secret.replace("-", "")) == digest(secret.replace("-", " ")) == stored
    assert digest(secret[:-1] + ("a" if secret[-1] != "a" else "b")) != stored
    assert not looks_like("correct horse battery staple") and not looks_like(secret + "a")


def test_names_are_trimmed_and_bounded_and_scopes_are_the_two_known() -> None:
    assert check_name("  rclone   on the NAS ") == "rclone on the NAS"
    for bad in ("", "   ", "x" * 65):
        with pytest.raises(InvalidAppPassword):
            check_name(bad)
    assert check_scope("read-only") == "read-only" and check_scope("webdav-sync") == "webdav-sync"
    with pytest.raises(InvalidAppPassword):
        check_scope("admin")


def test_a_use_is_recorded_at_most_once_a_minute() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert last_use_due(None, now)
    assert not last_use_due(now - timedelta(seconds=59), now)
    assert last_use_due(now - timedelta(seconds=60), now)
