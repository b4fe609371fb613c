"""`docstore login` with two-step sign-in: the gateway's 401 `mfa_required` leads to a "Code:"
prompt and POST /v1/sessions/mfa with the ticket; a wrong code is asked again; without a prompt
the error says what to do. The gateway is an httpx MockTransport."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from docstore_sync.adapters import gateway as gateway_module
from docstore_sync.adapters.gateway import ApiError, log_in

PROBLEM = {"content-type": "application/problem+json"}


def fake_gateway(monkeypatch: pytest.MonkeyPatch, seen: list[tuple[str, dict[str, Any]]]) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((request.url.path, body))
        if request.url.path == "/v1/sessions":
            return httpx.Response(
                401,
                json={"detail": "Enter the code from your authenticator app", "mfa_required": True, "mfa_ticket": "T1"},
                headers=PROBLEM,
            )
        if body["code"] != "123456":
            return httpx.Response(401, json={"type": "https://docstore/problems/wrong-code"}, headers=PROBLEM)
        return httpx.Response(201, json={"token": "us-west-2.a", "account_id": "acc-1", "refresh_token": "us-west-2.r"})

    real = httpx.Client
    monkeypatch.setattr(
        gateway_module.httpx, "Client", lambda **kwargs: real(transport=httpx.MockTransport(handle), **kwargs)
    )


def test_the_code_is_asked_for_and_sent_with_the_ticket(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    fake_gateway(monkeypatch, seen)
    codes = iter(["000000", " 123456 "])
    session = log_in("http://gw.test", "ada", "pw", code_prompt=lambda: next(codes))
    assert (session.token, session.refresh_token, session.gateway) == ("us-west-2.a", "us-west-2.r", "http://gw.test")
    assert [path for path, _ in seen] == ["/v1/sessions", "/v1/sessions/mfa", "/v1/sessions/mfa"]
    assert seen[2][1] == {"mfa_ticket": "T1", "code": "123456", "refresh_token_in_body": True}


def test_without_a_prompt_the_error_says_two_step_sign_in_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gateway(monkeypatch, [])
    with pytest.raises(ApiError, match="two-step sign-in"):
        log_in("http://gw.test", "ada", "pw")
