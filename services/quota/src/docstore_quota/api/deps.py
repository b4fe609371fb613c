"""FastAPI dependencies of quota's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from docstore_kit.auth import require_account_id
from docstore_quota.adapters.dead_letters import DeadLetters
from docstore_quota.adapters.reconciliation import Reconciler
from docstore_quota.adapters.usage_repository import UsageRepository
from docstore_quota.settings import Settings

ROLE_HEADER = "X-Account-Role"
ADMIN = "admin"


def _usage_repository(request: Request) -> UsageRepository:
    return request.app.state.usage


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _reconciler(request: Request) -> Reconciler:
    return request.app.state.reconciler


def _dead_letters(request: Request) -> DeadLetters:
    return request.app.state.dead_letters


async def require_admin(
    x_account_id: Annotated[str | None, Header()] = None,
    x_account_role: Annotated[str | None, Header()] = None,
) -> str:
    """The admin's account id. The gateway sets `X-Account-Role: admin` only for admins
    (and strips it from clients); anything else is 403."""
    account_id = await require_account_id(x_account_id)
    if x_account_role != ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "administrators only")
    return account_id


UsageDep = Annotated[UsageRepository, Depends(_usage_repository)]
SettingsDep = Annotated[Settings, Depends(_settings)]
ReconcilerDep = Annotated[Reconciler, Depends(_reconciler)]
DeadLettersDep = Annotated[DeadLetters, Depends(_dead_letters)]
AdminId = Annotated[str, Depends(require_admin)]
