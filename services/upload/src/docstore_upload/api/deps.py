"""Dependencies of upload's routes, as `Annotated` aliases over the one `app.state.services`.

The routes sit below the composition root (`bootstrap`), so they read `Services` through the
small protocol below rather than importing it."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from docstore_upload.service_layer.uploads import Uploads


class ApiServices(Protocol):
    """What the routes use of `bootstrap.Services`."""

    @property
    def uploads(self) -> Uploads: ...


def services(request: Request) -> ApiServices:
    found: ApiServices = request.app.state.services
    return found


def uploads(services: Annotated[ApiServices, Depends(services)]) -> Uploads:
    return services.uploads


ServicesDep = Annotated[ApiServices, Depends(services)]
UploadsDep = Annotated[Uploads, Depends(uploads)]
