"""Administrators are named by account id or by an operator, never by a username anyone can claim
(issue 33, finding 12). Pure: the accounts settings decide the role; no system is started.

On main, `ACCOUNTS_ADMIN_USERNAMES=ops` in production gave the admin role to whoever signed up
as `ops` first: sign-up does not reserve the configured names.
"""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from docstore_accounts.settings import Settings

PRODUCTION = {
    "environment": "production",
    "replication_secret": "a-real-replication-secret-from-the-vault",
    "secrets_keys": Fernet.generate_key().decode(),
    "internal_auth_keys": '{"k1": "a-real-internal-key-from-the-vault-32-bytes"}',
    "internal_auth_key_id": "k1",
}


def test_a_configured_username_is_refused_outside_development() -> None:
    with pytest.raises(ValueError, match="admin_usernames"):
        Settings(**PRODUCTION, admin_usernames="ops")


def test_whoever_signs_up_with_a_name_is_no_admin_but_a_configured_id_is() -> None:
    settings = Settings(**PRODUCTION, admin_account_ids="0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
    squatter = {"_id": "0190ffff-0000-7000-8000-000000000001", "username": "ops", "role": "user"}
    named = {"_id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "username": "anyone", "role": "user"}
    granted = {"_id": "0190eeee-0000-7000-8000-000000000002", "username": "root", "role": "admin"}

    assert settings.role_of(squatter) == "user"
    assert settings.role_of(named) == "admin"
    assert settings.role_of(granted) == "admin"  # `python -m docstore_accounts.admins grant --account ...`


def test_the_old_name_list_still_works_on_a_local_development_system_only() -> None:
    local = Settings(environment="development", admin_usernames="ops")

    assert local.role_of({"_id": "x", "username": "ops"}) == "admin"
    assert local.role_of({"_id": "y", "username": "someone"}) == "user"
