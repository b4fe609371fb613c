"""What the routes read from the composition root, through one dependency: the `Services`
that `main.py`'s lifespan stored as `app.state.services`, and `Annotated` aliases of its parts."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from docstore_accounts.bootstrap import Services
from docstore_accounts.service_layer.accounts import Accounts
from docstore_accounts.settings import Settings


# async, as every dependency here: FastAPI runs a plain `def` in its thread pool (a thread hop
# per request); tests/static/test_request_path.py keeps it so.
async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def _accounts(services: ServicesDep) -> Accounts:
    return services.accounts


async def _settings(services: ServicesDep) -> Settings:
    return services.settings


AccountsDep = Annotated[Accounts, Depends(_accounts)]
SettingsDep = Annotated[Settings, Depends(_settings)]


def require_replication_secret(given: str | None, settings: Settings) -> None:
    """401 unless `given` (the `X-Replication-Secret` header) is this deployment's replication
    secret: the routes only another region's accounts service calls."""
    if not given or not hmac.compare_digest(given.encode(errors="replace"), settings.replication_secret.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "replication secret required")
