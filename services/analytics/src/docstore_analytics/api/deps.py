"""What analytics' routes read from the composition root (`app.state.services`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docstore_analytics.bootstrap import Services
from docstore_analytics.service_layer.reports import Reports
from docstore_analytics.service_layer.rollups import Recorder


async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def _reports(services: ServicesDep) -> Reports:
    return services.reports


async def _recorder(services: ServicesDep) -> Recorder:
    return services.recorder


ReportsDep = Annotated[Reports, Depends(_reports)]
RecorderDep = Annotated[Recorder, Depends(_recorder)]
