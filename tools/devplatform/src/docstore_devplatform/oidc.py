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
