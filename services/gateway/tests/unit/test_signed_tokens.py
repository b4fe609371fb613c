"""Signed access tokens (issue 36): the codec (`domain/tokens.py`: tampered, expired, wrong key,
rotated key, another region's prefix) and the `Authenticator` checking them in memory against the
`RevocationList` (logout, logout everywhere, a session ended from the device list, a password
change: 401 `signed-out`; a reused refresh token; another region's token sent home; no lookup per
request; 503 when the list cannot be read)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from gateway_fakes import MemoryRefreshTokens

from docstore_gateway.domain.answers import UpstreamAnswer
from docstore_gateway.domain.errors import (
    AccountElsewhere,
    RevocationsUnavailable,
    SessionEnded,
    SignedOut,
    Unauthenticated,
)
from docstore_gateway.domain.regions import Regions
from docstore_gateway.domain.sessions import Caller, Revocation, Session
from docstore_gateway.domain.tokens import (
    AccessClaims,
    InvalidAccessToken,
    access_keys,
    is_signed,
    read_access,
    sign_access,
    well_formed,
)
from docstore_gateway.service_layer.sessions import Authenticator, Logins, RevocationList

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
REGIONS = Regions("us-west-2", {"us-west-2": "https://a.example", "ap-southeast-2": "https://b.example"})
KEYS = access_keys({"k1": "first secret, long enough", "k2": "second secret, long enough"})
CLAIMS = AccessClaims(
    family_id="F" * 43,
    account_id="0acf9f2a-89a2-4ed4-a7cc-21ea7a839e26",
    role="admin",
    signed_in_at=NOW - timedelta(days=3),
    issued_at=NOW,
    expires_at=NOW + timedelta(minutes=15),
)


# --- the codec ----------------------------------------------------------------------------------


def test_a_signed_token_reads_back_as_issued_and_keeps_the_region_prefix() -> None:
    token = sign_access("us-west-2", CLAIMS, keys=KEYS, key_id="k1")
    assert token.startswith("us-west-2.") and well_formed(token, REGIONS.known()) and is_signed(token)
    assert read_access(token, now=NOW, keys=KEYS) == CLAIMS
    assert not is_signed("us-west-2.Q6zA3uJ0yq5o8n1pVZ0A4nE8N3v6x9Q2bB1cC2dD3eE")  # a random (refresh) token


def flip(token: str, index: int) -> str:
    region, text = token.split(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    raw[index] ^= 0x01
    return f"{region}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


def test_a_tampered_token_is_refused() -> None:
    token = sign_access("us-west-2", CLAIMS, keys=KEYS, key_id="k1")
    # Any bit of the version, key id, payload (here: the account id) or MAC.
    for index in (0, 3, 20, 60, -1):
        with pytest.raises(InvalidAccessToken):
            read_access(flip(token, index), now=NOW, keys=KEYS)
    # A payload naming another account with the old MAC, or a region prefix swapped: refused.
    forged = sign_access("us-west-2", replace(CLAIMS, account_id="someone-else"), keys=KEYS, key_id="k1")
    region, text = token.split(".", 1)
    _, forged_text = forged.split(".", 1)
    with pytest.raises(InvalidAccessToken):
        read_access(f"{region}.{forged_text[:-43]}{text[-43:]}", now=NOW, keys=KEYS)
    with pytest.raises(InvalidAccessToken):
        read_access(f"ap-southeast-2.{text}", now=NOW, keys=KEYS)
    for garbage in ("us-west-2.", "us-west-2.AQ", "us-west-2." + "A" * 100, "us-west-2.!!!", "us-west-2.A"):
        with pytest.raises(InvalidAccessToken):
            read_access(garbage, now=NOW, keys=KEYS)


def test_an_expired_token_is_refused_at_its_expiry() -> None:
    token = sign_access("us-west-2", CLAIMS, keys=KEYS, key_id="k1")
    read_access(token, now=CLAIMS.expires_at - timedelta(milliseconds=1), keys=KEYS)
    with pytest.raises(InvalidAccessToken, match="expired"):
        read_access(token, now=CLAIMS.expires_at, keys=KEYS)


def test_a_token_of_another_key_or_another_deployment_is_refused() -> None:
    token = sign_access("us-west-2", CLAIMS, keys=KEYS, key_id="k1")
    other = access_keys({"k1": "another deployment's secret"})
    with pytest.raises(InvalidAccessToken, match="bad signature"):
        read_access(token, now=NOW, keys=other)
    with pytest.raises(InvalidAccessToken, match="unknown signing key"):
        read_access(token, now=NOW, keys={"k2": KEYS["k2"]})


def test_keys_rotate_by_key_id_and_the_mac_key_is_not_the_secret_itself() -> None:
    old = sign_access("us-west-2", CLAIMS, keys=KEYS, key_id="k1")
    new = sign_access("us-west-2", CLAIMS, keys=KEYS, key_id="k2")
    assert old != new
    # Both keys known (the rotation's window): both read; the old one retired: only the new.
    assert read_access(old, now=NOW, keys=KEYS) == read_access(new, now=NOW, keys=KEYS) == CLAIMS
    retired = {"k2": KEYS["k2"]}
    assert read_access(new, now=NOW, keys=retired) == CLAIMS
    with pytest.raises(InvalidAccessToken):
        read_access(old, now=NOW, keys=retired)
    # Derived for this use: an HMAC keyed with the raw secret (another token kind) does not pass.
    raw = {"k1": b"first secret, long enough"}
    with pytest.raises(InvalidAccessToken):
        read_access(sign_access("us-west-2", CLAIMS, keys=raw, key_id="k1"), now=NOW, keys=KEYS)


# --- the use cases, on in-memory ports ----------------------------------------------------------


class Store(MemoryRefreshTokens):
    """Sessions (refresh tokens only: access tokens are not stored) and the revocation entries
    their removals write, as `adapters/sessions.py` does in MongoDB."""

    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.entries: list[Revocation] = []
        self.reads = 0
        self.down = False

    async def add(self, session: Session) -> None:
        raise AssertionError("a signed access token is not stored")

    async def get(self, token: str) -> Session | None:
        self.reads += 1
        return None

    async def remove(self, token: str) -> None:
        pass

    async def remove_account(self, account_id: str) -> None:
        self.keep_refresh(lambda r: r.account_id != account_id)
        self.entries.append(Revocation("account", account_id, self.now, before=self.now))

    async def remove_logins_before(self, account_id: str, moment: datetime) -> None:
        self.entries.append(Revocation("account", account_id, self.now, before=moment))

    async def remove_family(self, family_id: str) -> None:
        self.keep_refresh(lambda r: r.family_id != family_id)
        self.entries.append(Revocation("family", family_id, self.now))

    async def revoke_family(self, family_id: str, at: datetime) -> None:
        self.revoke_refresh_family(family_id)
        self.entries.append(Revocation("family", family_id, self.now))

    async def revocations_since(self, moment: datetime) -> list[Revocation]:
        if self.down:
            raise ConnectionError("the sessions database is down")
        return [entry for entry in self.entries if entry.at >= moment]


class Accepting:
    """The accounts service accepting every password (for acc-1, role user)."""

    async def verify_credentials(self, username: str, password: str) -> object:
        from docstore_gateway.adapters.answers import credentials_answer

        return credentials_answer(UpstreamAnswer(200, b'{"account_id": "acc-1", "role": "user"}'))


class NoThrottle:
    async def login_attempt(self, username: str, address: str) -> int | None:
        return None


@dataclass
class World:
    store: Store = field(default_factory=Store)

    def __post_init__(self) -> None:
        self.revocations = RevocationList(self.store, keep=timedelta(minutes=20), clock=lambda: self.store.now)
        self.authenticator = Authenticator(
            self.store,  # type: ignore[arg-type]
            REGIONS,
            clock=lambda: self.store.now,
            access_keys=KEYS,
            access_key_id="k2",
            revocations=self.revocations,
        )
        self.logins = Logins(
            self.store,  # type: ignore[arg-type]
            Accepting(),  # type: ignore[arg-type]
            NoThrottle(),  # type: ignore[arg-type]
            self.authenticator,
            ttl=timedelta(days=7),
            access_ttl=timedelta(minutes=15),
            clock=lambda: self.store.now,
        )

    async def log_in(self) -> tuple[str, str]:
        issued = await self.logins.log_in("ada", "pw", address="10.0.0.1")
        return issued.access.token, issued.refresh.token

    async def caller(self, token: str) -> Caller:
        return (await self.authenticator.caller(f"Bearer {token}", "/v1/documents"))[1]


async def test_a_signed_token_is_checked_without_a_lookup_per_request() -> None:
    world = World()
    access, _ = await world.log_in()
    assert is_signed(access) and access.startswith("us-west-2.")
    for _ in range(20):
        assert await world.caller(access) == Caller("acc-1", "user")
    assert world.store.reads == 0  # the list was read once (first use), no session lookup


async def test_log_out_refuses_the_signed_token_at_once_as_signed_out() -> None:
    world = World()
    access, _ = await world.log_in()
    other, _ = await world.log_in()
    await world.caller(access)
    await world.logins.log_out(f"Bearer {access}")
    with pytest.raises(SignedOut):
        await world.caller(access)
    assert await world.caller(other) == Caller("acc-1", "user")  # another session goes on


async def test_log_out_everywhere_ends_every_signed_token_and_a_later_login_works() -> None:
    world = World()
    first, _ = await world.log_in()
    second, _ = await world.log_in()
    world.store.now += timedelta(seconds=1)
    await world.logins.log_out_everywhere(f"Bearer {first}")
    for token in (first, second):
        with pytest.raises(SignedOut):
            await world.caller(token)
    world.store.now += timedelta(seconds=1)
    later, _ = await world.log_in()
    assert await world.caller(later) == Caller("acc-1", "user")


async def test_a_session_ended_from_the_device_list_or_a_password_change_is_signed_out() -> None:
    world = World()
    phone, _ = await world.log_in()
    laptop, _ = await world.log_in()
    family = read_access(phone, now=world.store.now, keys=KEYS).family_id
    await world.logins.end_families("acc-1", "session-revoked", [family])
    with pytest.raises(SignedOut):
        await world.caller(phone)
    assert await world.caller(laptop) == Caller("acc-1", "user")
    # `account.sessions-revoked` (another replica stored it): refused at this one's next read.
    world.store.now += timedelta(seconds=5)
    await world.store.remove_logins_before("acc-1", world.store.now)
    await world.revocations.refresh()
    with pytest.raises(SignedOut):
        await world.caller(laptop)


async def test_a_reused_refresh_token_ends_the_family_and_its_signed_tokens() -> None:
    world = World()
    first_access, refresh = await world.log_in()
    world.store.now += timedelta(minutes=1)
    second_access = (await world.logins.refresh(refresh)).access.token
    with pytest.raises(SessionEnded):
        await world.logins.refresh(refresh)
    for token in (first_access, second_access):
        with pytest.raises(SignedOut):
            await world.caller(token)


async def test_a_forged_tampered_or_other_regions_token() -> None:
    world = World()
    access, _ = await world.log_in()
    with pytest.raises(Unauthenticated):
        await world.caller(flip(access, 30))
    forged = sign_access("us-west-2", CLAIMS, keys=access_keys({"k2": "a guessed secret"}), key_id="k2")
    with pytest.raises(Unauthenticated):
        await world.caller(forged)
    # Another region's signed token goes home unread (its keys are that region's).
    theirs = sign_access("ap-southeast-2", CLAIMS, keys=access_keys({"k9": "theirs"}), key_id="k9")
    with pytest.raises(AccountElsewhere) as home:
        await world.authenticator.caller(f"Bearer {theirs}", "/v1/documents?limit=5")
    assert home.value.location == "https://b.example/v1/documents?limit=5"
    assert world.store.reads == 0


async def test_a_list_that_cannot_be_read_refuses_signed_tokens_with_503() -> None:
    world = World()
    access, _ = await world.log_in()
    await world.caller(access)
    world.store.down = True
    await world.caller(access)  # read recently: trusted meanwhile
    world.revocations._read_at = -1e9  # the poll failed for longer than `stale_seconds`
    with pytest.raises(RevocationsUnavailable):
        await world.caller(access)
    world.store.down = False
    assert await world.caller(access) == Caller("acc-1", "user")
