"""The admin's dead-letter browser: `docstore_messaging.dead_letters.DeadLetters`, with its
refusals as domain errors (answered 422 and 404 by the shared handler)."""

from __future__ import annotations

import structlog

from docstore_events.envelope import KafkaRecord
from docstore_kit import errors
from docstore_kit.pagination import InvalidCursor as InvalidPageCursor
from docstore_messaging.dead_letters import DeadLetter, DeadLetters, InvalidCursor, NotFound

log = structlog.get_logger(__name__)


class BadCursor(InvalidPageCursor):
    """The page cursor is not one this browser gave (422 `invalid-cursor`, as on every list)."""


class NoDeadLetter(errors.NotFound):
    """Nothing dead-lettered at that position."""


class DeadLetterBrowser:
    def __init__(self, letters: DeadLetters) -> None:
        self.letters = letters

    async def page(self, *, limit: int, cursor: str | None, topic: str | None) -> tuple[list[DeadLetter], str | None]:
        try:
            return await self.letters.page(limit=limit, cursor=cursor, topic=topic)
        except InvalidCursor as error:
            raise BadCursor("That page link does not belong to this list. Start again from the first page.") from error

    async def replay(self, topic: str, partition: int, offset: int, *, admin_id: str) -> KafkaRecord:
        """Publish the dead letter again to its original topic (consumers are idempotent)."""
        try:
            record = await self.letters.replay(topic, partition, offset)
        except NotFound as error:
            raise NoDeadLetter(
                f"Nothing was set aside on {topic}, partition {partition}, at offset {offset}."
            ) from error
        log.info(
            "dead_letter_replayed",
            admin_id=admin_id,
            dead_letter=f"{topic}:{partition}:{offset}",
            topic=record.topic,
            event_id=record.headers.get("ce_id"),
        )
        return record
