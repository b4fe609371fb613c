"""What gateway's routes read from the composition root, through one dependency: the `Services`
that `main.py`'s lifespan stored as `app.state.services`, and `Annotated` aliases of its parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docstore_gateway.bootstrap import Services
from docstore_gateway.service_layer.forwarding import Forwarding
from docstore_gateway.service_layer.sessions import Logins


# async, as every dependency here: FastAPI runs a plain `def` in its thread pool (a thread hop
# per request); tests/static/test_request_path.py keeps it so.
async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def _logins(services: ServicesDep) -> Logins:
    return services.logins


async def _forwarding(services: ServicesDep) -> Forwarding:
    return services.forwarding


LoginsDep = Annotated[Logins, Depends(_logins)]
ForwardingDep = Annotated[Forwarding, Depends(_forwarding)]
