"""The low-severity findings (issue 13, item 7): control characters in ids, attacker text echoed
back, weak passwords, browser security headers, secrets in access logs, HTML in search snippets,
and one-click unsubscribe headers on every mail."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from docstore_devplatform.e2e import FREE_CAP_BYTES, PASSWORD, mails_to, sign_up, upload
from docstore_devplatform.testing import eventually

from .conftest import Victim, new_user
from .support import fill_path, identity, operations, raw_request

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONTROL_CHARACTERS = ("%00", "%01", "%0a", "%0d", "%09", "%1b", "%7f", "x%00y", "%c2%85")
UNSUBSCRIBE = re.compile(r"/v1/notifications/unsubscribe/([A-Za-z0-9_-]+)")


async def test_control_characters_in_path_parameters_never_give_a_5xx(system, victim_a: Victim) -> None:
    user = await new_user(system.gateway)
    spec = (await raw_request(system.gateway, "GET", "/openapi.json")).text
    gateway_ops = [op for op in operations(json.loads(spec)) if op.path_params]
    assert gateway_ops, "the gateway's OpenAPI has no route with a path parameter"
    failures = []
    for op in gateway_ops:
        for bad in CONTROL_CHARACTERS:
            answer = await raw_request(
                system.gateway,
                op.method,
                fill_path(op.path, dict.fromkeys(op.path_params, bad)),
                user.auth | {"Content-Type": "application/json"},
                b"{}" if op.method in ("POST", "PUT", "PATCH") else None,
            )
            if answer.status >= 500:
                failures.append(f"gateway {op.method} {op.path} with {bad} -> {answer.status} {answer.text[:120]}")
    # The services behind it, reached with a valid identity: their own id checks, not the gateway's.
    for service in ("accounts", "metadata", "links", "upload", "quota", "indexer", "notify"):
        own = json.loads((await raw_request(system.urls[service], "GET", "/openapi.json")).text)
        for op in operations(own):
            if not op.path_params:
                continue
            for bad in CONTROL_CHARACTERS:
                role = "service" if op.path.startswith("/internal/") else "user"
                subject = "upload" if role == "service" else victim_a.owner.account_id
                answer = await raw_request(
                    system.urls[service],
                    op.method,
                    fill_path(op.path, dict.fromkeys(op.path_params, bad)),
                    identity(service, subject, role) | {"Content-Type": "application/json"},
                    b"{}" if op.method in ("POST", "PUT", "PATCH") else None,
                )
                if answer.status >= 500:
                    failures.append(
                        f"{service} {op.method} {op.path} with {bad} -> {answer.status} {answer.text[:120]}"
                    )
    assert not failures, "server errors:\n" + "\n".join(failures)


async def test_a_bearer_token_full_of_markup_is_401_and_never_echoed(system) -> None:
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as api:
        for token in (
            "evil<script>.x",
            "evil<script>alert(1)</script>.x",
            "<img src=x onerror=alert(1)>.y",
            "us-west-2<script>.x",
            "..%2f..%2fetc.x",
        ):
            for method, path in (("GET", "/v1/documents"), ("DELETE", "/v1/sessions/current"), ("POST", "/v1/uploads")):
                answer = await api.request(method, path, headers={"Authorization": f"Bearer {token}"}, json={})
                assert answer.status_code == 401, f"{method} {path} with {token!r}: {answer.status_code} {answer.text}"
                assert "<" not in answer.text and token.rsplit(".", 1)[0] not in answer.text, answer.text
                assert "location" not in answer.headers


def string_values(body: object, skip: tuple[str, ...]) -> list[str]:
    """Every string in a JSON body, leaving out the members named in `skip`."""
    if isinstance(body, str):
        return [body]
    if isinstance(body, dict):
        return [v for key, value in body.items() if key not in skip for v in string_values(value, skip)]
    if isinstance(body, list):
        return [v for value in body for v in string_values(value, skip)]
    return []


@pytest.mark.parametrize("password", ["password", "12345678", " " * 8])
async def test_weak_passwords_are_refused_at_sign_up_with_a_reason(system, password: str) -> None:
    username = f"weak-{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as api:
        answer = await api.post(
            "/v1/accounts", json={"username": username, "email": f"{username}@example.com", "password": password}
        )
        assert answer.status_code == 422, f"{password!r}: {answer.status_code} {answer.text}"
        assert "password" in answer.text.lower(), f"no reason given: {answer.text}"
        if password.strip():
            # Names of the offending field ("field", "loc") may say "password"; no value may be it.
            assert password not in string_values(answer.json(), skip=("field", "loc")), (
                f"the password is echoed back: {answer.text}"
            )
        assert (await api.post("/v1/sessions", json={"username": username, "password": password})).status_code == 401


async def test_every_gateway_response_carries_the_browser_security_headers(system, victim_a: Victim) -> None:
    user = await new_user(system.gateway)
    doc = victim_a.document_id
    requests = [
        ("GET", "/", {}, None),
        ("GET", "/index.html", {}, None),
        ("GET", "/healthz", {}, None),
        ("GET", "/readyz", {}, None),
        ("GET", "/openapi.json", {}, None),
        ("GET", "/docs", {}, None),
        ("GET", "/metrics", {}, None),
        ("GET", "/no-such-file.js", {}, None),
        ("GET", "/v1/documents", {}, None),
        ("GET", "/v1/documents", user.auth, None),
        ("GET", f"/v1/documents/{doc}", user.auth, None),
        ("GET", "/v1/nothing-here", user.auth, None),
        ("GET", f"/v1/documents/%2e%2e/internal/accounts/x/documents/{doc}", user.auth, None),
        ("POST", "/v1/accounts", {"Content-Type": "application/json"}, b"{}"),
        ("POST", "/v1/sessions", {"Content-Type": "application/json"}, b'{"username": "nobody-here", "password": "x"}'),
        ("GET", "/v1/notifications/unsubscribe/not-a-token", {}, None),
        ("GET", "/v1/documents", {"Authorization": "Bearer ap-southeast-2.someone-elses"}, None),  # 307 home
        ("OPTIONS", "/v1/sessions", {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, None),
    ]
    failures = []
    for method, path, headers, body in requests:
        answer = await raw_request(system.gateway, method, path, headers, body)
        h = answer.headers
        problems = []
        if h.get("x-content-type-options", "").lower() != "nosniff":
            problems.append("no X-Content-Type-Options: nosniff")
        csp = h.get("content-security-policy", "")
        if "frame-ancestors 'none'" not in csp:
            problems.append(f"CSP without frame-ancestors 'none': {csp!r}")
        if re.search(r"connect-src[^;]*\*", csp):
            problems.append(f"CSP lets scripts connect anywhere: {csp!r}")
        if not h.get("referrer-policy"):
            problems.append("no Referrer-Policy")
        if problems:
            failures.append(f"{method} {path} -> {answer.status}: {'; '.join(problems)}")
    assert not failures, "\n".join(failures)


async def test_signed_links_stay_out_of_the_gateway_access_log(system) -> None:
    secret_sig, secret_token, secret_key, control = (uuid.uuid4().hex for _ in range(4))
    for path in (
        f"/v1/uploads/{uuid.uuid4()}/done/{secret_sig}?key={secret_key}",
        f"/v1/notifications/unsubscribe/{secret_token}",
    ):
        answer = await raw_request(system.gateway, "GET", path)
        assert answer.status < 500, f"{path} -> {answer.status}"
    await raw_request(system.gateway, "GET", f"/v1/documents?control={control}")
    log = system.logs / "gateway.log"

    async def control_logged():
        return control in log.read_text(errors="replace")

    try:
        await eventually(control_logged, timeout=10)
    except AssertionError:
        pytest.skip("the gateway logs no request lines at all, so none can leak a link")
    text = log.read_text(errors="replace")
    for secret in (secret_sig, secret_token, secret_key):
        assert secret not in text, "a signed link's secret is in the gateway's access log"


async def test_full_text_snippets_are_html_escaped_with_only_mark_added(api) -> None:
    user = await sign_up(api, plan="premium")
    text = (
        b"minutes: <script>alert(1)</script> marmalade budget <img src=x onerror=alert(2)> "
        b"marmalade & \"quotes\" 'single' marmalade </textarea><b>bold</b>\n"
    )
    await upload(api, user, "xss.txt", text)

    async def hits():
        found = await api.get("/v1/search", params={"q": "marmalade"}, headers=user.auth)
        assert found.status_code == 200, found.text
        return found.json()["items"]

    [hit] = await eventually(hits, timeout=60)
    snippet = hit["snippet"]
    assert "<mark>" in snippet, snippet
    without_marks = snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in without_marks and ">" not in without_marks, f"raw markup in the snippet: {snippet}"
    assert "&lt;script&gt;" in without_marks or "&lt;img" in without_marks or "&lt;b&gt;" in without_marks, snippet
    assert not re.search(r"&(?!(amp|lt|gt|quot|#x27|#39|apos);)", without_marks), f"unescaped &: {snippet}"


async def test_mails_offer_one_click_unsubscribe_and_it_works(api, system) -> None:
    user = await sign_up(api, plan="free")
    await upload(api, user, "a.bin", b"a" * (FREE_CAP_BYTES * 81 // 100), "application/octet-stream")

    async def warning_mail():
        found = [m for m in await mails_to(user.email) if "80% full" in m["subject"]]
        return found[0] if found else None

    mail = await eventually(warning_mail, timeout=60)
    assert mail["headers"] is not None, (
        "the mail was sent without headers of its own (SendEmail): no List-Unsubscribe possible"
    )
    link = str(mail["headers"].get("List-Unsubscribe", ""))
    assert re.fullmatch(r"<https?://[^>]+/v1/notifications/unsubscribe/[A-Za-z0-9_-]+>", link.strip()), link
    assert mail["headers"].get("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    token = UNSUBSCRIBE.search(link).group(1)

    url = link.strip()[1:-1]
    assert url.startswith(f"{system.gateway}/v1/"), f"the link does not lead to this system's gateway: {url}"

    # RFC 8058: the mail client POSTs this body to the link as it is, with no cookie and no login.
    async with httpx.AsyncClient(timeout=40.0) as mail_client:
        clicked = await mail_client.post(
            url, content=b"List-Unsubscribe=One-Click", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    assert clicked.status_code in (200, 202, 204), clicked.text
    prefs = (await api.get("/v1/notifications/preferences", headers=user.auth)).json()
    assert prefs["quota_warning"] == "off" and prefs["quota_exceeded"] == "instant", prefs
    forged = await api.post(
        f"/v1/notifications/unsubscribe/{token[:-2]}xx",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert forged.status_code == 404, forged.text
    assert PASSWORD not in mail["body"]
