"""Who a WebDAV request is (issue 38): an app password over HTTP Basic (its scope applied) or a
bearer token, exactly as for the API; the webdav service then gets the identity the gateway vouches
for. An account with two-step sign-in reaches WebDAV through an app password only: its password
never works over Basic, and a bearer token exists only after both steps."""

from __future__ import annotations

from docstore_gateway.domain.app_passwords import is_basic
from docstore_gateway.domain.sessions import Caller
from docstore_gateway.domain.webdav import scope_refusal
from docstore_gateway.service_layer.app_passwords import AppPasswordChecks
from docstore_gateway.service_layer.sessions import Authenticator


class WebdavCallers:
    def __init__(self, authenticator: Authenticator, app_passwords: AppPasswordChecks) -> None:
        self.authenticator = authenticator
        self.app_passwords = app_passwords

    async def caller(self, authorization: str | None, *, method: str, address: str, target: str) -> Caller:
        """The caller, or the refusal (401 with the Basic challenge, 403 for a scope, 429, 503)."""
        if is_basic(authorization):
            tool = await self.app_passwords.caller(authorization, address=address, target=target)
            if refused := scope_refusal(tool.scope, method):
                raise refused
            return tool.caller
        _, caller = await self.authenticator.caller(authorization, target)
        return caller
