"""What upload's routes read from the composition root, through one dependency: the `Services`
that `main.py`'s lifespan stored as `app.state.services`, and `Annotated` aliases of its parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docstore_upload.bootstrap import Services
from docstore_upload.service_layer.uploads import Uploads


# async, as every dependency here: FastAPI runs a plain `def` in its thread pool (a thread hop
# per request); tests/static/test_request_path.py keeps it so.
async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def uploads(services: Annotated[Services, Depends(services)]) -> Uploads:
    return services.uploads


ServicesDep = Annotated[Services, Depends(services)]
UploadsDep = Annotated[Uploads, Depends(uploads)]
