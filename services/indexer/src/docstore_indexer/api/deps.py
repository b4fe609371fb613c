"""What routes receive: the one `Services` object the lifespan built, and `Annotated` aliases.

The routes sit below the composition root (`bootstrap`) in the layers contract, so they read
`Services` through the small protocol below rather than importing it."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from docstore_indexer.service_layer.search import Search


class ApiServices(Protocol):
    """What the routes use of `bootstrap.Services`."""

    @property
    def search(self) -> Search: ...


def services(request: Request) -> ApiServices:
    found: ApiServices = request.app.state.services
    return found


def _search(services: Annotated[ApiServices, Depends(services)]) -> Search:
    return services.search


ServicesDep = Annotated[ApiServices, Depends(services)]
SearchDep = Annotated[Search, Depends(_search)]
