"""Settings of the notify service (env: NOTIFY_<NAME>, then <NAME>).

SES is reached through boto3's standard configuration: credentials from the AWS
variables, the endpoint from `AWS_ENDPOINT_URL_SES` (moto locally, unset for AWS).
"""

from __future__ import annotations

from email.utils import parseaddr

from pydantic import model_validator

from docstore_kit.settings import BACKGROUND_FETCH_MAX_WAIT_MS, ServiceSettings

DEV_WEBHOOK_SECRETS_KEY = "T3LzCs8mSBJ1yRQo2eqaFwEK1mKxSA3ZUCdsy1AqKtM="
"""The development Fernet key of webhook secrets (public, in the repository): refused outside development."""


class Settings(ServiceSettings):
    service = "notify"

    port: int = 8085
    kafka_fetch_max_wait_ms: int = BACKGROUND_FETCH_MAX_WAIT_MS
    """Its consumer's fetch wait while events flow (it reads 19 topics; see the constant): a mail
    or a webhook a few hundred milliseconds later costs nobody (webhook retries wait seconds).
    Its own CPU per small file: 0.1 ms against 0.5 while answered, 0.5 against 1.3-1.8 until
    settled (bench/README.md, 2026-11-30)."""
    mail_from: str = "DocStore <no-reply@docstore.example>"
    """The From of every mail; its address must be a verified SES identity."""
    aws_default_region: str = "us-west-2"
    verify_sender_identity: bool | None = None
    """Ask SES to verify `mail_from` at startup (moto refuses unverified senders).
    Unset: true in development, false elsewhere (production identities are verified once, by hand)."""

    resend_after_seconds: float = 60.0
    """A notification still pending this long after its last send attempt is sent again by the
    sweeper. Must exceed the longest SES call (see `ses_*_timeout_seconds`) so that a send in
    flight is never claimed twice."""
    sweep_interval_seconds: float = 10.0
    max_send_attempts: int = 8
    """After this many failed sends a notification is marked failed and left alone."""
    ses_connect_timeout_seconds: float = 5.0
    ses_read_timeout_seconds: float = 10.0

    coalesce_window_seconds: float = 60.0
    """Changes to one followed file within this window after the first make one mail (0: a mail each)."""
    digest_interval_seconds: float = 24 * 3600.0
    """How often queued digest items are mailed, one digest per user (also `POST /internal/digests/run`)."""
    gateway_url: str = "http://127.0.0.1:8080"
    """Where people reach the gateway (its public URL): unsubscribe links point there."""
    accounts_url: str = "http://127.0.0.1:8086"
    """Accounts (internal): the new address after a verified e-mail change is read there."""
    unsubscribe_secret: str = "dev-secret"
    """Signs unsubscribe links (HMAC-SHA256)."""

    webhook_secrets_keys: str = DEV_WEBHOOK_SECRETS_KEY
    """Comma-separated Fernet keys that encrypt webhook signing secrets at rest; the first encrypts,
    all decrypt (a rotation: new key first, old second)."""
    webhook_allow_private_targets: bool | None = None
    """Let webhooks call loopback, private, link-local and metadata addresses, and plain http.
    Unset: true in development (the local platform and tests use a loopback receiver), else false."""
    webhook_retry_schedule_seconds: str = "5,300,1800,7200,18000,36000,36000"
    """Waits before each retry of a failed delivery (then the dead letter): Svix's schedule."""
    webhook_disable_after_failures: int = 15
    """An endpoint is turned off (and its owner mailed) after this many failed attempts in a row."""
    webhook_connect_timeout_seconds: float = 3.0
    webhook_timeout_seconds: float = 10.0
    """The deadline of one delivery attempt, connect to the last byte read."""
    webhook_lease_seconds: float = 30.0
    """A claimed delivery not recorded after this is taken again by any replica (a sender died)."""
    webhook_poll_seconds: float = 10.0
    """The longest the delivery loop sleeps while no delivery is due. It wakes at once for a
    fan-out, replay or test of its own process, and when the earliest pending delivery is due (a
    retry, a lease that ends); only a row queued by another replica that died before sending it
    waits for this poll."""
    webhook_concurrency: int = 8
    """Deliveries one replica attempts at once."""

    secret_fields = ("unsubscribe_secret", "webhook_secrets_keys")

    @model_validator(mode="after")
    def _notify_defaults(self) -> Settings:
        if self.verify_sender_identity is None:
            self.verify_sender_identity = self.environment == "development"
        if self.webhook_allow_private_targets is None:
            self.webhook_allow_private_targets = self.environment == "development"
        if self.environment != "development" and DEV_WEBHOOK_SECRETS_KEY in self.webhook_secrets_keys:
            raise ValueError("placeholder secrets outside development: webhook_secrets_keys")
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("webhook_lease_seconds must exceed webhook_timeout_seconds")
        if "@" not in self.sender_address():
            raise ValueError(f"mail_from has no address: {self.mail_from!r}")
        if self.resend_after_seconds <= self.ses_connect_timeout_seconds + self.ses_read_timeout_seconds:
            raise ValueError("resend_after_seconds must exceed one SES call's connect + read timeout")
        return self

    def sender_address(self) -> str:
        """The bare address of `mail_from` ("no-reply@docstore.example")."""
        return parseaddr(self.mail_from)[1]
