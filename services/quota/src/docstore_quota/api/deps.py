"""FastAPI dependencies of quota's routes: the services `bootstrap` built, read through one
dependency.

`bootstrap` sits above the API (it may import it, never the reverse), so the routes see its
`Services` through `ApiServices`, the part of it they use.
"""

from __future__ import annotations

from typing import Annotated, Protocol, cast

from fastapi import Depends, Request

from docstore_quota.service_layer.accounts import Accounts
from docstore_quota.service_layer.dead_letters import DeadLetterBrowser
from docstore_quota.service_layer.reconciliation import Reconciler
from docstore_quota.service_layer.reservations import Reservations
from docstore_quota.settings import Settings


class ApiServices(Protocol):
    """What the routes use of `bootstrap.Services`."""

    @property
    def settings(self) -> Settings: ...

    @property
    def reservations(self) -> Reservations: ...

    @property
    def accounts(self) -> Accounts: ...

    @property
    def reconciler(self) -> Reconciler: ...

    @property
    def dead_letters(self) -> DeadLetterBrowser: ...


def services(request: Request) -> ApiServices:
    return cast(ApiServices, request.app.state.services)


ServicesDep = Annotated[ApiServices, Depends(services)]


def _settings(services: ServicesDep) -> Settings:
    return services.settings


def _reservations(services: ServicesDep) -> Reservations:
    return services.reservations


def _accounts(services: ServicesDep) -> Accounts:
    return services.accounts


def _reconciler(services: ServicesDep) -> Reconciler:
    return services.reconciler


def _dead_letters(services: ServicesDep) -> DeadLetterBrowser:
    return services.dead_letters


SettingsDep = Annotated[Settings, Depends(_settings)]
ReservationsDep = Annotated[Reservations, Depends(_reservations)]
AccountsDep = Annotated[Accounts, Depends(_accounts)]
ReconcilerDep = Annotated[Reconciler, Depends(_reconciler)]
DeadLettersDep = Annotated[DeadLetterBrowser, Depends(_dead_letters)]
