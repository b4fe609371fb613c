"""Forwarding a public request to the service the route table names.

Only what `ROUTE_TABLE` names goes on, under a path rebuilt from checked segments, with the
identity the gateway vouches for (never the client's own headers for it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from docstore_gateway.domain.answers import UpstreamAnswer
from docstore_gateway.domain.app_passwords import is_basic, refusal
from docstore_gateway.domain.errors import AdminOnly, BodyTooLarge, NoSuchRoute, Throttled, TooManyHeld
from docstore_gateway.domain.held import HeldRequests, is_held
from docstore_gateway.domain.routing import PASSWORD_RESET, SIGN_UP, checked_segments, resolve
from docstore_gateway.service_layer.app_passwords import AppPasswordChecks
from docstore_gateway.service_layer.ports import LoginThrottle, SessionRepository, Upstream
from docstore_gateway.service_layer.sessions import Authenticator

ACCOUNT_DELETION = ("DELETE", "/account")
APP_PASSWORD_REVOCATION = ("DELETE", "/account/app-passwords/{app_password_id}")


@dataclass(frozen=True)
class Incoming:
    """A request as the client sent it: `raw_path` is the ASGI request target (encodings kept),
    `path` the server's decoding of it; `headers` have lower-case names; `body()` reads the body
    (only once the request is known to be allowed); `address` is the client's, for throttling."""

    method: str
    raw_path: bytes | None
    path: str
    query: str
    headers: dict[str, str]
    body: Callable[[], Awaitable[bytes]]
    address: str


class Forwarding:
    def __init__(
        self,
        upstreams: Upstream,
        authenticator: Authenticator,
        sessions: SessionRepository,
        throttle: LoginThrottle,
        *,
        max_body_bytes: int,
        held: HeldRequests | None = None,
        held_retry_seconds: int = 5,
        app_passwords: AppPasswordChecks | None = None,
    ) -> None:
        """`app_passwords`: who `Authorization: Basic` (a username and app password) is; None:
        Basic is refused as any non-bearer header is."""
        self.upstreams = upstreams
        self.authenticator = authenticator
        self.sessions = sessions
        self.throttle = throttle
        self.max_body_bytes = max_body_bytes
        self.held = held or HeldRequests(per_account=6, per_address=30, total=400)
        self.held_retry_seconds = held_retry_seconds
        self.app_passwords = app_passwords

    async def forward(self, request: Incoming) -> UpstreamAnswer:
        """The owning service's answer, or a refusal: a malformed path (400), no such route (404),
        another method (405), no live session or wrong app password (401, or 307 home), not an
        admin or not for an app password (403), too many
        sign-ups or password-reset requests from the address, or too many long polls held by the
        account or address (429), a body too large (413), the service unavailable (503)."""
        # The edge middleware already refused malformed paths; checking again keeps this safe alone.
        segments = checked_segments(request.raw_path, request.path)
        found = resolve(request.method, segments[1:])
        if found is None:
            raise NoSuchRoute()
        route, canonical = found.route, found.path
        caller = None
        if not route.public:
            target = f"/v1/{canonical}" + (f"?{request.query}" if request.query else "")
            authorization = request.headers.get("authorization")
            if self.app_passwords is not None and is_basic(authorization):
                tool = await self.app_passwords.caller(authorization, address=request.address, target=target)
                if refused := refusal(tool.scope, request.method, route.template):
                    raise refused
                caller = tool.caller
            else:
                _, caller = await self.authenticator.caller(authorization, target)
            if route.admin and caller.role != "admin":
                raise AdminOnly()
        if route is SIGN_UP and (wait := await self.throttle.sign_up(request.address)):
            raise Throttled(wait, "sign-ups from this address")
        if route is PASSWORD_RESET and (wait := await self.throttle.password_reset(request.address)):
            raise Throttled(wait, "password-reset requests from this address")
        body = await request.body()
        if len(body) > self.max_body_bytes:
            raise BodyTooLarge()
        hold = None
        if route.held and caller and is_held(request.query):
            if (hold := self.held.hold(caller.account_id, request.address)) is None:
                raise TooManyHeld(self.held_retry_seconds)
        try:
            answer = await self.upstreams.forward(
                route.service,
                request.method,
                canonical,
                query=request.query,
                headers=request.headers,
                body=body,
                caller=caller,
                client_address=request.address,  # the peer we saw; a client's own header is dropped
                held=hold is not None,  # a long poll: over the pool of held requests
            )
        finally:
            if hold:
                hold.release()
        if caller and (route.method, route.template) == ACCOUNT_DELETION and answer.succeeded:
            await self.sessions.remove_account(caller.account_id)  # a deleted account keeps no session
            if self.authenticator.revocations is not None:  # its signed tokens refused here at once
                await self.authenticator.revocations.refreshed_quietly()
        if caller and self.app_passwords is not None and answer.succeeded:
            if (route.method, route.template) in (ACCOUNT_DELETION, APP_PASSWORD_REVOCATION):
                self.app_passwords.forget_account(caller.account_id)  # at once here; other replicas by event
        return answer
