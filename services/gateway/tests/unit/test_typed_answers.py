"""Answers, not status codes, between services (issue 36): the adapter turns the accounts
service's and metadata's HTTP answers into typed results (`adapters/answers.py`), no use case and
no page reads a status code, and the share page's use case decides on those results alone."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from docstore_gateway.adapters.answers import (
    app_password_answer,
    credentials_answer,
    link_answer,
    oidc_home_elsewhere,
    redeem_answer,
    second_factor_answer,
)
from docstore_gateway.adapters.upstreams import Upstreams
from docstore_gateway.domain.answers import (
    AppPasswordAccepted,
    CodeAccepted,
    Gone,
    HomeElsewhere,
    LinkGone,
    LinkMissing,
    LinkPasswordRefused,
    LinkRedeemed,
    LinkRefused,
    LinkShown,
    NameLost,
    PasswordAccepted,
    Refused,
    Unexpected,
    UpstreamAnswer,
)
from docstore_gateway.domain.errors import UpstreamUnavailable
from docstore_gateway.service_layer.share_links import PasswordAgain, ShareLinks, TryAgainLater
from docstore_kit.auth import IDENTITY_HEADER, InternalAuth
from docstore_kit.http_transport import ServiceClient

SRC = Path(__file__).resolve().parents[2] / "src" / "docstore_gateway"
TOKEN = "t" * 43


def answer(status: int, body: Any = None) -> UpstreamAnswer:
    return UpstreamAnswer(status, b"" if body is None else json.dumps(body).encode())


def test_no_use_case_nor_page_reads_a_status_code() -> None:
    reads = re.compile(
        r"\.status(_code)?\s*(==|!=|in\b|not\s+in\b|>=|<=|>|<)"  # answer.status == 421, .status_code in (...)
        r"|\bmatch\s+[\w.]+\.status(_code)?\b"  # match answer.status: case 421
        r"|\.(is_success|is_error|is_client_error|is_server_error)\b|\.raise_for_status\("  # httpx's own readings
    )
    assert reads.search("if answer.status == 421:") and reads.search("match reply.status_code:")
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for folder in ("service_layer", "api", "consumers")
        for path in sorted((SRC / folder).glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if reads.search(line)
    ]
    assert offenders == [], "type the answer at the adapter (adapters/answers.py) instead"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"account_id": "a1", "role": "admin", "mfa_required": True}, PasswordAccepted("a1", "admin", True)),
        (200, {"account_id": "a1"}, PasswordAccepted("a1", "user", False)),
        (401, {"detail": "wrong username or password"}, Refused()),
        (421, {"detail": "elsewhere", "home_region": "ap-southeast-2"}, HomeElsewhere("ap-southeast-2")),
        (
            409,
            {"detail": "lost", "code": "username_conflict"},
            NameLost({"detail": "lost", "code": "username_conflict"}),
        ),
        (200, {"no": "account"}, Unexpected(200)),
        (421, {"detail": "no region"}, Unexpected(421)),
        (418, None, Unexpected(418)),
    ],
)
def test_the_password_checks_answers(status: int, body: Any, expected: object) -> None:
    assert credentials_answer(answer(status, body)) == expected


def test_the_second_steps_and_app_passwords_answers() -> None:
    assert second_factor_answer(answer(200, {"ok": True, "method": "recovery"})) == CodeAccepted("recovery")
    assert second_factor_answer(answer(401)) == second_factor_answer(answer(422)) == Refused()
    assert {type(second_factor_answer(answer(status))) for status in (404, 409, 410)} == {Gone}
    assert second_factor_answer(answer(418)) == Unexpected(418)
    accepted = app_password_answer(
        answer(200, {"account_id": "a1", "role": "user", "app_password_id": "apw_1", "scope": "read-only"})
    )
    assert isinstance(accepted, AppPasswordAccepted) and accepted.caller.scope == "read-only"
    assert app_password_answer(answer(401)) == Refused()
    assert app_password_answer(answer(421, {"home_region": "ap-southeast-2"})) == HomeElsewhere("ap-southeast-2")
    assert app_password_answer(answer(200, {"account_id": "a1"})) == Unexpected(200)


def test_a_failing_accounts_service_is_unavailable_not_unexpected() -> None:
    """A 5xx from accounts (its database away, a restart) becomes 503 with Retry-After at the edge."""
    for check in (credentials_answer, second_factor_answer, app_password_answer):
        for status in (500, 503):
            with pytest.raises(UpstreamUnavailable):
                check(answer(status))


def test_the_link_routes_answers_and_a_failing_metadata_is_unavailable() -> None:
    assert link_answer(answer(200, {"name": "a.txt", "size": 1})) == LinkShown({"name": "a.txt", "size": 1})
    assert link_answer(answer(404)) == LinkMissing()
    assert link_answer(answer(410, {"detail": "This link expired."})) == LinkGone("This link expired.")
    assert redeem_answer(answer(200, {"url": "https://s3/x"})) == LinkRedeemed("https://s3/x")
    assert redeem_answer(answer(401, {"detail": "wrong"})) == LinkPasswordRefused("wrong")
    assert redeem_answer(answer(422, {"detail": "bad"})) == LinkRefused("bad")
    for status in (500, 503):
        with pytest.raises(UpstreamUnavailable):
            link_answer(answer(status))


@dataclass
class Links:
    shown: Any = field(default_factory=lambda: LinkShown({"name": "a.txt", "size": 1, "protected": True}))
    redeemed: Any = field(default_factory=lambda: LinkPasswordRefused("That password is not right."))
    redeems: int = 0

    async def resolve_link(self, token: str) -> Any:
        return self.shown

    async def redeem_link(self, token: str, password: str | None) -> Any:
        self.redeems += 1
        return self.redeemed


@dataclass
class Throttle:
    wait: int | None = None
    failed: int = 0

    async def link_password_allowed(self, link: str, address: str) -> int | None:
        return self.wait

    async def link_password_failed(self, link: str, address: str) -> None:
        self.failed += 1


async def test_the_share_pages_use_case_decides_on_typed_answers() -> None:
    links, throttle = Links(), Throttle()
    pages = ShareLinks(links, throttle)
    assert await pages.show("not a token") == LinkMissing() and await pages.show(TOKEN) == links.shown
    again = await pages.download(TOKEN, "guess", address="10.0.0.1")
    assert again == PasswordAgain(links.shown, "That password is not right.") and throttle.failed == 1
    links.shown = LinkGone("This link expired.")  # gone meanwhile: the refusal, not the page
    assert await pages.download(TOKEN, "guess", address="10.0.0.1") == LinkGone("This link expired.")
    throttle.wait = 30  # over the limit: nothing is asked
    redeems = links.redeems
    assert await pages.download(TOKEN, "right", address="10.0.0.1") == TryAgainLater(30)
    assert links.redeems == redeems
    throttle.wait, links.redeemed = None, LinkRedeemed("https://s3/x")
    assert await pages.download(TOKEN, None, address="10.0.0.1") == LinkRedeemed("https://s3/x")


async def test_the_service_client_asks_as_the_gateway_and_hands_back_typed_answers() -> None:
    """The whole client (`Upstreams` on kit's `ServiceClient`) against scripted services: which
    service and route each check goes to, as whom, credentials in the body only, and the typed
    result; a service that does not answer, or the links service failing, is UpstreamUnavailable."""
    auth = InternalAuth("gateway", {"k1": "x" * 32}, "k1")
    scripted = {
        ("accounts", "/internal/credentials/verify"): (421, {"detail": "elsewhere", "home_region": "ap-southeast-2"}),
        ("accounts", "/internal/accounts/acc-1/mfa/verify"): (409, {"detail": "two-step sign-in is off"}),
        ("accounts", "/internal/app-passwords/verify"): (
            200,
            {"account_id": "acc-1", "role": "user", "app_password_id": "apw_1", "scope": "webdav-sync"},
        ),
        ("links", "/internal/links/resolve"): (410, {"detail": "This link expired."}),
        ("links", "/internal/links/redeem"): (503, {"detail": "down"}),
    }
    seen: list[tuple[str, str, dict[str, Any], str, str]] = []

    def service(request: httpx.Request) -> httpx.Response:
        host, path = request.url.host, request.url.path
        identity = auth.verify(request.headers[IDENTITY_HEADER], audience=host)
        seen.append((host, path, json.loads(request.content), identity.subject, identity.role))
        assert request.method == "POST" and not request.url.query
        status, body = scripted[(host, path)]
        return httpx.Response(status, json=body)

    clients = {
        name: ServiceClient(base_url=f"http://{name}", transport=httpx.MockTransport(service))
        for name in ("accounts", "links")
    }
    upstreams = Upstreams(dict(clients), auth)
    assert await upstreams.verify_credentials("ann", "s3cret pw") == HomeElsewhere("ap-southeast-2")
    assert await upstreams.verify_second_factor("acc-1", "123456") == Gone()
    accepted = await upstreams.verify_app_password("ann", "apw-secret")
    assert isinstance(accepted, AppPasswordAccepted) and accepted.caller.app_password_id == "apw_1"
    assert await upstreams.resolve_link(TOKEN) == LinkGone("This link expired.")
    with pytest.raises(UpstreamUnavailable):
        await upstreams.redeem_link(TOKEN, "guess")
    assert seen == [
        (
            "accounts",
            "/internal/credentials/verify",
            {"username": "ann", "password": "s3cret pw"},
            "gateway",
            "service",
        ),
        ("accounts", "/internal/accounts/acc-1/mfa/verify", {"code": "123456"}, "gateway", "service"),
        (
            "accounts",
            "/internal/app-passwords/verify",
            {"username": "ann", "password": "apw-secret"},
            "gateway",
            "service",
        ),
        ("links", "/internal/links/resolve", {"token": TOKEN}, "gateway", "service"),
        ("links", "/internal/links/redeem", {"token": TOKEN, "password": "guess"}, "gateway", "service"),
    ]

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    clients["accounts"] = ServiceClient(base_url="http://accounts", transport=httpx.MockTransport(unreachable))
    with pytest.raises(UpstreamUnavailable):
        await Upstreams(dict(clients), auth).verify_credentials("ann", "s3cret pw")
    for client in clients.values():
        await client.aclose()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (421, {"detail": "kept elsewhere", "home_region": "eu-west-1"}, HomeElsewhere("eu-west-1")),
        (421, {"detail": "no region named"}, None),
        (200, {"account_id": "a1", "home_region": "eu-west-1"}, None),
        (403, {"type": "urn:docstore:problem:oidc-email-unverified"}, None),
    ],
)
def test_an_oidc_sign_in_of_another_regions_account_is_typed_as_home_elsewhere(
    status: int, body: Any, expected: HomeElsewhere | None
) -> None:
    """`POST /internal/oidc/finish` answers 421 `{home_region}` for an identity (or verified
    address) of another region's account; the callback sends the browser to sign in there."""
    assert oidc_home_elsewhere(answer(status, body)) == expected
