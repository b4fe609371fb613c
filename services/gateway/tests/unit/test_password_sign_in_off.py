"""Password sign-in turned off by the operator (issue 36, OpenID Connect): the accounts service's
403 becomes a typed answer at the adapter, and the login answers 403 with its message as it is."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from docstore_gateway.adapters.answers import credentials_answer
from docstore_gateway.adapters.upstreams import UpstreamAnswer
from docstore_gateway.domain.answers import PasswordsOff, Unexpected
from docstore_gateway.domain.errors import PasswordSignInOff
from docstore_gateway.service_layer.sessions import Logins

OFF = {
    "type": "urn:docstore:problem:password-sign-in-off",
    "status": 403,
    "detail": "Signing in with a password is turned off on this DocStore. Sign in with Example ID instead.",
}


def test_the_accounts_services_403_is_typed_at_the_adapter() -> None:
    assert credentials_answer(UpstreamAnswer(403, json.dumps(OFF).encode())) == PasswordsOff(OFF)
    assert credentials_answer(UpstreamAnswer(403, b"")) == Unexpected(403)  # no message to pass on: 502


class Throttle:
    async def login_attempt(self, username: str, address: str) -> float:
        return 0.0


class Accounts:
    async def verify_credentials(self, username: str, password: str) -> Any:
        return PasswordsOff(OFF)


async def test_the_login_answers_403_with_the_message() -> None:
    logins = Logins(None, Accounts(), Throttle(), None, ttl=timedelta(hours=1))  # type: ignore[arg-type]
    with pytest.raises(PasswordSignInOff) as refused:
        await logins.log_in("ada", "a password", address="10.0.0.1")
    assert refused.value.status == 403
    assert refused.value.body() == OFF
