"""Issue 20, devices, end to end through the gateway: two logins from different user agents are
listed (client in short form, address, region, created, last seen; the current one marked); one
is signed out from the other and gets 401 at once; the owner gets a "New sign-in to DocStore"
mail for each new client (read from the SES stand-in), and none for a login from a known one."""

from __future__ import annotations

import httpx
import pytest

from docstore_devplatform.e2e import PASSWORD, REGION_A, mails_to, sign_up
from docstore_devplatform.testing import eventually

pytestmark = pytest.mark.e2e

FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SUBJECT = "New sign-in to DocStore"


async def sign_in_mails(address: str) -> list[str]:
    """The text of every "New sign-in" mail sent to `address`."""
    mails = await mails_to(address, account_mails=True)
    return [m["text"] for m in mails if m["subject"] == SUBJECT]


async def log_in(api: httpx.AsyncClient, username: str, agent: str) -> dict:
    answer = await api.post(
        "/v1/sessions",
        json={"username": username, "password": PASSWORD, "refresh_token_in_body": True},
        headers={"User-Agent": agent},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_devices_are_listed_one_is_signed_out_and_new_ones_are_mailed(api: httpx.AsyncClient) -> None:
    user = await sign_up(api)  # its first sign-in (the test client's agent): nothing to compare with, no mail
    laptop = await log_in(api, user.username, FIREFOX)
    phone = await log_in(api, user.username, CHROME)

    listed = await api.get("/v1/account/sessions", headers=bearer(laptop["token"]))
    assert listed.status_code == 200, listed.text
    devices = {d["client"]: d for d in listed.json()["items"]}
    assert {"Firefox 133 on Ubuntu", "Chrome 131 on Mac OS X"} <= set(devices)
    assert len(devices) == 3 and listed.json()["next_cursor"] is None
    mine = devices["Firefox 133 on Ubuntu"]
    assert mine["current"] is True and not devices["Chrome 131 on Mac OS X"]["current"]
    assert mine["address"] == "127.0.0.1" and mine["region"] == REGION_A
    assert mine["created_at"] and mine["last_seen_at"]

    # Sign the phone out from the laptop: its bearer token and its refresh token are refused at once.
    phone_id = devices["Chrome 131 on Mac OS X"]["session_id"]
    ended = await api.delete(f"/v1/account/sessions/{phone_id}", headers=bearer(laptop["token"]))
    assert ended.status_code == 204
    signed_out = await api.get("/v1/documents", headers=bearer(phone["token"]))
    assert signed_out.status_code == 401 and signed_out.json()["type"].endswith(":signed-out"), signed_out.text
    refreshed = await api.post("/v1/sessions/refresh", json={"refresh_token": phone["refresh_token"]})
    assert refreshed.status_code == 401 and refreshed.json()["type"].endswith(":signed-out"), refreshed.text
    left = (await api.get("/v1/account/sessions", headers=bearer(laptop["token"]))).json()["items"]
    assert len(left) == 2 and "Chrome 131 on Mac OS X" not in {d["client"] for d in left}

    # One mail per new client, naming it, the address and the time; no token in it.
    async def two_mails() -> list[str] | None:
        texts = await sign_in_mails(user.email)
        return texts if len(texts) >= 2 else None

    texts = await eventually(two_mails, timeout=120)
    firefox = next(text for text in texts if "Firefox 133 on Ubuntu" in text)
    assert "127.0.0.1" in firefox and "UTC" in firefox and "change your password" in firefox
    assert any("Chrome 131 on Mac OS X" in text for text in texts)
    for text in texts:
        for secret in (laptop["token"], laptop["refresh_token"], phone["token"], phone["refresh_token"]):
            assert secret not in text

    # A login from a known client and address is no news: still two mails once it has been handled.
    again = await log_in(api, user.username, FIREFOX)
    others = await api.delete("/v1/account/sessions?keep=current", headers=bearer(again["token"]))
    assert others.status_code == 204
    [only] = (await api.get("/v1/account/sessions", headers=bearer(again["token"]))).json()["items"]
    assert only["current"] is True
    laptop_out = await api.get("/v1/documents", headers=bearer(laptop["token"]))
    assert laptop_out.status_code == 401 and laptop_out.json()["type"].endswith(":signed-out"), laptop_out.text
    assert len(await sign_in_mails(user.email)) == 2
