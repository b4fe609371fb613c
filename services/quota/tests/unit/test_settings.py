import pytest

from docstore_quota.settings import Settings


def test_service_specific_variable_wins_over_the_shared_one(monkeypatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "shared:9092")
    monkeypatch.setenv("QUOTA_KAFKA_BOOTSTRAP_SERVERS", "own:9092")
    monkeypatch.setenv("MONGODB_URL", "mongodb://shared")
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "own:9092"
    assert settings.mongodb_url == "mongodb://shared"


def test_database_defaults_to_service_and_region(monkeypatch) -> None:
    monkeypatch.setenv("REGION", "ap-southeast-2")
    assert Settings().mongodb_database == "docstore_quota_ap_southeast_2"


def test_caps_are_configurable(monkeypatch) -> None:
    monkeypatch.setenv("QUOTA_FREE_CAP_BYTES", "1234")
    assert Settings().caps()["free"] == 1234


def test_placeholder_secrets_are_refused_outside_development() -> None:
    from docstore_kit.settings import ServiceSettings

    class WithSecret(ServiceSettings):
        service = "demo"
        secret_fields = ("api_key",)
        api_key: str = "changeme"

    assert WithSecret().api_key == "changeme"
    with pytest.raises(ValueError, match="placeholder secrets outside development: api_key"):
        WithSecret(environment="production")
