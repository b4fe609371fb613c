"""Dependencies of metadata's routes, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from docstore_metadata.adapters.repositories import DocumentRepository
from docstore_metadata.domain.service import Metadata
from docstore_metadata.domain.sharing import Sharing
from docstore_metadata.settings import Settings


def _metadata(request: Request) -> Metadata:
    return request.app.state.metadata


def _documents(request: Request) -> DocumentRepository:
    return request.app.state.metadata.documents


def _sharing(request: Request) -> Sharing:
    return request.app.state.sharing


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _s3_signer(request: Request) -> Any:
    return request.app.state.s3_signer


MetadataDep = Annotated[Metadata, Depends(_metadata)]
DocumentsDep = Annotated[DocumentRepository, Depends(_documents)]
SettingsDep = Annotated[Settings, Depends(_settings)]
S3SignerDep = Annotated[Any, Depends(_s3_signer)]
SharingDep = Annotated[Sharing, Depends(_sharing)]
