"""The local OpenID provider: `oidc-provider` 9.13 (npm, a certified implementation) run by
``tools/devplatform/oidc/provider.mjs`` as one Node.js process on a loopback port.

``scripts/bootstrap`` installs the package (pinned, with its lockfile: ``tools/devplatform/oidc``)
into ``<repo>/.tools/oidc``. One client is registered (DocStore's accounts service, redirecting
to each region's gateway at :data:`CALLBACK_PATH`); users are described in ``provider.mjs``
(``alice`` and ``bob`` with verified addresses; any e-mail address as a login signs in as that
address). The services find it through :meth:`OidcProvider.service_env`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from docstore_devplatform.paths import repo_root
from docstore_devplatform.ports import HOST
from docstore_devplatform.procs import ManagedProcess
from docstore_devplatform.waiting import wait_until

#: Where each gateway receives the provider's answer (the accounts service's redirect URI).
CALLBACK_PATH = "/v1/sessions/oidc/callback"
DEV_CLIENT_ID = "docstore-dev"
DEV_CLIENT_SECRET = "docstore-dev-oidc-secret"  # the local provider only, never a real credential
PROVIDER_NAME = "DocStore Dev ID"
#: The dev platform's fixed port (``scripts/up``); tests take a free one.
FIXED_PORT = 8079
SCRIPT = Path(__file__).resolve().parents[2] / "oidc" / "provider.mjs"


def modules_dir() -> Path:
    """The folder ``scripts/bootstrap`` installs ``oidc-provider`` into."""
    return repo_root() / ".tools" / "oidc"


def installed() -> bool:
    """Whether Node.js and the package are installed (else the platform runs without a provider)."""
    package = modules_dir() / "node_modules" / "oidc-provider" / "package.json"
    return shutil.which("node") is not None and package.is_file()


def callback_urls(gateways: Iterable[str]) -> list[str]:
    """The redirect URIs of the client: each gateway's callback."""
    return [f"{gateway.rstrip('/')}{CALLBACK_PATH}" for gateway in gateways]


class OidcProvider:
    """The provider as a child process; ``start()`` returns once its discovery document serves."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        redirect_uris: Iterable[str],
        *,
        client_id: str = DEV_CLIENT_ID,
        client_secret: str = DEV_CLIENT_SECRET,
        startup_timeout: float = 60.0,
    ) -> None:
        self.port = port
        self.issuer = f"http://{HOST}:{port}"
        self.client_id = client_id
        self.client_secret = client_secret
        self.startup_timeout = startup_timeout
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "OIDC_PORT": str(port),
            "OIDC_CLIENT_ID": client_id,
            "OIDC_CLIENT_SECRET": client_secret,
            "OIDC_REDIRECT_URIS": " ".join(redirect_uris),
            "OIDC_MODULES": str(modules_dir()),
        }
        node = shutil.which("node") or "node"
        self.process = ManagedProcess("oidc", [node, str(SCRIPT)], Path(data_dir) / "logs" / "oidc.log", env=env)

    def start(self) -> OidcProvider:
        """Launch and wait until it serves."""
        self.launch()
        return self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting (it comes up while the services do)."""
        self.process.start()

    def wait_ready(self) -> OidcProvider:
        from docstore_devplatform import probes  # httpx: only when needed

        discovery = f"{self.issuer}/.well-known/openid-configuration"
        wait_until(
            lambda: probes.check_http_ok(discovery, expect_json={"issuer": self.issuer}),
            what=f"oidc: discovery at {discovery}",
            timeout=self.startup_timeout,
            proc=self.process,
        )
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.process.stop(timeout)

    def service_env(self) -> dict[str, str]:
        """What the accounts service reads to offer sign-in with this provider."""
        return {
            "ACCOUNTS_OIDC_ISSUER": self.issuer,
            "ACCOUNTS_OIDC_CLIENT_ID": self.client_id,
            "ACCOUNTS_OIDC_CLIENT_SECRET": self.client_secret,
            "ACCOUNTS_OIDC_PROVIDER_NAME": PROVIDER_NAME,
        }


# --- what the tests do with it: a browser's trip through the provider, with plain HTTP --------------


def _cookies(answer: object) -> dict[str, str]:
    """The cookies an answer sets (name -> value), Secure ones too: a test client speaks plain
    http to 127.0.0.1, where browsers keep them (a secure context) but httpx's jar does not."""
    found: dict[str, str] = {}
    for line in answer.headers.get_list("set-cookie"):  # type: ignore[attr-defined]
        name, _, rest = line.partition("=")
        value = rest.split(";", 1)[0]
        if value and "max-age=0" not in line.lower():
            found[name.strip()] = value
    return found


def _cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}


def sign_in_at_provider(gateway: str, login: str, *, verify: object = True) -> dict[str, object]:
    """Start at the gateway, fill the provider's login form with ``login``, and stop where the
    provider sends the browser back: ``{"callback": URL, "cookies": the gateway's cookies}``."""
    import re

    import httpx

    with httpx.Client(timeout=30.0, verify=verify) as client:  # type: ignore[arg-type]
        start = client.get(f"{gateway}/v1/sessions/oidc/start")
        assert start.status_code == 303, start.text
        gateway_cookies = _cookies(start)
        at = start.headers["location"]
        for _ in range(10):  # the provider's own redirects, its cookies in the client's jar
            page = client.get(at)
            if page.status_code in (302, 303):
                at = str(httpx.URL(at).join(page.headers["location"]))
                if at.startswith(gateway):
                    return {"callback": at, "cookies": gateway_cookies}
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"', page.text)
            assert page.status_code == 200 and form, page.text[:500]
            posted = client.post(
                str(httpx.URL(at).join(form.group(1))), data={"prompt": "login", "login": login, "password": "any"}
            )
            assert posted.status_code in (302, 303), posted.text[:500]
            at = str(httpx.URL(at).join(posted.headers["location"]))
            if at.startswith(gateway):
                return {"callback": at, "cookies": gateway_cookies}
    raise AssertionError(f"the provider never sent the browser back to {gateway}")


def finish_at_gateway(gateway: str, trip: dict[str, object], *, verify: object = True) -> object:
    """Follow the provider's redirect to the gateway's callback with the browser's cookies; the answer."""
    import httpx

    cookies = trip["cookies"]
    assert isinstance(cookies, dict)
    return httpx.get(str(trip["callback"]), headers=_cookie_header(cookies), timeout=40.0, verify=verify)  # type: ignore[arg-type]


def session_after(gateway: str, callback_answer: object, *, verify: object = True) -> object:
    """What the web app does on load after the callback: spend the refresh cookie for an access token."""
    import httpx

    return httpx.post(
        f"{gateway}/v1/sessions/refresh",
        headers=_cookie_header(_cookies(callback_answer)) | {"Accept": "application/json"},
        timeout=40.0,
        verify=verify,  # type: ignore[arg-type]
    )
