"""What the routes read from the composition root, through one dependency.

`bootstrap.Services` sits above the API in the layers (`main > bootstrap > api`), so the API
states what it needs as a protocol and `Services` provides it (checked by a unit test);
`app.state.services` is the only object the lifespan stores."""

from __future__ import annotations

from typing import Annotated, Protocol, runtime_checkable

from fastapi import Depends, Request

from docstore_gateway.adapters.upstreams import Upstreams
from docstore_gateway.service_layer.forwarding import Forwarding
from docstore_gateway.service_layer.sessions import Logins


@runtime_checkable
class ApiServices(Protocol):
    """The part of `bootstrap.Services` the routes use."""

    @property
    def logins(self) -> Logins: ...

    @property
    def forwarding(self) -> Forwarding: ...

    @property
    def upstreams(self) -> Upstreams: ...


def services(request: Request) -> ApiServices:
    found: ApiServices = request.app.state.services
    return found


ServicesDep = Annotated[ApiServices, Depends(services)]


def _logins(services: ServicesDep) -> Logins:
    return services.logins


def _forwarding(services: ServicesDep) -> Forwarding:
    return services.forwarding


LoginsDep = Annotated[Logins, Depends(_logins)]
ForwardingDep = Annotated[Forwarding, Depends(_forwarding)]
