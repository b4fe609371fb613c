"""Sign-in with OpenID Connect at the edge (issue 36). The accounts service runs the flow (PKCE,
nonce, the ID token's checks, linking); the gateway binds it to the browser and issues the session.

- `GET /v1/sessions/oidc`: the provider's name for the sign-in button (404: none configured).
- `GET /v1/sessions/oidc/start`: 303 to the provider; the flow's `state` in an HttpOnly cookie
  (`SameSite=Lax`: it must come back with the provider's top-level redirect), path
  `/v1/sessions/oidc`, ten minutes.
- `GET /v1/sessions/oidc/callback?code&state`: the `state` must equal the cookie (a callback
  another site started is refused: login CSRF); the accounts service spends the flow (one use) and
  checks the ID token; then a session exactly as after a password (`Logins`: access token, refresh
  cookie, the device list, `account.new-sign-in`), and 303 to the web app, which takes its access
  token from the refresh cookie as on any load. An identity of another region's account (accounts
  answers 421 `{home_region}`: its replica here names the identity, or that region holds the
  verified address) is sent to sign in there: 303 to that region's `/v1/sessions/oidc/start`.

The provider's authentication stands for the account's two-step sign-in too (accounts README).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse

from docstore_gateway.adapters.answers import oidc_home_elsewhere
from docstore_gateway.api.deps import LoginsDep, ServicesDep
from docstore_gateway.api.routes import NO_STORE, _set_refresh_cookie, client_address
from docstore_gateway.bootstrap import Services
from docstore_gateway.domain.errors import AccountElsewhere, AccountsUnavailable, UpstreamUnavailable
from docstore_kit.errors import PROBLEM_JSON, problem_responses

router = APIRouter(prefix="/v1", tags=["sessions"])

STATE_COOKIE_PATH = "/v1/sessions/oidc"
STATE_SECONDS = 600
AFTER_SIGN_IN = "/#/"
#: The refusals the login page explains (`web/js/views/auth.js`); any other is "sign-in refused".
BROWSER_REFUSALS = frozenset(
    {"oidc-state-mismatch", "oidc-sign-in-refused", "oidc-email-unverified", "oidc-not-configured", "conflict"}
)


def state_cookie_name(services: Services) -> str:
    return "__Secure-docstore-oidc" if services.settings.session_cookie_secure else "docstore-oidc"


async def _accounts(path: str, services: Services, method: str = "POST", payload: dict[str, Any] | None = None) -> Any:
    """Ask the accounts service's internal OpenID Connect route `path`, as the gateway itself."""
    try:
        return await services.upstreams.forward(
            "accounts",
            method,
            path,
            query="",
            headers={"content-type": "application/json"},
            body=json.dumps(payload or {}).encode() if method == "POST" else b"",
            caller=None,
            as_service=True,
        )
    except UpstreamUnavailable as error:
        raise AccountsUnavailable() from error


def _problem(status_code: int, detail: str, problem: str) -> JSONResponse:
    body = {"type": f"urn:docstore:problem:{problem}", "title": "Sign-in refused", "status": status_code}
    return JSONResponse(body | {"detail": detail}, status_code=status_code, media_type=PROBLEM_JSON, headers=NO_STORE)


def _passed_on(answer: Any) -> Response:
    """The accounts service's refusal, as it put it."""
    return Response(answer.content, status_code=answer.status, media_type=PROBLEM_JSON, headers=NO_STORE)


@router.get(
    "/sessions/oidc",
    summary="The OpenID provider people may sign in with (404: none)",
    responses=problem_responses(404, 503),
)
async def provider(services: ServicesDep) -> Response:
    answer = await _accounts("internal/oidc", services, "GET")
    if not answer.succeeded:
        return _passed_on(answer)
    return Response(answer.content, media_type="application/json")


@router.get(
    "/sessions/oidc/start",
    summary="Sign in with the OpenID provider: 303 to its sign-in page",
    responses=problem_responses(404, 503),
)
async def start(services: ServicesDep) -> Response:
    answer = await _accounts("internal/oidc/start", services)
    if not answer.succeeded:
        return _passed_on(answer)
    flow = answer.json()
    response = RedirectResponse(flow["authorization_url"], status_code=status.HTTP_303_SEE_OTHER, headers=NO_STORE)
    response.set_cookie(
        state_cookie_name(services),
        flow["state"],
        max_age=STATE_SECONDS,
        path=STATE_COOKIE_PATH,
        secure=services.settings.session_cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get(
    "/sessions/oidc/callback",
    summary="Where the OpenID provider sends people back: a session, then the web app",
    responses=problem_responses(400, 403, 503),
)
async def callback(request: Request, services: ServicesDep, logins: LoginsDep) -> Response:
    """A browser (it asks for HTML) is sent back to the login page with the refusal's kind, which
    the page says in words; any other client gets the refusal itself (a problem, 400 or 403)."""
    response, refused = await _refusal_or_session(request, services, logins)
    if not refused or "text/html" not in request.headers.get("accept", ""):
        return response
    try:
        kind = json.loads(bytes(response.body)).get("type", "").rsplit(":", 1)[-1]
    except (ValueError, AttributeError):
        kind = ""
    kind = kind if kind in BROWSER_REFUSALS else "oidc-sign-in-refused"
    back = RedirectResponse(f"/#/login?sign_in_error={kind}", status_code=status.HTTP_303_SEE_OTHER, headers=NO_STORE)
    back.delete_cookie(state_cookie_name(services), path=STATE_COOKIE_PATH)
    return back


async def _refusal_or_session(request: Request, services: Services, logins: Any) -> tuple[Response, bool]:
    """The session (and False), or the refusal (and True)."""
    params = request.query_params
    if params.get("error"):
        detail = params.get("error_description") or params["error"]
        return _problem(
            400, f"The identity provider did not sign you in ({detail[:200]}).", "oidc-sign-in-refused"
        ), True
    state, code = params.get("state") or "", params.get("code") or ""
    cookie = request.cookies.get(state_cookie_name(services)) or ""
    if not state or not code or not cookie or not hmac.compare_digest(state.encode(), cookie.encode()):
        return _problem(
            400,
            "This sign-in was not started from this browser, or it took too long. Please sign in again.",
            "oidc-state-mismatch",
        ), True
    answer = await _accounts("internal/oidc/finish", services, payload={"state": state, "code": code})
    if (home := oidc_home_elsewhere(answer)) is not None:
        sent = logins.authenticator.regions.send_home(home.region, f"{STATE_COOKIE_PATH}/start")
        if isinstance(sent, AccountElsewhere):
            there = RedirectResponse(sent.location, status_code=status.HTTP_303_SEE_OTHER, headers=NO_STORE)
            there.delete_cookie(state_cookie_name(services), path=STATE_COOKIE_PATH)
            return there, False
    if not answer.succeeded:
        refused = _passed_on(answer)
        refused.delete_cookie(state_cookie_name(services), path=STATE_COOKIE_PATH)
        return refused, True
    who = answer.json()
    # The same session as after a password: `Logins` issues it and records the device.
    issued = await logins.start_session(
        who["account_id"],
        who["role"],
        address=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )
    response = RedirectResponse(AFTER_SIGN_IN, status_code=status.HTTP_303_SEE_OTHER, headers=NO_STORE)
    _set_refresh_cookie(response, services.settings, issued)
    response.delete_cookie(state_cookie_name(services), path=STATE_COOKIE_PATH)
    return response, False
