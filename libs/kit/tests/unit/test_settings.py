"""ServiceSettings: per-service variables over shared ones, derived defaults, and the secrets
that must not keep a development value outside development."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from pydantic import ValidationError

from docstore_kit.auth import DEV_KEY_ID, DEV_KEYS
from docstore_kit.settings import ServiceSettings

STRONG_KEYS = json.dumps({"prod-1": "a-production-key-of-at-least-thirty-two-bytes!!"})


class DemoSettings(ServiceSettings):
    service: ClassVar[str] = "demo"
    secret_fields: ClassVar[tuple[str, ...]] = ("signing_secret",)

    signing_secret: str = "changeme"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test run exports real endpoints (KAFKA_BOOTSTRAP_SERVERS, ...): start from none."""
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", "MONGODB_DATABASE", "REGION", "ENVIRONMENT", "PORT"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"DEMO_{name}", raising=False)


def test_the_per_service_variable_wins_over_the_shared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "shared:9092")
    monkeypatch.setenv("DEMO_KAFKA_BOOTSTRAP_SERVERS", "own:9092")
    monkeypatch.setenv("MONGODB_URL", "mongodb://shared")

    settings = DemoSettings()

    assert settings.kafka_bootstrap_servers == "own:9092"
    assert settings.mongodb_url == "mongodb://shared"


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PORT", "9000")
    assert DemoSettings(port=9100).port == 9100
    assert DemoSettings().port == 9000


def test_the_database_is_named_after_service_and_region() -> None:
    assert DemoSettings(region="ap-southeast-2").mongodb_database == "docstore_demo_ap_southeast_2"
    assert DemoSettings(mongodb_database="mine").mongodb_database == "mine"


def test_development_accepts_the_development_secrets() -> None:
    settings = DemoSettings()
    assert settings.environment == "development"
    assert settings.internal_auth_keys == DEV_KEYS
    assert settings.internal_auth_key_id == DEV_KEY_ID


def test_outside_development_placeholder_secrets_are_refused() -> None:
    with pytest.raises(ValidationError, match="placeholder secrets outside development: signing_secret"):
        DemoSettings(environment="production", internal_auth_keys=STRONG_KEYS, internal_auth_key_id="prod-1")


def test_outside_development_the_development_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="internal_auth_keys"):
        DemoSettings(environment="production", signing_secret="a-real-one")


def test_outside_development_real_secrets_are_accepted() -> None:
    settings = DemoSettings(
        environment="production",
        signing_secret="a-real-one",
        internal_auth_keys=STRONG_KEYS,
        internal_auth_key_id="prod-1",
    )
    assert settings.signing_secret == "a-real-one"


def test_the_signing_key_must_be_one_of_the_keys() -> None:
    with pytest.raises(ValidationError, match="'other' is not in internal_auth_keys"):
        DemoSettings(internal_auth_key_id="other")


def test_the_test_password_hash_cost_is_refused_outside_development() -> None:
    assert DemoSettings().password_hash_cost == "standard"
    assert DemoSettings(password_hash_cost="test-only-cheapest").password_hash_cost == "test-only-cheapest"
    with pytest.raises(ValidationError, match="password_hash_cost 'test-only-cheapest': refused outside development"):
        DemoSettings(
            environment="production",
            signing_secret="a-real-one",
            internal_auth_keys=STRONG_KEYS,
            internal_auth_key_id="prod-1",
            password_hash_cost="test-only-cheapest",
        )
