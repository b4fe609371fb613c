"""What the routes read from the composition root, through one dependency.

`bootstrap.Services` sits above the API in the layers (`main > bootstrap > api`), so the API
states what it needs as a protocol and `Services` provides it (checked by a unit test);
`app.state.services` is the only object the lifespan stores."""

from __future__ import annotations

from typing import Annotated, Protocol, runtime_checkable

from fastapi import Depends, Request

from docstore_metadata.service_layer.accounts import Accounts
from docstore_metadata.service_layer.documents import Documents
from docstore_metadata.service_layer.sharing import Sharing
from docstore_metadata.settings import Settings


@runtime_checkable
class ApiServices(Protocol):
    """The part of `bootstrap.Services` the routes use."""

    @property
    def settings(self) -> Settings: ...

    @property
    def accounts(self) -> Accounts: ...

    @property
    def documents(self) -> Documents: ...

    @property
    def sharing(self) -> Sharing: ...


def services(request: Request) -> ApiServices:
    found: ApiServices = request.app.state.services
    return found


ServicesDep = Annotated[ApiServices, Depends(services)]


def _accounts(services: ServicesDep) -> Accounts:
    return services.accounts


def _documents(services: ServicesDep) -> Documents:
    return services.documents


def _sharing(services: ServicesDep) -> Sharing:
    return services.sharing


def _settings(services: ServicesDep) -> Settings:
    return services.settings


AccountsDep = Annotated[Accounts, Depends(_accounts)]
DocumentsDep = Annotated[Documents, Depends(_documents)]
SharingDep = Annotated[Sharing, Depends(_sharing)]
SettingsDep = Annotated[Settings, Depends(_settings)]
