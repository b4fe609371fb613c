"""The signed link S3 sends a browser to after its form upload: the signature stands in for a login."""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_LENGTH = 32
SIGNATURE = re.compile(f"[0-9a-f]{{{SIGNATURE_LENGTH}}}")


class RedirectSigner:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def sign(self, upload_id: str) -> str:
        return hmac.new(self._secret, upload_id.encode(), hashlib.sha256).hexdigest()[:SIGNATURE_LENGTH]

    def verify(self, upload_id: str, signature: str) -> bool:
        """Only what `sign` can produce is compared (as bytes: compare_digest refuses non-ASCII str)."""
        return bool(SIGNATURE.fullmatch(signature)) and hmac.compare_digest(
            self.sign(upload_id).encode(), signature.encode()
        )
