"""The gateway's refusals, each a `DomainError` that carries its status.

The gateway is the public edge: its answers are a contract that clients, the web app and the
end-to-end tests read as they are. An error is an RFC 9457 problem (`application/problem+json`,
`detail` as clients have always read it, plus a few members of their own), some with a header
that is part of the meaning (`WWW-Authenticate`, `Allow`, `Retry-After`, `Location`). So these
errors are answered by the gateway's one handler (`api/errors.py`, more specific than kit's
handler) from `body()` and `headers()`; routes hold no try/except for them.
"""

from __future__ import annotations

from typing import Any

from docstore_kit.errors import PROBLEM_JSON, PROBLEM_TYPE_PREFIX, DomainError, Forbidden, TooLarge, Unavailable


class GatewayError(DomainError):
    """A refusal answered as `body()` (a problem, `detail` and `extra()` included) with `headers()`."""

    def detail(self) -> Any:
        # Every gateway message is written for clients and names no internals, 5xx included.
        return str(self)

    def headers(self) -> dict[str, str]:
        return {}

    def body(self) -> Any:
        """An error (4xx, 5xx) as an RFC 9457 problem, like every service's; a redirect as
        `{"detail": ..., **extra()}`."""
        if self.status < 400:
            return {"detail": self.detail(), **self.extra()}
        return {
            "type": PROBLEM_TYPE_PREFIX + self.problem,
            "title": self.title,
            "status": self.status,
            "detail": self.detail(),
            **self.extra(),
        }

    def media_type(self) -> str:
        return PROBLEM_JSON if self.status >= 400 else "application/json"


class BadPath(GatewayError, ValueError):
    """A path the gateway refuses to route (400). The message never repeats the path."""

    status = 400
    problem = "bad-path"
    title = "Malformed path"


class NoSuchRoute(GatewayError):
    """The route table names no such path (404)."""

    status = 404
    problem = "no-such-route"
    title = "No such route"

    def __init__(self) -> None:
        super().__init__("no such route: see /docs for the API")


class MethodNotAllowed(GatewayError):
    """The path names a public route, but not for this method (405, `Allow`)."""

    status = 405
    problem = "method-not-allowed"
    title = "Method not allowed"

    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed

    def detail(self) -> Any:
        return "this route does not take this method"

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class Unauthenticated(GatewayError):
    """No bearer token, a malformed one or one of no live session (401, `WWW-Authenticate`).
    The message never repeats the token."""

    status = 401
    problem = "unauthenticated"
    title = "Unauthenticated"

    def __init__(self) -> None:
        super().__init__("a valid bearer token is required: log in at POST /v1/sessions")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class SessionEnded(GatewayError):
    """A refresh without a usable refresh token: none, unknown, expired, or one already spent (then
    its whole family has just been revoked). 401; the message never repeats the token."""

    status = 401
    problem = "session-ended"
    title = "Session ended"

    def __init__(self) -> None:
        super().__init__("your session has ended: log in again at POST /v1/sessions")


class WrongPassword(GatewayError):
    """The accounts service refused the username and password (401)."""

    status = 401
    problem = "wrong-credentials"
    title = "Wrong username or password"

    def __init__(self) -> None:
        super().__init__("wrong username or password")


class AdminOnly(GatewayError, Forbidden):
    """An admin route called without the admin role (403)."""

    problem = "admin-only"
    title = "Administrators only"

    def __init__(self) -> None:
        super().__init__("this route is for administrators")


class Throttled(GatewayError):
    """Over a throttle limit (429, `Retry-After`: seconds until the fullest window frees a slot)."""

    status = 429
    problem = "throttled"
    title = "Too many requests"

    def __init__(self, wait: int, what: str) -> None:
        super().__init__(f"too many {what}: try again in {wait} seconds")
        self.wait = wait

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.wait)}


class TooManyHeld(Throttled):
    """Over a cap on held requests (long polls) of the account or address (429, `Retry-After`)."""

    problem = "too-many-held-requests"

    def __init__(self, wait: int) -> None:
        GatewayError.__init__(
            self,
            f"too many long polls (?wait=) open at once for this account or address: let one answer "
            f"before opening another, or ask without wait; try again in {wait} seconds",
        )
        self.wait = wait


class BodyTooLarge(GatewayError, TooLarge):
    """A request body above the gateway's limit (413): file bytes go to S3, not through here."""

    problem = "body-too-large"
    title = "Request body too large"

    def __init__(self) -> None:
        super().__init__("request body too large: file bytes go straight to S3")


class UsernameLost(GatewayError):
    """The account lost its username to a simultaneous sign-up in another region (409): the
    answer is the accounts service's own body, as it put it."""

    status = 409
    problem = "username-conflict"
    title = "Username lost"

    def __init__(self, answer: Any) -> None:
        super().__init__("username_conflict")
        self.answer = answer

    def body(self) -> Any:
        return self.answer


class PasswordSignInOff(GatewayError):
    """The operator turned password sign-in off (403): the accounts service's answer, as it put it."""

    status = 403
    problem = "password-sign-in-off"
    title = "Password sign-in is off"

    def __init__(self, answer: Any) -> None:
        super().__init__("password-sign-in-off")
        self.answer = answer

    def body(self) -> Any:
        return self.answer


