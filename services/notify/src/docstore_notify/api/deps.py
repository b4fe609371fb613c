"""What notify's routes depend on: the service's `Services` (built by `bootstrap`), read through one
dependency, and `Annotated` aliases for the parts a route uses.

The API sits below `bootstrap` in the layers, so it names `Services` by the shape it needs
(`ApiServices`; `bootstrap.Services` is checked against it), not by importing it."""

from __future__ import annotations

from typing import Annotated, Protocol, cast

from fastapi import Depends, Request

from docstore_notify.service_layer.notifier import Notifier
from docstore_notify.service_layer.subscriptions import Subscriptions


class ApiServices(Protocol):
    @property
    def notifier(self) -> Notifier: ...

    @property
    def subscriptions(self) -> Subscriptions: ...


def services(request: Request) -> ApiServices:
    """`app.state.services`, stored by the lifespan."""
    return cast(ApiServices, request.app.state.services)


ServicesDep = Annotated[ApiServices, Depends(services)]


def _notifier(services: ServicesDep) -> Notifier:
    return services.notifier


def _subscriptions(services: ServicesDep) -> Subscriptions:
    return services.subscriptions


NotifierDep = Annotated[Notifier, Depends(_notifier)]
SubscriptionsDep = Annotated[Subscriptions, Depends(_subscriptions)]
