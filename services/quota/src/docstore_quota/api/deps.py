"""What quota's routes read from the composition root, through one dependency: the `Services`
that `main.py`'s lifespan stored as `app.state.services`, and `Annotated` aliases of its parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docstore_quota.bootstrap import Services
from docstore_quota.service_layer.accounts import Accounts
from docstore_quota.service_layer.admin_actions import AdminActions
from docstore_quota.service_layer.dead_letters import DeadLetterBrowser
from docstore_quota.service_layer.reconciliation import Reconciler
from docstore_quota.service_layer.reservations import Reservations
from docstore_quota.settings import Settings


# async, as every dependency here: FastAPI runs a plain `def` in its thread pool (a thread hop
# per request); tests/static/test_request_path.py keeps it so.
async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def _settings(services: ServicesDep) -> Settings:
    return services.settings


async def _reservations(services: ServicesDep) -> Reservations:
    return services.reservations


async def _accounts(services: ServicesDep) -> Accounts:
    return services.accounts


async def _reconciler(services: ServicesDep) -> Reconciler:
    return services.reconciler


async def _dead_letters(services: ServicesDep) -> DeadLetterBrowser:
    return services.dead_letters


async def _admin(services: ServicesDep) -> AdminActions:
    return services.admin


SettingsDep = Annotated[Settings, Depends(_settings)]
ReservationsDep = Annotated[Reservations, Depends(_reservations)]
AccountsDep = Annotated[Accounts, Depends(_accounts)]
ReconcilerDep = Annotated[Reconciler, Depends(_reconciler)]
DeadLettersDep = Annotated[DeadLetterBrowser, Depends(_dead_letters)]
AdminActionsDep = Annotated[AdminActions, Depends(_admin)]
