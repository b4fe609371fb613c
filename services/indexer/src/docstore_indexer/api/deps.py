"""What indexer's routes read from the composition root, through one dependency: the `Services`
that `main.py`'s lifespan stored as `app.state.services`, and `Annotated` aliases of its parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docstore_indexer.bootstrap import Services
from docstore_indexer.service_layer.search import Search


# async, as every dependency here: FastAPI runs a plain `def` in its thread pool (a thread hop
# per request); tests/static/test_request_path.py keeps it so.
async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def _search(services: Annotated[Services, Depends(services)]) -> Search:
    return services.search


ServicesDep = Annotated[Services, Depends(services)]
SearchDep = Annotated[Search, Depends(_search)]
