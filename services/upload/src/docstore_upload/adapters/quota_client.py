"""Asks `quota` for room: a reservation per grant, released when a grant is abandoned."""

from __future__ import annotations

from datetime import datetime

import httpx

from docstore_kit import errors
from docstore_upload.domain.grants import Reservation

__all__ = ["QuotaClient", "QuotaRefused", "QuotaUnavailable", "Reservation"]


BATCH_TIMEOUT_SECONDS = 30.0


class QuotaUnavailable(errors.Unavailable):
    """The quota service did not answer; grants wait rather than guess."""

    problem = "quota-unavailable"

    def detail(self) -> str:
        return "This upload can't be checked right now. Try again in a moment."


class QuotaRefused(errors.Invalid):
    """Quota refused the request itself (a 4xx: a size no account could hold, a malformed
    reservation): the client's request is at fault, and asking again would get the same answer.
    Only a 5xx or no answer is an outage (QuotaUnavailable, 503)."""

    problem = "quota-refused"
    title = "Refused by the quota check"


def _refused(response: httpx.Response) -> QuotaRefused:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, list):  # FastAPI's own 422 list
        detail = "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail)
    return QuotaRefused(f"This upload can't be accepted: {detail or 'the quota check refused it'}.")


def _checked(response: httpx.Response) -> httpx.Response:
    """The answer, or QuotaRefused for a 4xx that is the request's fault; a 5xx raises as an
    outage (httpx.HTTPStatusError). 401/403 (this service's identity refused) and 404 (a route
    quota lacks, an older quota) are configuration faults, outages to the client too."""
    if 400 <= response.status_code < 500 and response.status_code not in (401, 403, 404, 408, 429):
        raise _refused(response)
    return response.raise_for_status()


def _upgrade(body: dict[str, object]) -> tuple[str | None, int | None]:
    """The next plan up and its cap, as quota answers them (absent from an older quota: no hint)."""
    plan, cap = body.get("upgrade_plan"), body.get("upgrade_cap_bytes")
    return (plan, cap) if isinstance(plan, str) and isinstance(cap, int) else (None, None)


class QuotaClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http  # signs every request as the upload service

    async def reserve(self, account_id: str, upload_id: str, size: int, expires_at: datetime) -> Reservation:
        """Hold `size` bytes of the account's room for this upload until it completes or expires.

        Quota decides atomically per account, counting every other live reservation, so grants
        issued side by side never add up past the cap. Repeating it for the same upload is harmless."""
        try:
            response = await self.http.put(
                f"/internal/accounts/{account_id}/reservations/{upload_id}",
                json={"size": size, "expires_at": expires_at.isoformat()},
            )
            _checked(response)
        except httpx.HTTPError as error:
            raise QuotaUnavailable(str(error)) from error
        body = response.json()
        return Reservation(
            body["granted"], body["room_bytes"], body["cap_bytes"], body["over_quota"], body["plan"], *_upgrade(body)
        )

    async def reserve_many(self, account_id: str, items: list[tuple[str, int, datetime]]) -> dict[str, Reservation]:
        """`reserve` for many uploads of one account: one request, one transaction in quota,
        decided in order so the batch never holds more than the room in total."""
        try:
            response = await self.http.post(
                f"/internal/accounts/{account_id}/reservations",
                json={
                    "reservations": [
                        {"upload_id": upload_id, "size": size, "expires_at": expires_at.isoformat()}
                        for upload_id, size, expires_at in items
                    ]
                },
                # A batch waits behind the account's other grants in quota (they are decided one
                # transaction at a time per account): more time than a single grant's 5 s.
                timeout=BATCH_TIMEOUT_SECONDS,
            )
            _checked(response)
        except httpx.HTTPError as error:
            raise QuotaUnavailable(str(error)) from error
        body = response.json()
        return {
            item["upload_id"]: Reservation(
                item["granted"],
                item["room_bytes"],
                body["cap_bytes"],
                body["over_quota"],
                body["plan"],
                *_upgrade(body),
            )
            for item in body["results"]
        }

    async def release(self, account_id: str, upload_id: str) -> None:
        """Give the room back (abort, rejection). Best effort: quota also drops expired ones."""
        try:
            response = await self.http.delete(f"/internal/accounts/{account_id}/reservations/{upload_id}")
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise QuotaUnavailable(str(error)) from error
