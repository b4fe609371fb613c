"""Webhook signing secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256), as metadata keeps TOTP
secrets. A signing secret must be usable to sign, so it cannot be hashed; it is encrypted with
`NOTIFY_WEBHOOK_SECRETS_KEYS` (comma-separated; the first encrypts, all decrypt: a rotation puts
the new key first and drops the old one once every row was re-encrypted)."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is needed (NOTIFY_WEBHOOK_SECRETS_KEYS)")
        self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """The secret; `ValueError` when no key opens it (a key dropped too early)."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as error:
            raise ValueError("no configured key decrypts this webhook secret") from error


def parse_keys(raw: str) -> list[str]:
    return [key.strip() for key in raw.split(",") if key.strip()]