class AccountElsewhere(GatewayError):
    """The account's home is another region: 307 (method and body kept) to the same canonical
    path and query at that region's gateway, with a machine-readable body."""

    status = 307
    problem = "account-elsewhere"
    title = "Account lives in another region"

    def __init__(self, home_region: str, base: str, location: str) -> None:
        super().__init__(f"this account's home is region {home_region}: repeat the request at {base}")
        self.home_region = home_region
        self.location = location

    def extra(self) -> dict[str, Any]:
        return {"home_region": self.home_region, "location": self.location}

    def headers(self) -> dict[str, str]:
        return {"Location": self.location}


class HomeNotConfigured(GatewayError):
    """The account's home region (as the accounts service names it, never the client) has no
    gateway in REGION_GATEWAYS (502)."""

    status = 502
    problem = "home-not-configured"
    title = "Home region not configured"

    def __init__(self, home_region: str) -> None:
        super().__init__(f"this account's home is region {home_region}, whose gateway is not configured here")
        self.home_region = home_region

    def extra(self) -> dict[str, Any]:
        return {"home_region": self.home_region}


class AccountsAnsweredUnexpectedly(GatewayError):
    """The credential check answered something it never should (502)."""

    status = 502
    problem = "bad-gateway"
    title = "Bad gateway"

    def __init__(self) -> None:
        super().__init__("accounts answered unexpectedly")


class UpstreamUnavailable(GatewayError, Unavailable):
    """The owning service did not answer (503); `service` names it."""

    problem = "upstream-unavailable"

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service

    def detail(self) -> Any:
        return f"{self.service} is unavailable; try again"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class AccountsUnavailable(GatewayError, Unavailable):
    """The credential check did not answer (503)."""

    problem = "accounts-unavailable"

    def __init__(self) -> None:
        super().__init__("accounts are unavailable; try again")

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RevocationsUnavailable(GatewayError, Unavailable):
    """The revocation list could not be read for a while (the sessions database is down): a signed
    access token is not trusted without it (503)."""

    problem = "sessions-unavailable"

    def __init__(self) -> None:
        super().__init__("sessions are unavailable; try again")

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class MfaRequired(GatewayError):
    """The password was right, and the account has two-factor sign-in on: no session yet (401).
    The body carries `mfa_required: true` and the `mfa_ticket` for `POST /v1/sessions/mfa`."""

    status = 401
    problem = "mfa-required"
    title = "Second step required"

    def __init__(self, ticket: str) -> None:
        super().__init__("Enter the code from your authenticator app")
        self.ticket = ticket

    def extra(self) -> dict[str, Any]:
        return {"mfa_required": True, "mfa_ticket": self.ticket}


class MfaTicketRefused(GatewayError):
    """An `mfa_ticket` that is not one, expired, or already spent (401): start again with the
    password. The message never repeats the ticket."""

    status = 401
    problem = "mfa-ticket-refused"
    title = "Sign-in step expired"

    def __init__(self) -> None:
        super().__init__("this sign-in step has expired or was already used: sign in again with your password")


class WrongCode(GatewayError):
    """The second factor's code was refused by the accounts service (401; counted toward the
    account's and the address's limits). The ticket stays usable until it expires."""

    status = 401
    problem = "wrong-code"
    title = "Wrong code"

    def __init__(self) -> None:
        super().__init__("wrong code: enter the current code from your authenticator app, or a recovery code")

    def extra(self) -> dict[str, Any]:
        return {"mfa_required": True}


class SignedOut(GatewayError):
    """An access or refresh token of a session that ended when every session of the account was
    revoked (a password change or reset, 2FA turned on): 401, sign in again."""

    status = 401
    problem = "signed-out"
    title = "Signed out"

    def __init__(self) -> None:
        super().__init__("You were signed out: sign in again")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class NoSuchSession(GatewayError):
    """No session of the caller's account has this id (404): another account's ids look the same."""

    status = 404
    problem = "no-such-session"
    title = "No such session"

    def __init__(self) -> None:
        super().__init__("no such session: it has ended, or is not yours")


BASIC_CHALLENGE = 'Basic realm="DocStore", charset="UTF-8"'


class WrongAppPassword(GatewayError):
    """HTTP Basic with a username and app password the accounts service refused: wrong, revoked, another
    account's, or the account's own password (which never works here). 401 with the Basic challenge."""

    status = 401
    problem = "wrong-app-password"
    title = "Wrong username or app password"

    def __init__(self) -> None:
        super().__init__(
            "wrong username or app password: create an app password in the web app (Security), "
            "or sign in at POST /v1/sessions"
        )

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": BASIC_CHALLENGE}


class AppPasswordNotAllowed(GatewayError, Forbidden):
    """A request an app password may not make: account settings and security, admin routes, or a
    change with a read-only app password (403)."""

    status = 403
    problem = "app-password-not-allowed"
    title = "Not allowed with an app password"
