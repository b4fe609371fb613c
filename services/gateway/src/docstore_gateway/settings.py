"""Settings of the gateway (env: GATEWAY_<NAME>, then <NAME>)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from docstore_kit.s3 import S3Settings
from docstore_kit.settings import ServiceSettings

_HERE = Path(__file__).resolve()


def find_web_dir(start: Path = _HERE) -> str:
    """The repository's `web/` folder (the one holding `index.html`), found by walking up from
    this file; empty when there is none (an installed package without the web app)."""
    for folder in start.parents:
        if (folder / "web" / "index.html").is_file():
            return str(folder / "web")
    return ""


def find_clients_page(start: Path = _HERE) -> str:
    """The repository's `docs/standard-clients.md` (curl and AWS CLI commands), found like
    `find_web_dir`; empty when there is none."""
    for folder in start.parents:
        if (folder / "docs" / "standard-clients.md").is_file():
            return str(folder / "docs" / "standard-clients.md")
    return ""


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class Settings(ServiceSettings, S3Settings):
    service = "gateway"

    port: int = 8080
    metadata_url: str = "http://127.0.0.1:8081"
    upload_url: str = "http://127.0.0.1:8082"
    quota_url: str = "http://127.0.0.1:8083"
    indexer_url: str = "http://127.0.0.1:8084"
    notify_url: str = "http://127.0.0.1:8085"
    analytics_url: str = "http://127.0.0.1:8088"
    accounts_url: str = "http://127.0.0.1:8086"
    webdav_url: str = "http://127.0.0.1:8087"
    links_url: str = "http://127.0.0.1:8089"
    """The WebDAV service (issue 38): `/remote.php/...` goes there, bodies streamed."""
    session_ttl_seconds: int = 7 * 24 * 3600
    """How long a session lasts unused: a refresh token's lifetime (each refresh starts it again)."""
    access_ttl_seconds: int = 15 * 60
    """How long an access (bearer) token lives; clients refresh it at POST /v1/sessions/refresh."""
    session_cookie_secure: bool = True
    """Mark the refresh cookie `Secure`. Browsers accept Secure cookies from https and from
    http://localhost / 127.0.0.1 (a secure context); turn off only for plain-http runs elsewhere."""
    tls_cert_file: str = ""
    """PEM certificate chain the gateway serves HTTPS with (`python -m docstore_gateway`); with
    `tls_key_file`. Empty: plain HTTP (TLS ends at the ingress, or a local run)."""
    tls_key_file: str = ""
    """PEM private key of `tls_cert_file`."""
    hsts_max_age_seconds: int = 365 * 24 * 3600
    """`Strict-Transport-Security: max-age` on every response to an HTTPS request; 0: no header."""
    hsts_include_subdomains: bool = False
    """Add `includeSubDomains` (only when every subdomain of the host serves HTTPS)."""
    max_body_bytes: int = 1_000_000
    """JSON bodies only: file bytes never pass through DocStore processes."""
    web_dir: str = Field(default_factory=find_web_dir)
    """Static files of the web app, served at `/` after every API route; empty: no web app."""
    clients_page: str = Field(default_factory=find_clients_page)
    """The page of `curl` and AWS CLI commands (docs/standard-clients.md), served at
    `/docs/clients` beside the API reference; empty: 404."""

    region_gateways: str = ""
    """JSON map region -> public URL of that region's gateway, this region included, e.g.
    `{"us-west-2": "https://us-west-2.docstore.example", "ap-southeast-2": "https://ap-southeast-2.docstore.example"}`.
    A request for an account whose home is another region is redirected there (307); every
    URL's origin is allowed by CORS, so the web app of one region can follow the redirect."""

    rate_limit_storage: str = "memory://"
    """Where throttle counters live: a `limits` storage URI (`memory://`: this process only;
    `redis://host:6379` or `memcached://...` share them across gateway replicas)."""
    login_limits_per_username: str = "5/minute;20/15 minutes;100/day"
    """FAILED logins per username (stacked windows, `limits` notation); over them, every login of
    that username, even with the right password, is answered 429 until a window frees."""
    login_limits_per_address: str = "30/minute;300/hour;2000/day"
    """Login attempts per client address, failed or not."""
    signup_limits_per_address: str = "10/minute;50/hour;200/day"
    """Sign-ups (POST /v1/accounts) per client address."""
    password_reset_limits_per_address: str = "10/minute;60/hour;300/day"
    """Password-reset requests (POST /v1/account/password-reset, public) per client address: each
    costs metadata an argon2 verification and a hand-over to the other regions; the mails
    themselves are limited per account by the accounts service."""
    link_password_limits: str = "5/minute;20/hour;50/day"
    """WRONG passwords on one public share link from one address (`/s/{token}`); over them, that
    address gets 429 on that link until a window frees a slot."""
    link_password_limits_per_link: str = "20/minute;100/hour;300/day"
    """WRONG passwords on one public share link from all addresses together: a guesser with many
    addresses (a botnet, a cloud's address pool) still meets a limit per link. Over it, everyone
    gets 429 on that link (the right password too) until a window frees a slot; other links and
    the rest of the API are untouched."""

    trusted_proxies: str = ""
    """Comma-separated addresses or networks (CIDR) of the proxies in front of the gateway (the
    ingress controller, a load balancer). Only a peer in them may say who the client is with
    `X-Forwarded-For` (and `X-Forwarded-Proto`); the client is then the right-most address of
    that header that is not itself a trusted proxy (uvicorn's ProxyHeadersMiddleware). Empty: no
    proxy, the peer is the client and any `X-Forwarded-For` is ignored. `*` is refused: a client
    would choose its own address."""

    held_requests_per_account: int = Field(6, ge=1, le=10_000)
    """Long polls (`GET /v1/changes?wait=`) one account may hold open at once at this gateway (a
    few devices' sync clients and tabs); one more is answered 429 with Retry-After."""
    held_requests_per_address: int = Field(30, ge=1, le=100_000)
    """Long polls held at once from one client address (an office behind one NAT holds many)."""
    held_requests_total: int = Field(400, ge=1, le=100_000)
    """Long polls held at once in all; also the size of their own connection pool to each
    service that has them, apart from the pool (100) every other request uses."""
    held_requests_retry_seconds: int = Field(5, ge=1, le=3600)
    """`Retry-After` of a long poll refused for a cap."""
    app_password_cache_seconds: float = Field(30.0, ge=0, le=600)
    """How long a process trusts a username and app password the accounts service accepted (HTTP Basic),
    without asking again: keyed by a SHA-256 of the pair, dropped at once by a revocation this
    process forwarded, and within `SIGN_OUT_CACHE_SECONDS` by `account.app-password-revoked`.
    0: every request asks metadata."""

    csp_extra_origins: str = ""
    """Space-separated origins added to the Content-Security-Policy's connect-src and form-action,
    beside every region's gateway and this region's S3 endpoint (e.g. other regions' S3 origins)."""

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("tls_cert_file and tls_key_file go together: set both to serve HTTPS, or neither")
        for name in ("tls_cert_file", "tls_key_file"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ValueError(f"{name}: no file at {path}")
        return self

    def tls(self) -> bool:
        """Whether the gateway serves HTTPS itself."""
        return bool(self.tls_cert_file)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if item == "*":
                raise ValueError("'*' trusts every client to name its own address: list the proxies' networks")
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"not an address or network (CIDR): {item!r}") from None
        return value

    def proxy_networks(self) -> list[str]:
        """`trusted_proxies` as uvicorn's ProxyHeadersMiddleware takes them (networks keep their `/`)."""
        return [
            str(ipaddress.ip_network(part.strip(), strict=False))
            for part in self.trusted_proxies.split(",")
            if part.strip()
        ]

    @field_validator(
        "login_limits_per_username",
        "login_limits_per_address",
        "signup_limits_per_address",
        "link_password_limits",
        "link_password_limits_per_link",
        "password_reset_limits_per_address",
    )
    @classmethod
    def _limits(cls, value: str) -> str:
        from limits import parse_many

        if value.strip():
            try:
                parse_many(value)
            except ValueError as error:
                raise ValueError(f"not a limit in `limits` notation such as '5/minute;20/hour': {error}") from None
        return value

    def gateways(self) -> dict[str, str]:
        urls = json.loads(self.region_gateways) if self.region_gateways.strip() else {}
        if not isinstance(urls, dict):
            raise ValueError("region_gateways: a JSON object region -> URL")
        return {str(region): str(url).rstrip("/") for region, url in urls.items() if url}

    def cors_origins(self) -> list[str]:
        """The origins (scheme://host[:port]) of every region's gateway."""
        return sorted({origin for url in self.gateways().values() if (origin := _origin(url))})

    def known_regions(self) -> frozenset[str]:
        """Regions whose tokens this gateway recognises: this one and every one in REGION_GATEWAYS."""
        return frozenset({self.region, *self.gateways()})

    def s3_origins(self) -> list[str]:
        """Where browsers reach this region's S3 (the signed forms and part URLs point there; our
        S3 clients are path-style, so on AWS that is the regional endpoint)."""
        endpoint = self.s3_public_endpoint_url or self.s3_endpoint_url
        if endpoint:
            return [origin] if (origin := _origin(endpoint)) else []
        return [f"https://s3.{self.aws_default_region}.amazonaws.com"]

    def extra_origins(self) -> list[str]:
        return [origin for url in self.csp_extra_origins.split() if (origin := _origin(url))]

    def upstreams(self) -> dict[str, str]:
        return {
            "metadata": self.metadata_url,
            "upload": self.upload_url,
            "quota": self.quota_url,
            "indexer": self.indexer_url,
            "notify": self.notify_url,
            "analytics": self.analytics_url,
            "accounts": self.accounts_url,
            "links": self.links_url,
        }
