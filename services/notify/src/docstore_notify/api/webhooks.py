"""The owner's webhooks: register, list, change, delete, see deliveries, send a test event,
replay a dead letter.

Every route names the caller's account (the gateway's identity token); another account's webhook
id is a 404, as one that does not exist. The signing secret is in the answer to the POST that
creates the endpoint, and in no other answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from docstore_kit.auth import CurrentAccountId
from docstore_kit.errors import problem_responses
from docstore_kit.pagination import CursorQuery, Page
from docstore_kit.text import Text
from docstore_notify.api.deps import WebhooksDep
from docstore_notify.domain.webhooks import EVENT_TYPES

router = APIRouter(tags=["webhooks"])

EventType = Annotated[Text, Field(description="one of: " + ", ".join(EVENT_TYPES), max_length=64)]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Text = Field(max_length=2000, description="https:// URL DocStore POSTs each event to")
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: Text = Field("", max_length=200)


class WebhookChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Text | None = Field(None, max_length=2000)
    events: list[EventType] | None = Field(None, min_length=1, max_length=len(EVENT_TYPES))
    description: Text | None = Field(None, max_length=200)
    enabled: bool | None = None
    """false turns the endpoint off; true turns it back on and clears its failure count."""


class WebhookOut(BaseModel):
    id: str
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None = None
    consecutive_failures: int
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str
    """`whsec_...`: verifies the `webhook-signature` of each delivery. Shown this once: store it now."""


class WebhookPage(Page[WebhookOut]):
    """The caller's webhooks, oldest first."""


class Attempt(BaseModel):
    at: datetime
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None


class DeliveryOut(BaseModel):
    id: str
    """The `webhook-id` header: the same on every attempt."""
    event_type: str
    status: str
    """pending (due again at `next_attempt_at`), delivered, dead (no try left) or cancelled."""
    attempts: int
    response_code: int | None = None
    latency_ms: int | None = None
    last_error: str | None = None
    created_at: datetime
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None
    history: list[Attempt] = []


class DeliveryPage(Page[DeliveryOut]):
    """An endpoint's deliveries, newest first."""


def _out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["_id"],
        "url": row["url"],
        "description": row.get("description", ""),
        "events": row["events"],
        "enabled": row["enabled"],
        "disabled_reason": row.get("disabled_reason"),
        "consecutive_failures": row.get("consecutive_failures", 0),
        "created_at": row["created_at"],
    }


def _delivery(row: dict[str, Any]) -> DeliveryOut:
    pending = row["status"] == "pending"
    return DeliveryOut(
        id=row["_id"],
        event_type=row["event_type"],
        status=row["status"],
        attempts=row["attempts"],
        response_code=row.get("response_code"),
        latency_ms=row.get("latency_ms"),
        last_error=row.get("last_error"),
        created_at=row["created_at"],
        delivered_at=row.get("delivered_at"),
        next_attempt_at=row.get("next_attempt_at") if pending else None,
        history=[Attempt(**attempt) for attempt in row.get("history", [])],
    )


@router.get("/webhooks", responses=problem_responses(422), summary="The caller's webhooks, oldest first")
async def list_webhooks(
    request: Request,
    account_id: CurrentAccountId,
    webhooks: WebhooksDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorQuery = None,
) -> WebhookPage:
    rows, next_cursor = await webhooks.page(account_id, limit=limit, cursor=cursor)
    return WebhookPage.of(request, [WebhookOut(**_out(row)) for row in rows], next_cursor, limit)


@router.post(
    "/webhooks",
    status_code=201,
    responses=problem_responses(422),
    summary="Register an endpoint for events on the caller's documents; the answer holds its secret, once",
)
async def create_webhook(
    body: WebhookIn, account_id: CurrentAccountId, webhooks: WebhooksDep, response: Response
) -> WebhookCreated:
    created = await webhooks.register(account_id, url=body.url, events=body.events, description=body.description)
    response.headers["Cache-Control"] = "no-store"
    return WebhookCreated(**_out(created.webhook), secret=created.secret)


@router.get("/webhooks/{webhook_id}", responses=problem_responses(404), summary="One of the caller's webhooks")
async def get_webhook(webhook_id: str, account_id: CurrentAccountId, webhooks: WebhooksDep) -> WebhookOut:
    return WebhookOut(**_out(await webhooks.get(account_id, webhook_id)))


@router.patch(
    "/webhooks/{webhook_id}",
    responses=problem_responses(404, 422),
    summary="Change a webhook's URL, events or description, or turn it off or back on",
)
async def change_webhook(
    webhook_id: str, body: WebhookChange, account_id: CurrentAccountId, webhooks: WebhooksDep
) -> WebhookOut:
    row = await webhooks.update(
        account_id,
        webhook_id,
        url=body.url,
        events=body.events,
        description=body.description,
        enabled=body.enabled,
    )
    return WebhookOut(**_out(row))


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    responses=problem_responses(404),
    summary="Delete a webhook and its delivery log",
)
async def delete_webhook(webhook_id: str, account_id: CurrentAccountId, webhooks: WebhooksDep) -> Response:
    await webhooks.delete(account_id, webhook_id)
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    responses=problem_responses(404, 422),
    summary="A webhook's recent deliveries, newest first: status, attempts, response code, latency",
)
async def webhook_deliveries(
    request: Request,
    webhook_id: str,
    account_id: CurrentAccountId,
    webhooks: WebhooksDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorQuery = None,
    status: Annotated[
        Literal["pending", "delivered", "dead", "cancelled"] | None,
        Query(description="only deliveries in this status (`dead`: the dead letters, which can be replayed)"),
    ] = None,
) -> DeliveryPage:
    page = await webhooks.deliveries(account_id, webhook_id, limit=limit, cursor=cursor, status=status)
    return DeliveryPage.of(request, [_delivery(row) for row in page.rows], page.next_cursor, limit)


@router.post(
    "/webhooks/{webhook_id}/test",
    status_code=202,
    responses=problem_responses(404),
    summary="Send a `webhook.test` event to the endpoint now (also while it is turned off)",
)
async def test_webhook(webhook_id: str, account_id: CurrentAccountId, webhooks: WebhooksDep) -> DeliveryOut:
    return _delivery(await webhooks.send_test(account_id, webhook_id))


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
    status_code=202,
    responses=problem_responses(404, 409),
    summary="Send a dead (or cancelled) delivery again, under the same `webhook-id`; a pending one is left as it is",
)
async def replay_delivery(
    webhook_id: str, delivery_id: str, account_id: CurrentAccountId, webhooks: WebhooksDep
) -> DeliveryOut:
    return _delivery(await webhooks.replay(account_id, webhook_id, delivery_id))
