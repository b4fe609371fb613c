"""Identity has one owner (issue 36): every public identity route and the gateway's internal checks
(password, second factor, app password) go to the same service, `IDENTITY`, so the move to
`accounts` was one name to change and can never leave half of identity behind."""

from __future__ import annotations

from docstore_gateway.adapters.upstreams import ACCOUNTS
from docstore_gateway.domain.routing import IDENTITY, ROUTE_TABLE

NOT_IDENTITY = {"/account/follows", "/account/activity", "/account/activity/verify"}
"""Under `/account`, but documents' and the audit trail's."""


def test_every_identity_route_and_check_goes_to_the_owner_of_identity() -> None:
    identity = {
        (route.method, route.template)
        for route in ROUTE_TABLE
        if route.template == "/accounts"
        or (route.template.startswith("/account") and route.template not in NOT_IDENTITY)
    }
    assert ("POST", "/accounts") in identity and ("DELETE", "/account/mfa") in identity
    owners = {route.service for route in ROUTE_TABLE if (route.method, route.template) in identity}
    assert owners == {IDENTITY}
    assert ACCOUNTS == IDENTITY == "accounts"
