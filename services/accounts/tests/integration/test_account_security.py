"""Account security on the real servers (issue 20): verification told at login, its link once; reset
links work once, within their life, for their own account; the reset answer is the same for an
unknown name; password and e-mail changes; TOTP with replay refused and recovery codes once each;
the events carry no secret, and the credentials check tells the gateway about MFA."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest

from docstore_accounts.service_layer import account_security
from docstore_events.credentials import (
    AccountEmailVerified,
    AccountMfaChanged,
    AccountPasswordChanged,
    AccountSessionsRevoked,
)

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration

PASSWORD = "violet kettle harbour 1907"
NEW_PASSWORD = "copper lantern meadow 2231"


class RecordingMailer:
    """Stands in for notify's internal route: keeps what the accounts service asked to send."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, kind: str, *, account_id: str, to: str, **fields: Any) -> bool:
        self.sent.append({"kind": kind, "account_id": account_id, "to": to, **fields})
        return True

    def token(self, kind: str, to: str) -> str:
        links = [m["link"] for m in self.sent if m["kind"] == kind and m["to"] == to]
        assert links, f"no {kind} mail to {to}: {self.sent}"
        found = re.search(r"token=([A-Za-z0-9_-]+)$", links[-1])
        assert found
        return found.group(1)


@pytest.fixture
def mailer(accounts: Harness) -> RecordingMailer:
    recording = RecordingMailer()
    accounts.services.account_security.mailer = recording
    return recording


async def _settled(mailer: RecordingMailer, accounts: Harness) -> None:
    """Mails go out in tasks after the answer: wait for them."""
    import asyncio

    for _ in range(200):
        if not accounts.services.account_security._tasks:
            return
        await asyncio.sleep(0.05)


