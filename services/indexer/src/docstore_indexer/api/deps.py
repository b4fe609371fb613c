"""What indexer's routes read from the composition root, through one dependency: the `Services`
that `main.py`'s lifespan stored as `app.state.services`, and `Annotated` aliases of its parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docstore_indexer.bootstrap import Services
from docstore_indexer.service_layer.search import Search


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _search(services: Annotated[Services, Depends(services)]) -> Search:
    return services.search


ServicesDep = Annotated[Services, Depends(services)]
SearchDep = Annotated[Search, Depends(_search)]
