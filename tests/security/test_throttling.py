"""Throttling at the gateway (issue 13, item 5): guessing one account's password and flooding
sign-ups from one address are slowed down with 429 + Retry-After.

The shared system runs with limits far above what the suites do (docstore_devplatform.e2e SYSTEM_ENV),
so these tests start a gateway of their own with low limits, in front of region A's services and
on a sessions database of its own, so its counters never touch the shared gateway's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from docstore_devplatform.e2e import PASSWORD, REGION_A, SYSTEM_ENV, System

from .conftest import new_user

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LOGIN_FAILURES = 5
SIGN_UPS = 5
# The gateway's throttle settings (services/gateway/src/docstore_gateway/settings.py), low.
# The address limit on logins stays high so that only the per-username one is tested.
THROTTLE_ENV = {
    "GATEWAY_LOGIN_LIMITS_PER_USERNAME": f"{LOGIN_FAILURES}/hour",
    "GATEWAY_LOGIN_LIMITS_PER_ADDRESS": "10000/minute",
    "GATEWAY_SIGNUP_LIMITS_PER_ADDRESS": f"{SIGN_UPS}/hour",
    "GATEWAY_RATE_LIMIT_STORAGE": "memory://",  # counters of this process only
}
UPSTREAMS = ("metadata", "upload", "quota", "indexer", "notify")


@pytest.fixture(scope="module")
def throttled_gateway(endpoints, test_data_dir: Path, system: System) -> Iterator[str]:
    from docstore_devplatform import probes
    from docstore_devplatform.services import ServiceProcesses
    from docstore_events.topics import all_topics

    database = f"throttle_{uuid.uuid4().hex[:8]}"
    # Topics of its own: the gateway consumes account.sessions-revoked in the group "<prefix>gateway",
    # and a second member of the shared gateway's group would take some of its events away.
    prefix = f"{database}."
    probes.create_topics(endpoints.kafka_bootstrap, all_topics(prefix))
    env = (
        SYSTEM_ENV
        | {f"{name.upper()}_URL": system.urls[name] for name in UPSTREAMS}
        | THROTTLE_ENV
        | {
            "GATEWAY_MONGODB_DATABASE": database,
            "GATEWAY_KAFKA_TOPIC_PREFIX": prefix,
        }
    )
    processes = ServiceProcesses(
        endpoints, test_data_dir / "throttled-gateway", region=REGION_A, names=("gateway",), extra_env=env
    )
    try:
        yield processes.start()["gateway"]
    finally:
        processes.stop()


def retry_after(answer: httpx.Response) -> int:
    value = answer.headers.get("retry-after", "")
    assert value.isdigit() and int(value) > 0, f"429 without a usable Retry-After: {answer.headers}"
    return int(value)


async def test_wrong_passwords_for_one_username_are_throttled(system: System, throttled_gateway: str) -> None:
    target, bystander = await new_user(system.gateway), await new_user(system.gateway)
    async with httpx.AsyncClient(base_url=throttled_gateway, timeout=40.0) as gateway:
        statuses = []
        for attempt in range(LOGIN_FAILURES + 3):
            answer = await gateway.post(
                "/v1/sessions", json={"username": target.username, "password": f"guess number {attempt}"}
            )
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                retry_after(answer)
                assert "guess number" not in answer.text
                break
        assert statuses[-1] == 429, f"{len(statuses)} wrong passwords, never throttled: {statuses}"
        assert set(statuses[:-1]) == {401}, statuses
        assert len(statuses) <= LOGIN_FAILURES + 1, statuses

        # While throttled, even the right password is refused: otherwise the 429 tells a guesser
        # nothing and the guessing simply goes on.
        right = await gateway.post("/v1/sessions", json={"username": target.username, "password": PASSWORD})
        assert right.status_code == 429, right.text
        retry_after(right)
        assert "token" not in right.json()

        # Another account is not locked out by someone guessing this one's password.
        other = await gateway.post("/v1/sessions", json={"username": bystander.username, "password": PASSWORD})
        assert other.status_code == 201, other.text


async def test_a_sign_up_flood_from_one_address_is_throttled(throttled_gateway: str) -> None:
    async with httpx.AsyncClient(base_url=throttled_gateway, timeout=40.0) as gateway:
        statuses = []
        for _ in range(SIGN_UPS + 3):
            username = f"flood-{uuid.uuid4().hex[:10]}"
            answer = await gateway.post(
                "/v1/accounts", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
            )
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                retry_after(answer)
                break
        assert statuses[-1] == 429, f"{len(statuses)} sign-ups from one address, never throttled: {statuses}"
        assert set(statuses[:-1]) == {201}, statuses
        assert len(statuses) <= SIGN_UPS + 1, statuses


async def test_the_shared_system_is_not_throttled_by_ordinary_test_traffic(system: System) -> None:
    """The suites sign up hundreds of accounts from 127.0.0.1: the shared gateway's limits must
    sit above that, or unrelated tests would fail with 429 in a full run."""
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as gateway:
        for _ in range(15):  # the gateway's default is 10 a minute per address
            username = f"many-{uuid.uuid4().hex[:10]}"
            answer = await gateway.post(
                "/v1/accounts", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
            )
            assert answer.status_code == 201, answer.text