async def sign_up(accounts: Harness) -> dict[str, str]:
    name = f"sec{uuid.uuid4().hex[:10]}"
    email = f"{name}@example.com"
    answer = await accounts.http.post("/accounts", json={"username": name, "email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return {"id": answer.json()["account_id"], "username": name, "email": email}


async def verify(accounts: Harness, user: dict[str, str], password: str = PASSWORD) -> Any:
    return await accounts.http.post(
        "/internal/credentials/verify",
        json={"username": user["username"], "password": password},
        headers=accounts.service_headers("gateway"),
    )


class SlowToTakeMailer(RecordingMailer):
    """notify refusing (or timing out on) the first `refusals` tries, as while it restarts."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals
        self.tries = 0

    async def send(self, kind: str, *, account_id: str, to: str, **fields: Any) -> bool:
        self.tries += 1
        if self.tries <= self.refusals:
            return False
        return await super().send(kind, account_id=account_id, to=to, **fields)


async def test_the_sign_up_mail_is_tried_again_until_notify_takes_it(accounts: Harness) -> None:
    security = accounts.services.account_security
    mailer = SlowToTakeMailer(refusals=2)
    security.mailer, security.mail_retry_delays = mailer, (0.0, 0.0, 0.0)
    owner = await sign_up(accounts)
    await _settled(mailer, accounts)
    assert mailer.tries == 3 and mailer.token("verify-email", owner["email"])

    # Refused at every try: given up after the last delay, nothing left running.
    mailer = SlowToTakeMailer(refusals=10)
    security.mailer = mailer
    await sign_up(accounts)
    await _settled(mailer, accounts)
    assert mailer.tries == 4 and mailer.sent == [] and not security._tasks


async def test_verification_is_told_at_login_and_its_link_works_once(
    accounts: Harness, mailer: RecordingMailer
) -> None:
    """(That sharing and links wait for a verified address is metadata's rule, on its projection:
    metadata's `test_use_cases.py` and tests/e2e.)"""
    owner = await sign_up(accounts)
    await _settled(mailer, accounts)
    login = await verify(accounts, owner)
    assert login.status_code == 200
    assert login.json()["email_verified"] is False and login.json()["mfa_required"] is False
    created = [
        e for e in await accounts.emitted(__import__("docstore_events").AccountCreated) if e.account_id == owner["id"]
    ]
    assert created and created[0].email_verified is False
    shown = await accounts.http.get("/account", headers=accounts.headers(owner["id"]))
    assert shown.json()["email_verified"] is False

    token = mailer.token("verify-email", owner["email"])
    assert (await accounts.http.post("/account/email/verify", json={"token": token})).status_code == 200
    again = await accounts.http.post("/account/email/verify", json={"token": token})
    assert again.status_code == 400  # single use
    assert (await verify(accounts, owner)).json()["email_verified"] is True
    shown = await accounts.http.get("/account", headers=accounts.headers(owner["id"]))
    assert shown.json()["email_verified"] is True
    events = [e for e in await accounts.emitted(AccountEmailVerified) if e.account_id == owner["id"]]
    assert len(events) == 1 and events[0].changed is False


@pytest.fixture
def one_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service's clock, frozen: its throttles count per clock hour (`CounterRepository.take`),
    and a test whose requests straddled the top of an hour would see its count start again."""
    frozen = datetime.now(UTC)
    monkeypatch.setattr(account_security, "_now", lambda: frozen)


@pytest.mark.usefixtures("one_hour")
async def test_resend_is_throttled(accounts: Harness, mailer: RecordingMailer) -> None:
    user = await sign_up(accounts)
    answers = [
        (await accounts.http.post("/account/email/verification", headers=accounts.headers(user["id"]))).status_code
        for _ in range(4)
    ]
    assert answers == [202, 202, 202, 429]
    # Only the newest link works.
    await _settled(mailer, accounts)
    links = [m["link"] for m in mailer.sent if m["kind"] == "verify-email" and m["to"] == user["email"]]
    first = links[0].rsplit("=", 1)[1]
    assert (await accounts.http.post("/account/email/verify", json={"token": first})).status_code == 400
    assert (
        await accounts.http.post("/account/email/verify", json={"token": links[-1].rsplit("=", 1)[1]})
    ).status_code == 200


async def test_a_reset_for_an_unknown_name_does_the_writes_a_known_one_does(
    accounts: Harness, mailer: RecordingMailer
) -> None:
    """The answer's time is not measured here (bench/password_reset.py): the work is. Each request,
    known or not, writes one counter and one token row; an unknown name's row is a decoy no mail
    carries, filed under the name's digest, never the name."""
    user = await sign_up(accounts)
    await _settled(mailer, accounts)
    tokens, counters = accounts.db["account_tokens"], accounts.db["account_counters"]
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    written: dict[str, tuple[int, int]] = {}
    for kind, name in (("known", user["email"]), ("unknown", nobody)):
        before = (await tokens.count_documents({}), await counters.count_documents({}))
        answer = await accounts.http.post("/account/password-reset", json={"username_or_email": name})
        assert answer.status_code == 202
        after = (await tokens.count_documents({}), await counters.count_documents({}))
        written[kind] = (after[0] - before[0], after[1] - before[1])
    assert written["known"] == written["unknown"] == (1, 1)
    await _settled(mailer, accounts)
    assert not [m for m in mailer.sent if m["to"] == nobody]
    decoys = await tokens.find({"account_id": {"$regex": "^unknown:"}, "purpose": "reset-password"}).to_list(None)
    assert decoys and not any(nobody in repr(row) for row in decoys)
    assert not await counters.find_one({"_id": {"$regex": nobody.split("@")[0]}})


async def test_reset_once_in_time_for_its_own_account(accounts: Harness, mailer: RecordingMailer) -> None:
    user, other = await sign_up(accounts), await sign_up(accounts)
    # A reset by address finds the account that holds the address verified (issue 33), never
    # one that only typed it at sign-up.
    await _settled(mailer, accounts)
    verified = await accounts.http.post(
        "/account/email/verify", json={"token": mailer.token("verify-email", user["email"])}
    )
    assert verified.status_code == 200
    known = await accounts.http.post("/account/password-reset", json={"username_or_email": user["email"]})
    unknown = await accounts.http.post("/account/password-reset", json={"username_or_email": "nobody-x@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    await _settled(mailer, accounts)
    token = mailer.token("reset-password", user["email"])
    assert not [m for m in mailer.sent if m["to"] == "nobody-x@example.com"]

    weak = await accounts.http.post(
        "/account/password-reset/confirm", json={"token": token, "new_password": "password"}
    )
    assert weak.status_code == 422  # refused as at sign-up; the link still works
    done = await accounts.http.post(
        "/account/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 204, done.text
    twice = await accounts.http.post(
        "/account/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD + "x"}
    )
    assert twice.status_code == 400
    assert (await verify(accounts, user, NEW_PASSWORD)).status_code == 200
    assert (await verify(accounts, user, PASSWORD)).status_code == 401
    assert (await verify(accounts, other)).status_code == 200  # the other account is untouched
    revoked = [e for e in await accounts.emitted(AccountSessionsRevoked) if e.account_id == user["id"]]
    assert len(revoked) == 1 and revoked[0].reason == "password-reset"
    changed = [e for e in await accounts.emitted(AccountPasswordChanged) if e.account_id == user["id"]]
    assert [e.via for e in changed] == ["reset"]
    await _settled(mailer, accounts)  # the notice goes out after the commit, from its queued row
    notice = [m for m in mailer.sent if m["kind"] == "password-changed" and m["to"] == user["email"]]
    assert len(notice) == 1 and "link" not in notice[0]
    assert await accounts.db["account_notices"].count_documents({"account_id": user["id"]}) == 0

    # An expired link is refused.
    await accounts.http.post("/account/password-reset", json={"username_or_email": other["username"]})
    await _settled(mailer, accounts)
    stale = mailer.token("reset-password", other["email"])
    from docstore_accounts.domain.credentials import token_digest

    await accounts.db["account_tokens"].update_one(
        {"_id": token_digest(stale)}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    late = await accounts.http.post(
        "/account/password-reset/confirm", json={"token": stale, "new_password": NEW_PASSWORD}
    )
    assert late.status_code == 400
    assert (await verify(accounts, other)).status_code == 200


async def test_change_password_and_email(accounts: Harness, mailer: RecordingMailer) -> None:
    user = await sign_up(accounts)
    await _settled(mailer, accounts)
    await accounts.http.post("/account/email/verify", json={"token": mailer.token("verify-email", user["email"])})
    headers = accounts.headers(user["id"])
    wrong = await accounts.http.put(
        "/account/password", json={"current_password": "not it at all", "new_password": NEW_PASSWORD}, headers=headers
    )
    assert wrong.status_code == 403
    ok = await accounts.http.put(
        "/account/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=headers
    )
    assert ok.status_code == 204
    assert (await verify(accounts, user, NEW_PASSWORD)).status_code == 200

    new_email = f"new-{user['email']}"
    asked = await accounts.http.put(
        "/account/email", json={"password": NEW_PASSWORD, "new_email": new_email}, headers=headers
    )
    assert asked.status_code == 202
    await _settled(mailer, accounts)
    notice = [m for m in mailer.sent if m["kind"] == "email-change-notice"]
    assert notice and notice[0]["to"] == user["email"] and "link" not in notice[0]
    account = await accounts.http.get("/account", headers=headers)
    assert account.json()["email"] == user["email"]  # not before it is confirmed
    token = mailer.token("change-email", new_email)
    assert (await accounts.http.post("/account/email/verify", json={"token": token})).status_code == 200
    assert (await accounts.http.get("/account", headers=headers)).json()["email"] == new_email
    internal = await accounts.http.get(
        f"/internal/accounts/{user['id']}/email", headers=accounts.service_headers("notify")
    )
    assert internal.json() == {"email": new_email, "email_verified": True}
    events = [e for e in await accounts.emitted(AccountEmailVerified) if e.account_id == user["id"]]
    assert [e.changed for e in events] == [False, True]


class AwayMailer(RecordingMailer):
    """notify is away: nothing is taken."""

    async def send(self, kind: str, *, account_id: str, to: str, **fields: Any) -> bool:
        return False


async def test_a_notice_notify_did_not_take_is_kept_and_sent_later(accounts: Harness, mailer: RecordingMailer) -> None:
    """The "password changed" notice is written in the change's transaction, so neither notify
    being away nor the process dying after the commit loses it: it is sent when notify is back."""
    user = await sign_up(accounts)
    await _settled(mailer, accounts)
    await accounts.http.post("/account/email/verify", json={"token": mailer.token("verify-email", user["email"])})
    security = accounts.services.account_security
    security.mailer = AwayMailer()
    changed = await accounts.http.put(
        "/account/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers={**accounts.headers(user["id"]), "X-DocStore-Client-Address": "198.51.100.23"},
    )
    assert changed.status_code == 204, changed.text
    await _settled(mailer, accounts)
    [row] = await accounts.db["account_notices"].find({"account_id": user["id"]}).to_list(None)
    assert row["kind"] == "password-changed" and row["to"] == user["email"] and row["attempts"] == 1
    assert row["next_attempt_at"] > row["created_at"]  # backed off
    stored = repr(row)
    for secret in (PASSWORD, NEW_PASSWORD, "token", "argon2"):
        assert secret not in stored

    # notify is back: the next round sends it, once, with the time and the address of the change.
    security.mailer = mailer
    later = datetime.now(UTC) + timedelta(minutes=20)
    assert await security.send_notices(later) >= 1
    assert await security.send_notices(later) == 0
    [notice] = [m for m in mailer.sent if m["kind"] == "password-changed" and m["to"] == user["email"]]
    assert notice["client_address"] == row["fields"]["client_address"] and notice["at"] == row["fields"]["at"]
    assert await accounts.db["account_notices"].count_documents({"account_id": user["id"]}) == 0


@pytest.mark.usefixtures("one_hour")
async def test_wrong_current_passwords_are_throttled_per_account(accounts: Harness, mailer: RecordingMailer) -> None:
    """A session left open cannot be used to guess the password behind it: after ten wrong
    answers in the hour, every route that asks for the password answers 429, the right one too."""
    user, other = await sign_up(accounts), await sign_up(accounts)
    headers = accounts.headers(user["id"])
    for n in range(10):
        wrong = await accounts.http.put(
            "/account/password",
            json={"current_password": f"guess number {n} x", "new_password": NEW_PASSWORD},
            headers=headers,
        )
        assert wrong.status_code == 403, wrong.text
    for method, path, body in (
        ("PUT", "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ("PUT", "/account/email", {"password": PASSWORD, "new_email": f"x-{user['email']}"}),
    ):
        refused = await accounts.http.request(method, path, json=body, headers=headers)
        assert refused.status_code == 429, (path, refused.text)
    assert (await verify(accounts, user, NEW_PASSWORD)).status_code == 401  # nothing changed
    # Another account is not affected.
    fine = await accounts.http.put(
        "/account/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=accounts.headers(other["id"]),
    )
    assert fine.status_code == 204, fine.text


async def test_totp_replay_refused_and_recovery_codes_once(accounts: Harness, mailer: RecordingMailer) -> None:
    user = await sign_up(accounts)
    headers = accounts.headers(user["id"])
    enrol = await accounts.http.post("/account/mfa/enrol", headers=headers)
    assert enrol.status_code == 200
    body = enrol.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/") and body["qr_svg"].startswith("<svg")
    stored = await accounts.db["accounts"].find_one({"_id": user["id"]})
    assert body["secret"] not in str(stored)  # encrypted at rest
    totp = pyotp.TOTP(body["secret"])
    confirming_code = totp.now()
    confirmed = await accounts.http.post("/account/mfa/confirm", json={"code": confirming_code}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert (await verify(accounts, user)).json()["mfa_required"] is True

    url = f"/internal/accounts/{user['id']}/mfa/verify"
    gateway = accounts.service_headers("gateway")
    # The confirming code's step is spent: the same code again is a replay (the same code, not
    # `totp.now()` again: on a loaded machine the 30 s step can turn between the two calls).
    replay = await accounts.http.post(url, json={"code": confirming_code}, headers=gateway)
    assert replay.status_code == 401
    next_code = totp.at(datetime.now(UTC) + timedelta(seconds=30))
    first = await accounts.http.post(url, json={"code": next_code}, headers=gateway)
    assert first.status_code == 200 and first.json() == {"ok": True, "method": "totp"}
    assert (await accounts.http.post(url, json={"code": next_code}, headers=gateway)).status_code == 401

    used = await accounts.http.post(url, json={"code": codes[0].upper()}, headers=gateway)
    assert used.status_code == 200 and used.json()["method"] == "recovery"
    assert (await accounts.http.post(url, json={"code": codes[0]}, headers=gateway)).status_code == 401
    assert (await accounts.http.post(url, json={"code": codes[1]}, headers=gateway)).status_code == 200

    # Turning it off needs both the password and a code: either one wrong, it stays on.
    for wrong in ({"password": "not the password 42", "code": codes[2]}, {"password": PASSWORD, "code": "000000"}):
        refused = await accounts.http.request("DELETE", "/account/mfa", json=wrong, headers=headers)
        assert refused.status_code in (401, 403), refused.text
        assert (await verify(accounts, user)).json()["mfa_required"] is True
    off = await accounts.http.request(
        "DELETE", "/account/mfa", json={"password": PASSWORD, "code": codes[2]}, headers=headers
    )
    assert off.status_code == 204
    assert (await verify(accounts, user)).json()["mfa_required"] is False
    changes = [e.enabled for e in await accounts.emitted(AccountMfaChanged) if e.account_id == user["id"]]
    assert changes == [True, False]
    revoked = [e for e in await accounts.emitted(AccountSessionsRevoked) if e.account_id == user["id"]]
    assert [e.reason for e in revoked] == ["mfa-enabled"]

    # No secret in any outbox row of this account.
    rows = await accounts.db["outbox"].find({}).to_list(None)
    text = " ".join(str(row.get("value")) for row in rows)
    for secret in [body["secret"], *codes, PASSWORD]:
        assert secret not in text


async def test_a_key_rotation_re_encrypts_every_secret(accounts: Harness, mailer: RecordingMailer) -> None:
    from cryptography.fernet import Fernet

    from docstore_accounts.domain.credentials import SecretBox
    from docstore_accounts.rotate_secrets import rotate_all

    user = await sign_up(accounts)
    headers = accounts.headers(user["id"])
    secret = (await accounts.http.post("/account/mfa/enrol", headers=headers)).json()["secret"]
    code = pyotp.TOTP(secret).now()
    assert (await accounts.http.post("/account/mfa/confirm", json={"code": code}, headers=headers)).status_code == 200
    old_box = accounts.services.account_security.box
    new_key = Fernet.generate_key().decode()
    old_key = accounts.settings.secrets_keys

    rotating = SecretBox([new_key, old_key])
    outcome = await rotate_all(accounts.db, rotating)
    assert outcome["rotated"] >= 1 and outcome["unreadable"] == 0
    stored = (await accounts.db["accounts"].find_one({"_id": user["id"]}))["mfa"]["secret"]
    assert SecretBox([new_key]).decrypt(stored) == secret  # the old key can go now
    with pytest.raises(ValueError):
        old_box.decrypt(stored)
    # The service with the new key only still checks codes.
    accounts.services.account_security.box = SecretBox([new_key])
    try:
        later = pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30))
        answer = await accounts.http.post(
            f"/internal/accounts/{user['id']}/mfa/verify", json={"code": later}, headers=accounts.service_headers()
        )
        assert answer.status_code == 200
    finally:
        accounts.services.account_security.box = old_box
        # Leave every other test's secrets readable with the configured key.
        await rotate_all(accounts.db, SecretBox([old_key, new_key]))


async def test_two_accounts_racing_to_verify_one_address_leave_one_holder(
    accounts: Harness, mailer: RecordingMailer
) -> None:
    """Issue 33, finding 11: neither account holds the address when both verification links are
    followed at once; the claim in each verifying transaction lets exactly one commit."""
    import asyncio

    address = f"shared-{uuid.uuid4().hex[:10]}@example.com"
    for _ in range(2):
        name = f"sec{uuid.uuid4().hex[:10]}"
        answer = await accounts.http.post("/accounts", json={"username": name, "email": address, "password": PASSWORD})
        assert answer.status_code == 201, answer.text
    await _settled(mailer, accounts)
    links = [m["link"] for m in mailer.sent if m["kind"] == "verify-email" and m["to"] == address]
    assert len(links) == 2
    answers = await asyncio.gather(
        *(accounts.http.post("/account/email/verify", json={"token": link.rsplit("=", 1)[1]}) for link in links)
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    claims = await accounts.db["verified_emails"].find({"_id": address}).to_list(None)
    verified = await accounts.db["accounts"].count_documents({"email": address, "email_verified": True})
    assert len(claims) == 1 and verified == 1


async def test_metadata_finds_an_account_by_its_verified_address_only(
    accounts: Harness, mailer: RecordingMailer
) -> None:
    """`POST /internal/people/by-email` (metadata's people lookup, issue 37): the one account whose
    verified address is exactly the one asked (any case), by username; an unverified address, a
    part of one and a person's token get nothing; the answer never carries an address."""
    ann, bob = await sign_up(accounts), await sign_up(accounts)
    await _settled(mailer, accounts)

    async def by_email(address: str, headers: dict[str, str] | None = None) -> Any:
        return await accounts.http.post(
            "/internal/people/by-email",
            json={"email": address},
            headers=headers or accounts.service_headers("metadata"),
        )

    assert (await by_email(ann["email"])).status_code == 404  # unverified: anyone may type any address
    token = mailer.token("verify-email", ann["email"])
    assert (await accounts.http.post("/account/email/verify", json={"token": token})).status_code == 200
    found = await by_email(f"  {ann['email'].upper()} ")
    assert found.status_code == 200, found.text
    assert found.json()["username"] == ann["username"] and found.json()["id"] == ann["id"]
    assert "@" not in found.text
    for partial in (ann["email"][:-4], ann["email"].split("@")[0], "@" + ann["email"].split("@")[1], ann["username"]):
        assert (await by_email(partial)).status_code == 404, partial
    assert (await by_email(bob["email"])).status_code == 404  # bob's is still unverified
    person = await by_email(ann["email"], headers=accounts.headers(bob["id"]))
    assert person.status_code == 403

    # An address not verified here is asked of the other regions (their accounts services hold
    # their addresses), with the replication secret; their answer is the person, at home there.
    asked: list[tuple[str, str | None, dict[str, Any]]] = []

    def peer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        asked.append((str(request.url), request.headers.get("X-Replication-Secret"), body))
        if body["email"] != "zoe@elsewhere.example":
            return httpx.Response(404, json={"detail": "This account could not be found."})
        zoe = {"id": "acc-zoe", "username": "zoe", "plan": "free", "home_region": "there"}
        return httpx.Response(200, json=zoe | {"email_verified": True, "status": "active"})

    security = accounts.services.account_security
    security.peers, security.peer_http = (
        {"there": "http://there"},
        httpx.AsyncClient(transport=httpx.MockTransport(peer)),
    )
    there = await by_email("zoe@elsewhere.example")
    assert there.status_code == 200 and (there.json()["username"], there.json()["home_region"]) == ("zoe", "there")
    assert asked == [
        (
            "http://there/internal/people/by-email/here",
            accounts.settings.replication_secret,
            {"email": "zoe@elsewhere.example"},
        )
    ]
    assert (await by_email(bob["email"])).status_code == 404  # nobody there either
    assert (await by_email(ann["email"])).status_code == 200 and len(asked) == 2  # found here: not asked

    # The peers' route: this region's accounts only (never asked on), with the secret only.
    async def here(address: str, secret: str) -> Any:
        return await accounts.http.post(
            "/internal/people/by-email/here", json={"email": address}, headers={"X-Replication-Secret": secret}
        )

    assert (await here(ann["email"], "wrong")).status_code == 401
    assert (await here(ann["email"], accounts.settings.replication_secret)).json()["username"] == ann["username"]
    assert (await here("zoe@elsewhere.example", accounts.settings.replication_secret)).status_code == 404
    assert len(asked) == 2
