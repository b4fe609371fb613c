"""Dependencies of metadata's routes: the services `bootstrap` built, as `Annotated` aliases.

`Services` is imported for type checking only: the composition root sits above the API
(`main > bootstrap > api`), so the API names its type without importing it at run time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from docstore_metadata.service_layer.accounts import Accounts
from docstore_metadata.service_layer.documents import Documents
from docstore_metadata.service_layer.sharing import Sharing
from docstore_metadata.settings import Settings

if TYPE_CHECKING:
    from docstore_metadata.bootstrap import Services


def services(request: Request) -> Services:
    """The one object the lifespan stored (`bootstrap.Services`)."""
    found: Services = request.app.state.services
    return found


def _accounts(request: Request) -> Accounts:
    return services(request).accounts


def _documents(request: Request) -> Documents:
    return services(request).documents


def _sharing(request: Request) -> Sharing:
    return services(request).sharing


def _settings(request: Request) -> Settings:
    return services(request).settings


ServicesDep = Annotated["Services", Depends(services)]
AccountsDep = Annotated[Accounts, Depends(_accounts)]
DocumentsDep = Annotated[Documents, Depends(_documents)]
SharingDep = Annotated[Sharing, Depends(_sharing)]
SettingsDep = Annotated[Settings, Depends(_settings)]
