"""What upload's routes read from the composition root, through one dependency: the `Services`
that `main.py`'s lifespan stored as `app.state.services`, and `Annotated` aliases of its parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docstore_upload.bootstrap import Services
from docstore_upload.service_layer.batch_completion import BatchCompletion
from docstore_upload.service_layer.batch_grants import BatchGrants
from docstore_upload.service_layer.completion import Completion
from docstore_upload.service_layer.endings import Endings
from docstore_upload.service_layer.grants import Grants


# async, as every dependency here: FastAPI runs a plain `def` in its thread pool (a thread hop
# per request); tests/static/test_request_path.py keeps it so.
async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def grants(services: Annotated[Services, Depends(services)]) -> Grants:
    return services.uploads.grants


async def batch_grants(services: Annotated[Services, Depends(services)]) -> BatchGrants:
    return services.uploads.batch_grants


async def completion(services: Annotated[Services, Depends(services)]) -> Completion:
    return services.uploads.completion


async def batch_completion(services: Annotated[Services, Depends(services)]) -> BatchCompletion:
    return services.uploads.batch_completion


async def endings(services: Annotated[Services, Depends(services)]) -> Endings:
    return services.uploads.endings


ServicesDep = Annotated[Services, Depends(services)]
GrantsDep = Annotated[Grants, Depends(grants)]
BatchGrantsDep = Annotated[BatchGrants, Depends(batch_grants)]
CompletionDep = Annotated[Completion, Depends(completion)]
BatchCompletionDep = Annotated[BatchCompletion, Depends(batch_completion)]
EndingsDep = Annotated[Endings, Depends(endings)]
