"""What the routes read from the composition root, through one dependency: the `Services`
that `main.py`'s lifespan stored as `app.state.services`, and `Annotated` aliases of its parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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
