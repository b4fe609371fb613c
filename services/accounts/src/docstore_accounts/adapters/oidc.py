"""Sign-in with OpenID Connect: the provider (discovery, the authorization URL, the code exchange
and the ID token's checks, with Authlib), the flows in progress and the links (MongoDB).

- `oidc_flows`: `_id` = SHA-256 of the `state`, with the nonce and the PKCE verifier; taken (deleted)
  by the callback, so a state works once; TTL ten minutes.
- `oidc_links`: `_id` = `<issuer> <subject>` -> `account_id` (the identity's one account here),
  `identity_id` (`domain.oidc.identity_id`), `linked_at`, `last_signed_in_at` (each sign-in through
  it). The account document holds the ids of its links too (`oidc_identities`), written in the same
  transaction, so its replica carries them to the other regions (README "Linked identities").
"""

from __future__ import annotations

import hashlib
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.errors import OAuth2Error  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_accounts.domain.oidc import OidcSignInRefused, ProviderIdentity, identity_id, identity_key

with warnings.catch_warnings():
    # Authlib 1.9 announces at import that its httpx integration will move to `httpx2`. Printed
    # before the service's logging is set up, that would be a log line that is not JSON
    # (tests/e2e/test_metrics_and_logs.py); the integration works as documented meanwhile.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]

Session = AsyncClientSession | None
FLOW_SECONDS = 600
DISCOVERY_SECONDS = 300.0
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


