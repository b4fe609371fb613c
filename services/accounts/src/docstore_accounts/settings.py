"""Settings of the accounts service (env: ACCOUNTS_<NAME>, then <NAME>)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import Field, model_validator

from docstore_kit.settings import BACKGROUND_FETCH_MAX_WAIT_MS, ServiceSettings

DEV_SECRETS_KEY = "01gpDb8TKLFajkokYWr13DBbXqcLJywwrLkSz1PXYIw="
"""The development Fernet key (public, in the repository): refused outside development."""


class Settings(ServiceSettings):
    service = "accounts"

    port: int = 8086
    page_size_max: int = 200
    """The largest page of audit records one request may ask for."""
    audit_retention_days: float = 365
    """How long audit records are kept; older ones are purged, the chain stays verifiable from its anchor."""
    audit_purge_interval_seconds: float = 3600
    """How often a replica purges audit records past the retention."""
    audit_fetch_max_wait_ms: int = BACKGROUND_FETCH_MAX_WAIT_MS
    """The audit consumer's fetch wait while events flow (it reads every topic; see the constant):
    an audit record a few hundred milliseconds later costs nobody. Never shorter than
    `kafka_fetch_max_wait_ms`."""

    peer_accounts_urls: str = ""
    """JSON map region -> URL of that region's accounts service (internal), e.g.
    `{"ap-southeast-2": "http://accounts.ap-southeast-2.internal:8086"}`. Accounts that sign up
    here are replicated to every region in it (this region's own entry is ignored)."""
    replication_secret: str = "dev-secret"
    """Shared by every region: the replication relay sends it, `PUT /internal/replicas/...` checks it."""
    replication_batch_size: int = 200
    replication_concurrency: int = 16
    """Replica writes in flight at once, per peer region."""
    replication_retry_initial_seconds: float = 0.5
    replication_retry_max_seconds: float = 30.0
    """Backoff of a replica write that failed (peer down): doubles from initial up to max."""
    replication_poll_seconds: float = 1.0
    replication_timeout_seconds: float = 5.0

    notify_url: str = "http://127.0.0.1:8085"
    """Notify (internal): the token-carrying account mails go through its `POST /internal/mail/{kind}`."""
    quota_url: str = "http://127.0.0.1:8083"
    """Quota (internal): the outbox check asks its `POST /internal/processed-events`."""
    metadata_url: str = "http://127.0.0.1:8081"
    """Metadata (internal): told at once when an account was deleted (its links and shares end)."""
    gateway_url: str = "http://127.0.0.1:8080"
    """Where people reach the gateway and the web app: the links in account mails point there."""
    secrets_keys: str = DEV_SECRETS_KEY
    """`ACCOUNTS_SECRETS_KEYS`: comma-separated Fernet keys that encrypt TOTP secrets at rest; the
    first encrypts, all decrypt (a rotation: new key first, old second, then drop the old)."""
    verification_mails_per_hour: int = 3
    """Resends of the verification mail one account may ask for in an hour."""
    reset_mails_per_hour: int = 3
    """Password-reset mails one account gets in an hour, however often a reset is asked for it."""

    security_contact: str = "security@docstore.example"
    """`ACCOUNTS_SECURITY_CONTACT`: where people report "this was not me"; the mail that tells an old
    address it was replaced by a new one names it (issue 33)."""

    admin_account_ids: str = ""
    """`ACCOUNTS_ADMIN_ACCOUNT_IDS`: comma-separated account ids that get the admin role when they log
    in (the operator dashboard). Ids, never usernames: a name nobody holds yet goes to whoever signs
    up first. An operator can also grant the role to an account that exists:
    `python -m docstore_accounts.admins grant --account ID` (stored on the account)."""
    admin_usernames: str = ""
    """Deprecated (issue 33): usernames that got the admin role. Honoured only in development (a
    local system); refused outside it, where anyone could sign up with a configured name not yet
    taken. Name admins by account id instead."""

    oidc_issuer: str = ""
    """`ACCOUNTS_OIDC_ISSUER`: the OpenID provider people may sign in with (its issuer URL; the
    discovery document is read from `<issuer>/.well-known/openid-configuration`). Empty: none."""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    """This DocStore's client at the provider (`client_secret_basic`)."""
    oidc_provider_name: str = ""
    """What the sign-in button says: "Sign in with <name>"."""
    password_sign_in: bool = True
    """`ACCOUNTS_PASSWORD_SIGN_IN=false`: passwords no longer sign anyone in to the web app or the
    API (403 with a message naming the provider); app passwords keep working for tools."""

    premium_monthly_price: Decimal = Field(default=Decimal("4.99"), ge=0, decimal_places=2)
    """`ACCOUNTS_PREMIUM_MONTHLY_PRICE`: what Premium costs a month, in `plan_currency`, shown before
    an upgrade and on the usage page (`GET /plans`). The default is a placeholder: set the real one."""
    plan_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    """`ACCOUNTS_PLAN_CURRENCY`: the ISO 4217 code of the plans' prices."""

    secret_fields = ("replication_secret", "secrets_keys")

    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @model_validator(mode="after")
    def _no_dev_key_outside_development(self) -> Settings:
        if self.environment != "development" and DEV_SECRETS_KEY in self.secrets_keys:
            raise ValueError("secrets_keys: the development key is refused outside development")
        if self.environment != "development" and self.oidc_issuer and len(self.oidc_client_secret) < 8:
            raise ValueError("oidc_client_secret: an OpenID provider is named but its client secret is missing")
        if self.environment != "development" and self.admin_usernames.strip():
            raise ValueError(
                "admin_usernames: refused outside development (anyone may sign up with a name not yet "
                "taken); name admins by account id (ACCOUNTS_ADMIN_ACCOUNT_IDS) or run "
                "`python -m docstore_accounts.admins grant --account ID`"
            )
        return self

    def peers(self) -> dict[str, str]:
        """Other regions' accounts URLs (this region excluded)."""
        urls = json.loads(self.peer_accounts_urls) if self.peer_accounts_urls.strip() else {}
        if not isinstance(urls, dict):
            raise ValueError("peer_accounts_urls: a JSON object region -> URL")
        return {str(region): str(url).rstrip("/") for region, url in urls.items() if region != self.region and url}

    def admin_ids(self) -> frozenset[str]:
        """The account ids `admin_account_ids` names."""
        return frozenset(part.strip() for part in self.admin_account_ids.split(",") if part.strip())

    def admin_names_in_development(self) -> frozenset[str]:
        """The deprecated `admin_usernames`, in development only (empty elsewhere: refused at start)."""
        if self.environment != "development":
            return frozenset()
        return frozenset(name.strip().lower() for name in self.admin_usernames.split(",") if name.strip())

    def role_of(self, account: Mapping[str, Any]) -> str:
        """An account's role: admin when its id is configured or an operator granted it (stored
        `role`), or, in development only, when its username is in the deprecated list."""
        if str(account.get("_id", "")) in self.admin_ids() or account.get("role") == "admin":
            return "admin"
        if account.get("username") in self.admin_names_in_development():
            return "admin"
        return str(account.get("role") or "user")
