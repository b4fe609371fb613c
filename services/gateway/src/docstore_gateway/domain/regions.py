"""Regions: which ones this gateway knows, and where an account of another one is sent.

Sessions are per region. A request that belongs to an account whose home is another region
(its token names that region, or the accounts service's replica says so at login) is answered
307 to the same canonical path and query at the home region's gateway (307, not 302/303, keeps
the method and body, so a login POST is repeated there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from docstore_gateway.domain.errors import AccountElsewhere, HomeNotConfigured


@dataclass(frozen=True)
class Regions:
    """This gateway's region (empty: none) and every region's public gateway URL, this one's included."""

    region: str
    gateways: Mapping[str, str] = field(default_factory=dict)

    def known(self) -> frozenset[str]:
        """Regions whose tokens this gateway recognises: this one and every one it has a gateway for."""
        return frozenset({self.region, *self.gateways})

    def elsewhere(self, region: str | None) -> bool:
        """Whether `region` (a token's issuer) is another region than this one."""
        return bool(region and self.region and region != self.region)

    def send_home(self, home_region: str, target: str) -> AccountElsewhere | HomeNotConfigured:
        """The answer for a request of an account at home in `home_region`: a 307 to `target` (the
        gateway's own canonical path and query) there, or a 502 when no gateway is configured for
        it (`home_region` comes from a token already checked against `known()`, or from the
        accounts service, never from the client as is)."""
        base = self.gateways.get(home_region)
        if not base:
            return HomeNotConfigured(home_region)
        return AccountElsewhere(home_region, base, base + target)