def state_key(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


@dataclass(frozen=True)
class Flow:
    state: str
    nonce: str
    code_verifier: str


class OidcFlows:
    """Sign-ins started and not finished: one use each, ten minutes."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db["oidc_flows"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("expires_at", expireAfterSeconds=0)

    async def start(self) -> Flow:
        flow = Flow(state=generate_token(43), nonce=generate_token(32), code_verifier=generate_token(64))
        now = datetime.now(UTC)
        await self.collection.insert_one(
            {
                "_id": state_key(flow.state),
                "nonce": flow.nonce,
                "code_verifier": flow.code_verifier,
                "expires_at": now + timedelta(seconds=FLOW_SECONDS),
            }
        )
        return flow

    async def take(self, state: str) -> Flow | None:
        """The flow of `state`, deleted as it is read (a second callback with it finds nothing)."""
        row = await self.collection.find_one_and_delete({"_id": state_key(state)})
        if row is None or row["expires_at"].replace(tzinfo=UTC) < datetime.now(UTC):
            return None
        return Flow(state=state, nonce=row["nonce"], code_verifier=row["code_verifier"])


class OidcLinks:
    """Which account each provider identity (issuer, subject) signs in to."""

    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.collection = db["oidc_links"]
        self.accounts = db["accounts"]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("account_id")

    async def account_for(self, issuer: str, subject: str) -> str | None:
        row = await self.collection.find_one({"_id": identity_key(issuer, subject)}, session=self.session)
        return str(row["account_id"]) if row else None

    async def link(self, issuer: str, subject: str, account_id: str) -> None:
        """Link the identity to the account (nothing when it is linked already), and name it on the
        account (`oidc_identities`, which its replica carries)."""
        now = datetime.now(UTC)
        await self.collection.update_one(
            {"_id": identity_key(issuer, subject)},
            {
                "$setOnInsert": {
                    "account_id": account_id,
                    "issuer": issuer,
                    "subject": subject,
                    "identity_id": identity_id(issuer, subject),
                    "linked_at": now,
                }
            },
            upsert=True,
            session=self.session,
        )
        await self.accounts.update_one(
            {"_id": account_id},
            {"$addToSet": {"oidc_identities": identity_id(issuer, subject)}},
            session=self.session,
        )

    async def signed_in(self, issuer: str, subject: str, at: datetime) -> None:
        """Record a sign-in through the identity (the owner's list shows the last one)."""
        await self.collection.update_one(
            {"_id": identity_key(issuer, subject)}, {"$set": {"last_signed_in_at": at}}, session=self.session
        )

    async def of_account(self, account_id: str) -> list[dict[str, Any]]:
        """The account's links, oldest first, each with its `identity_id`."""
        cursor = self.collection.find({"account_id": account_id}, session=self.session)
        rows = [row async for row in cursor.sort([("linked_at", 1), ("_id", 1)])]
        return [row | {"identity_id": identity_id(row["issuer"], row["subject"])} for row in rows]

    async def unlink(self, account_id: str, link_id: str) -> dict[str, Any] | None:
        """Remove the account's link `link_id` (and its name on the account); the link, or None when
        the account has none with this id (another account's id is "not found", never removed)."""
        row = next((row for row in await self.of_account(account_id) if row["identity_id"] == link_id), None)
        if row is None:
            return None
        removed = await self.collection.delete_one({"_id": row["_id"], "account_id": account_id}, session=self.session)
        if removed.deleted_count != 1:
            return None
        await self.accounts.update_one(
            {"_id": account_id}, {"$pull": {"oidc_identities": link_id}}, session=self.session
        )
        return row


class Provider:
    """One OpenID provider named in settings: its discovery document (cached five minutes), the
    authorization URL with PKCE (S256) and a nonce, and the code exchange, whose ID token must pass
    every check: signature by a key of the provider's JWKS, issuer, audience (this client), nonce,
    expiry and issue time. The address comes from the ID token or, when it holds none, from the
    userinfo endpoint (for the same subject)."""

    def __init__(
        self, issuer: str, client_id: str, client_secret: str, redirect_uri: str, http: httpx.AsyncClient
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.http = http
        self._discovery: tuple[float, dict[str, Any]] | None = None

    async def metadata(self) -> dict[str, Any]:
        if self._discovery is not None and time.monotonic() - self._discovery[0] < DISCOVERY_SECONDS:
            return self._discovery[1]
        answer = await self.http.get(f"{self.issuer}/.well-known/openid-configuration")
        answer.raise_for_status()
        document = dict(answer.json())
        if str(document.get("issuer", "")).rstrip("/") != self.issuer:
            raise OidcSignInRefused("The identity provider's discovery document names another issuer.")
        self._discovery = (time.monotonic(), document)
        return document

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            redirect_uri=self.redirect_uri,
            scope="openid email profile",
            code_challenge_method="S256",
            timeout=10.0,
        )

    async def authorization_url(self, flow: Flow) -> str:
        metadata = await self.metadata()
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=flow.state,
                code_verifier=flow.code_verifier,
                nonce=flow.nonce,
            )
        return str(url)

    async def identity(self, flow: Flow, code: str) -> ProviderIdentity:
        metadata = await self.metadata()
        async with self._client() as client:
            try:
                token = await client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=flow.code_verifier
                )
            except OAuth2Error as error:
                raise OidcSignInRefused(
                    "The identity provider did not accept this sign-in (the code was used, expired or is not ours). "
                    "Please sign in again."
                ) from error
            claims = await self._verified_claims(str(token.get("id_token") or ""), flow.nonce, metadata)
            if "email" not in claims and metadata.get("userinfo_endpoint"):
                answer = await client.get(metadata["userinfo_endpoint"])
                info = answer.json() if answer.status_code == 200 else {}
                if info.get("sub") == claims["sub"]:
                    claims = {**info, **claims}
        return ProviderIdentity(
            issuer=self.issuer,
            subject=str(claims["sub"]),
            email=str(claims.get("email") or ""),
            email_verified=claims.get("email_verified") is True,
            preferred_username=str(claims.get("preferred_username") or ""),
            name=str(claims.get("name") or ""),
        )

    async def _verified_claims(self, id_token: str, nonce: str, metadata: dict[str, Any]) -> dict[str, Any]:
        if not id_token:
            raise OidcSignInRefused("The identity provider sent no ID token. Please sign in again.")
        answer = await self.http.get(metadata["jwks_uri"])
        answer.raise_for_status()
        try:
            decoded = jwt.decode(id_token, KeySet.import_key_set(answer.json()), algorithms=ALGORITHMS)
            claims = CodeIDToken(
                decoded.claims,
                dict(decoded.header),
                options={
                    "iss": {"essential": True, "value": self.issuer},
                    "aud": {"essential": True, "value": self.client_id},
                    "nonce": {"essential": True, "value": nonce},
                },
                params={"nonce": nonce},
            )
            claims.validate(now=int(time.time()), leeway=60)
        except (JoseError, ValueError) as error:
            raise OidcSignInRefused(
                "The identity provider's ID token did not pass its checks. Please sign in again."
            ) from error
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise OidcSignInRefused("The identity provider's ID token is meant for another application.")
        return dict(claims)
