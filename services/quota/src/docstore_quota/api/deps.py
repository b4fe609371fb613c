"""FastAPI dependencies of quota's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docstore_kit.auth import AdminAccountId
from docstore_events.dead_letters import DeadLetters
from docstore_quota.adapters.reconciliation import Reconciler
from docstore_quota.adapters.reservations import Reservations
from docstore_quota.adapters.usage_repository import UsageRepository
from docstore_quota.settings import Settings


def _usage_repository(request: Request) -> UsageRepository:
    return request.app.state.usage


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _reconciler(request: Request) -> Reconciler:
    return request.app.state.reconciler


def _dead_letters(request: Request) -> DeadLetters:
    return request.app.state.dead_letters


def _reservations(request: Request) -> Reservations:
    return request.app.state.reservations


UsageDep = Annotated[UsageRepository, Depends(_usage_repository)]
SettingsDep = Annotated[Settings, Depends(_settings)]
ReconcilerDep = Annotated[Reconciler, Depends(_reconciler)]
DeadLettersDep = Annotated[DeadLetters, Depends(_dead_letters)]
ReservationsDep = Annotated[Reservations, Depends(_reservations)]
AdminId = AdminAccountId
"""The administrator's account id, from the signed identity token (401 without one, 403 unless admin)."""
