"""From HTTP answers to typed results (`domain/answers.py`): the one place that knows which
status code the accounts service (passwords, second factors, app passwords) and the links service (share
links) answer for what. Pure functions of an `UpstreamAnswer`, so the use cases'
tests feed them scripted answers, and a contract change is one edit here."""

from __future__ import annotations

from typing import Any

from docstore_gateway.domain.answers import (
    AppPasswordAccepted,
    AppPasswordAnswer,
    CodeAccepted,
    CredentialsAnswer,
    Gone,
    HomeElsewhere,
    LinkAnswer,
    LinkGone,
    LinkMissing,
    LinkPasswordRefused,
    LinkRedeemed,
    LinkRefused,
    LinkShown,
    NameLost,
    PasswordAccepted,
    PasswordsOff,
    RedeemAnswer,
    Refused,
    SecondFactorAnswer,
    Unexpected,
    UpstreamAnswer,
)
from docstore_gateway.domain.app_passwords import AppPasswordCaller
from docstore_gateway.domain.errors import UpstreamUnavailable

OK, UNAUTHORIZED, NOT_FOUND, CONFLICT, GONE, MISDIRECTED, UNPROCESSABLE = 200, 401, 404, 409, 410, 421, 422
FORBIDDEN = 403


def _body(answer: UpstreamAnswer) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def _detail(answer: UpstreamAnswer) -> str | None:
    body = _body(answer)
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) and detail else None


def credentials_answer(answer: UpstreamAnswer) -> CredentialsAnswer:
    """`POST /internal/credentials/verify`: 200 the account (`mfa_required`), 401 wrong, 421
    `{home_region}` elsewhere, 409 the username lost (its body shown as it is)."""
    _accounts_failing(answer)
    body = _body(answer)
    try:
        if answer.status == OK:
            return PasswordAccepted(
                str(body["account_id"]), str(body.get("role", "user")), bool(body.get("mfa_required"))
            )
        if answer.status == UNAUTHORIZED:
            return Refused()
        if answer.status == MISDIRECTED:
            return HomeElsewhere(str(body["home_region"]))
        if answer.status == CONFLICT and body is not None:
            return NameLost(body)
        if answer.status == FORBIDDEN and isinstance(body, dict) and body.get("detail"):
            return PasswordsOff(body)
    except (KeyError, TypeError, AttributeError):
        pass
    return Unexpected(answer.status)


def second_factor_answer(answer: UpstreamAnswer) -> SecondFactorAnswer:
    """`POST /internal/accounts/{id}/mfa/verify`: 200 accepted; 401 wrong (and 422, a code not even
    shaped like one: wrong all the same); 404, 409, 410 the account or its two-step sign-in is gone."""
    _accounts_failing(answer)
    if answer.status == OK:
        body = _body(answer)
        return CodeAccepted(str(body.get("method", "totp")) if isinstance(body, dict) else "totp")
    if answer.status in (UNAUTHORIZED, UNPROCESSABLE):
        return Refused()
    if answer.status in (NOT_FOUND, CONFLICT, GONE):
        return Gone()
    return Unexpected(answer.status)


def app_password_answer(answer: UpstreamAnswer) -> AppPasswordAnswer:
    """`POST /internal/app-passwords/verify`: 200 accepted, 401 (or 422: not shaped like one)
    refused, 421 `{home_region}` elsewhere."""
    _accounts_failing(answer)
    body = _body(answer)
    try:
        if answer.status == OK:
            return AppPasswordAccepted(
                AppPasswordCaller(
                    account_id=str(body["account_id"]),
                    role=str(body.get("role", "user")),
                    app_password_id=str(body["app_password_id"]),
                    scope=str(body["scope"]),
                )
            )
        if answer.status in (UNAUTHORIZED, UNPROCESSABLE):
            return Refused()
        if answer.status == MISDIRECTED:
            return HomeElsewhere(str(body["home_region"]))
    except (KeyError, TypeError, AttributeError):
        pass
    return Unexpected(answer.status)


def oidc_home_elsewhere(answer: UpstreamAnswer) -> HomeElsewhere | None:
    """`POST /internal/oidc/finish`: 421 `{home_region}` when the identity (or its verified address)
    belongs to another region's account, which signs in there; None for any other answer (a
    session, or a refusal passed on as it is)."""
    body = _body(answer)
    if answer.status == MISDIRECTED and isinstance(body, dict) and isinstance(body.get("home_region"), str):
        return HomeElsewhere(body["home_region"])
    return None


def _accounts_failing(answer: UpstreamAnswer) -> None:
    """A 5xx is accounts failing (its database away, a restart): UpstreamUnavailable, so the
    client gets 503 with Retry-After and tries again, not 502 as for an answer that makes no sense."""
    if answer.status >= 500:
        raise UpstreamUnavailable("accounts")


def _link_refusal(answer: UpstreamAnswer) -> LinkMissing | LinkGone | LinkRefused:
    """What a link route's refusal means; a 5xx is the links service failing: UpstreamUnavailable."""
    if answer.status >= 500:
        raise UpstreamUnavailable("links")
    if answer.status == NOT_FOUND:
        return LinkMissing()
    if answer.status == GONE:
        return LinkGone(_detail(answer))
    return LinkRefused(_detail(answer))


def link_answer(answer: UpstreamAnswer) -> LinkAnswer:
    """`POST /internal/links/resolve`: 200 what the page shows; 404 no such link; 410 gone."""
    body = _body(answer)
    if answer.status == OK and isinstance(body, dict):
        return LinkShown(body)
    return _link_refusal(answer)


def redeem_answer(answer: UpstreamAnswer) -> RedeemAnswer:
    """`POST /internal/links/redeem`: 200 `{url}`; 401 password missing or wrong; 404; 410."""
    body = _body(answer)
    if answer.status == OK and isinstance(body, dict) and isinstance(body.get("url"), str):
        return LinkRedeemed(body["url"])
    if answer.status == UNAUTHORIZED:
        return LinkPasswordRefused(_detail(answer))
    return _link_refusal(answer)
