"""A public share link's page (`/s/{token}`): what it shows and the download, with the wrong
password throttle. metadata makes every check (`adapters/answers.py` types its answers); this
decides what the visitor sees next. UpstreamUnavailable when metadata does not answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from docstore_gateway.domain.answers import (
    LinkAnswer,
    LinkMissing,
    LinkPasswordRefused,
    LinkRedeemed,
    LinkShown,
    RedeemAnswer,
)
from docstore_gateway.service_layer.ports import LinkDirectory, LinkThrottle

TOKEN = re.compile(r"[A-Za-z0-9_-]{20,512}")
"""What a link token can look like (`secrets.token_urlsafe(32)`: 43 characters); anything else
is answered "not found" without asking metadata."""


@dataclass(frozen=True)
class TryAgainLater:
    """Too many wrong passwords for this link from this address (or for the link): wait."""

    wait: int


@dataclass(frozen=True)
class PasswordAgain:
    """The page again, with the reason the password was refused."""

    link: LinkShown
    reason: str | None


Download = RedeemAnswer | TryAgainLater | PasswordAgain | LinkAnswer


class ShareLinks:
    def __init__(self, links: LinkDirectory, throttle: LinkThrottle) -> None:
        self.links = links
        self.throttle = throttle

    async def show(self, token: str) -> LinkAnswer:
        """What the link's page shows, or why not (missing, gone, refused)."""
        if not TOKEN.fullmatch(token):
            return LinkMissing()
        return await self.links.resolve_link(token)

    async def download(self, token: str, password: str | None, *, address: str) -> Download:
        """A signed URL, or the page again (wrong password, counted), or why not. While over the
        wrong-password limits, nothing is checked at all (even the right password waits)."""
        if not TOKEN.fullmatch(token):
            return LinkMissing()
        if password is not None and (wait := await self.throttle.link_password_allowed(token, address)):
            return TryAgainLater(wait)
        answer = await self.links.redeem_link(token, password)
        if isinstance(answer, LinkRedeemed) or not isinstance(answer, LinkPasswordRefused):
            return answer
        if password is not None:
            await self.throttle.link_password_failed(token, address)
        shown = await self.links.resolve_link(token)
        if not isinstance(shown, LinkShown):
            return shown
        return PasswordAgain(shown, answer.reason)
