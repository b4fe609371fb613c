"""What the routes read from the composition root, through one dependency: the `Services`
that `main.py`'s lifespan stored as `app.state.services`, and `Annotated` aliases of its parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docstore_metadata.bootstrap import Services
from docstore_metadata.service_layer.documents import Documents
from docstore_metadata.service_layer.folders import Folders
from docstore_metadata.service_layer.sharing import Sharing
from docstore_metadata.settings import Settings


# async, as every dependency here: FastAPI runs a plain `def` in its thread pool (a thread hop
# per request); tests/static/test_request_path.py keeps it so.
async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def _documents(services: ServicesDep) -> Documents:
    return services.documents


async def _folders(services: ServicesDep) -> Folders:
    return services.folders


async def _sharing(services: ServicesDep) -> Sharing:
    return services.sharing


async def _settings(services: ServicesDep) -> Settings:
    return services.settings


DocumentsDep = Annotated[Documents, Depends(_documents)]
FoldersDep = Annotated[Folders, Depends(_folders)]
SharingDep = Annotated[Sharing, Depends(_sharing)]
SettingsDep = Annotated[Settings, Depends(_settings)]
