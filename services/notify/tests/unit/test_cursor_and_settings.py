"""Pagination cursors and settings rules: pure, no servers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from docstore_notify.adapters.notification_log import decode_cursor, encode_cursor
from docstore_notify.domain.errors import InvalidCursor
from docstore_notify.settings import Settings


def test_cursor_round_trip() -> None:
    when = datetime(2026, 11, 22, 11, 37, 35, 123000, tzinfo=UTC)
    assert decode_cursor(encode_cursor(when, "event-1")) == (when, "event-1")


@pytest.mark.parametrize("bad", ["", "not-base64!!", "bm90IGpzb24", "WzEsMl0"])
def test_foreign_cursors_are_refused(bad: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(bad)


def test_sender_is_verified_in_development_only() -> None:
    assert Settings(environment="development").verify_sender_identity is True
    secret = {
        "unsubscribe_secret": "a-real-secret-from-the-vault",
        "internal_auth_keys": '{"k1": "a-real-internal-key-from-the-vault-32-bytes"}',
        "internal_auth_key_id": "k1",
        "webhook_secrets_keys": "yCuY4pfrhlrlgoQIwkpv-yOyxzIYgL6ollABqLF2nWI=",
    }
    assert Settings(environment="production", **secret).verify_sender_identity is False
    assert Settings(environment="production", verify_sender_identity=True, **secret).verify_sender_identity is True


def test_the_unsubscribe_secret_must_be_real_outside_development() -> None:
    with pytest.raises(ValueError, match="unsubscribe_secret"):
        Settings(environment="production")


def test_webhooks_refuse_private_targets_and_the_development_key_outside_development() -> None:
    assert Settings(environment="development").webhook_allow_private_targets is True
    real = {
        "unsubscribe_secret": "a-real-secret-from-the-vault",
        "internal_auth_keys": '{"k1": "a-real-internal-key-from-the-vault-32-bytes"}',
        "internal_auth_key_id": "k1",
    }
    with pytest.raises(ValueError, match="webhook_secrets_keys"):
        Settings(environment="production", **real)
    key = "yCuY4pfrhlrlgoQIwkpv-yOyxzIYgL6ollABqLF2nWI="
    assert Settings(environment="production", webhook_secrets_keys=key, **real).webhook_allow_private_targets is False


def test_per_service_env_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_FROM", "Shared <shared@example.com>")
    monkeypatch.setenv("NOTIFY_MAIL_FROM", "Notify <notify@example.com>")
    settings = Settings()
    assert settings.sender_address() == "notify@example.com"
    assert settings.port == 8085


def test_lease_must_outlast_one_ses_call() -> None:
    with pytest.raises(ValueError):
        Settings(resend_after_seconds=5, ses_connect_timeout_seconds=5, ses_read_timeout_seconds=10)


def test_mail_from_needs_an_address() -> None:
    with pytest.raises(ValueError):
        Settings(mail_from="DocStore")
