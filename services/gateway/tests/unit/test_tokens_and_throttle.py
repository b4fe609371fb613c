"""Bearer token shape, and the login/sign-up throttle on `limits`' in-memory storage."""

from __future__ import annotations

import secrets

import pytest

from docstore_gateway.adapters.throttle import Throttle, async_storage_uri, parse_limits
from docstore_gateway.domain.tokens import well_formed
from docstore_gateway.settings import Settings

REGIONS = frozenset({"us-west-2", "ap-southeast-2"})


def test_only_known_region_dot_urlsafe_random_is_well_formed() -> None:
    assert well_formed(f"us-west-2.{secrets.token_urlsafe(32)}", REGIONS)
    assert well_formed("ap-southeast-2.someone-elses", REGIONS)
    for token in (
        "evil<script>.x",
        "us-west-2<script>.x",
        "mars-1.abc",
        "us-west-2.",
        ".abc",
        "us-west-2.a.b",
        "us-west-2.a/b",
        "us-west-2.a b",
        "forged",
        f"us-west-2.{'a' * 513}",  # longer than any token issued (a signed one: about 240)
        "us-west-2.é",
    ):
        assert not well_formed(token, REGIONS), token
    # A gateway without a region issues bare tokens and accepts only those.
    assert well_formed(secrets.token_urlsafe(32), frozenset({""}))
    assert not well_formed("x<y", frozenset({""}))


def test_settings_know_their_own_region_and_every_configured_one() -> None:
    settings = Settings(region="us-west-2", region_gateways='{"ap-southeast-2": "http://127.0.0.1:8090"}')
    assert settings.known_regions() == {"us-west-2", "ap-southeast-2"}


def test_limit_settings_are_checked_at_start() -> None:
    assert [str(item) for item in parse_limits("5/minute;20/15 minutes;100/day")] == [
        "5 per 1 minute",
        "20 per 15 minute",
        "100 per 1 day",
    ]
    assert parse_limits("") == []
    with pytest.raises(ValueError):
        Settings(login_limits_per_username="five a minute")
    assert async_storage_uri("memory://") == "async+memory://"
    assert async_storage_uri("async+redis://h:6379") == "async+redis://h:6379"


def throttle(**limits: str) -> Throttle:
    defaults = {"login_per_username": "", "login_per_address": "", "signup_per_address": ""}
    return Throttle("memory://", **(defaults | limits))


async def test_only_failed_logins_count_toward_the_username_limit() -> None:
    t = throttle(login_per_username="3/minute")
    for _ in range(10):  # successes (no login_failed) never block
        assert await t.login_attempt("ada", "10.0.0.1") is None
    for _ in range(3):
        assert await t.login_attempt("ada", "10.0.0.1") is None
        await t.login_failed("ada")
    wait = await t.login_attempt("ada", "10.0.0.2")  # from anywhere, even with the right password
    assert wait is not None and 1 <= wait <= 60
    assert await t.login_attempt(" ADA ", "10.0.0.3") is not None  # as metadata spells it
    assert await t.login_attempt("grace", "10.0.0.1") is None  # another account is unaffected


async def test_stacked_windows_make_the_wait_grow() -> None:
    t = throttle(login_per_username="2/minute;3/hour")
    for _ in range(2):
        await t.login_failed("ada")
    short = await t.login_attempt("ada", "a")
    assert short is not None and short <= 60
    await t.login_failed("ada")  # the hour's third failure
    long = await t.login_attempt("ada", "a")
    assert long is not None and long > 60


async def test_every_login_attempt_counts_per_address() -> None:
    t = throttle(login_per_address="4/minute")
    for n in range(4):
        assert await t.login_attempt(f"user{n}", "10.0.0.9") is None
    wait = await t.login_attempt("someone-else", "10.0.0.9")
    assert wait is not None and 1 <= wait <= 60
    assert await t.login_attempt("someone-else", "10.0.0.10") is None


async def test_sign_ups_are_limited_per_address() -> None:
    t = throttle(signup_per_address="2/minute")
    assert await t.sign_up("10.0.0.1") is None and await t.sign_up("10.0.0.1") is None
    wait = await t.sign_up("10.0.0.1")
    assert wait is not None and 1 <= wait <= 60
    assert await t.sign_up("10.0.0.2") is None


async def test_empty_limits_mean_no_throttle() -> None:
    t = throttle()
    for _ in range(50):
        await t.login_failed("ada")
        assert await t.login_attempt("ada", "a") is None and await t.sign_up("a") is None


async def test_a_link_password_has_a_limit_per_link_whatever_the_address() -> None:
    t = throttle(link_password="3/minute", link_password_per_link="5/minute")
    for n in range(5):  # five guessers, one wrong password each: under every address's limit
        assert await t.link_password_allowed("link-a", f"10.0.0.{n}") is None
        await t.link_password_failed("link-a", f"10.0.0.{n}")
    wait = await t.link_password_allowed("link-a", "10.0.0.99")  # a fresh address: the link is closed
    assert wait is not None and 1 <= wait <= 60
    assert await t.link_password_allowed("link-b", "10.0.0.99") is None  # other links are not
