"""Looking up a person to share with (issue 37): the rules are `domain/people.py`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from docstore_metadata.adapters.repositories import Repositories
from docstore_metadata.domain.people import (
    LOOKUPS_PER_MINUTE,
    SUGGESTIONS_MAX,
    TooManyLookups,
    is_address,
    lookups_in_the_last_minute,
    person,
    query_of,
    suggestions,
    usable,
)


class People:
    def __init__(
        self,
        reads: Repositories,
        *,
        region: str = "",
        lookups_per_minute: int = LOOKUPS_PER_MINUTE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reads = reads
        self.clock = clock
        self.region = region
        self.lookups_per_minute = lookups_per_minute

    async def lookup(self, account_id: str, raw: str, *, limit: int = SUGGESTIONS_MAX) -> list[dict[str, Any]]:
        """The exact match first (if any), then people the caller already shares with whose
        username starts with the query, by username; at most `limit`. A query with an `@` is an
        address: the one account whose verified address it is, or nobody."""
        q = query_of(raw)
        now = self.clock()
        window = int(now // 60)
        current = await self.reads.sharing.count_lookup(account_id, window)
        previous = await self.reads.sharing.lookups_in(account_id, window - 1)
        if lookups_in_the_last_minute(current, previous, now) > self.lookups_per_minute:
            raise TooManyLookups()
        found: list[dict[str, Any]] = []
        contacts = await self.reads.sharing.contacts_of(account_id)
        if is_address(q):
            # Only the accounts service knows addresses: it answers a verified one's account, or nothing.
            holder = await self.reads.owners.by_email(raw.strip())
            if usable(holder, account_id):
                assert holder is not None
                found.append(person(holder, self.region, known=holder["_id"] in contacts))
            return found
        # The projection first, then the accounts service, as sharing by that name does: a person
        # who signed up a moment ago is shareable before their account's events arrive here.
        exact = await self.reads.owners.by_username(q)
        if usable(exact, account_id):
            assert exact is not None
            found.append(person(exact, self.region, known=exact["_id"] in contacts))
        if contacts:
            rows = [row for row in await self.reads.projection.of(contacts) if row.get("username")]
            for missing in sorted(contacts - {row["_id"] for row in rows})[:limit]:
                if (row := await self.reads.owners.by_id(missing)) is not None:
                    rows.append(row)
            found += [person(row, self.region, known=True) for row in suggestions(rows, q, account_id, limit)]
        return found[:limit]
