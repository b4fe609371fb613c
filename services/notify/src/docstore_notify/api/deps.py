"""What notify's routes read from the composition root, through one dependency: the `Services`
that `main.py`'s lifespan stored as `app.state.services`, and `Annotated` aliases of its parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docstore_notify.bootstrap import Services
from docstore_notify.service_layer.notifier import Notifier
from docstore_notify.service_layer.subscriptions import Subscriptions
from docstore_notify.service_layer.webhooks import Webhooks


# async, as every dependency here: FastAPI runs a plain `def` in its thread pool (a thread hop
# per request); tests/static/test_request_path.py keeps it so.
async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def _notifier(services: ServicesDep) -> Notifier:
    return services.notifier


async def _subscriptions(services: ServicesDep) -> Subscriptions:
    return services.subscriptions


NotifierDep = Annotated[Notifier, Depends(_notifier)]
SubscriptionsDep = Annotated[Subscriptions, Depends(_subscriptions)]


async def _webhooks(services: ServicesDep) -> Webhooks:
    return services.webhooks


WebhooksDep = Annotated[Webhooks, Depends(_webhooks)]
