"""What the quota repositories share: a lost insert race, told apart from other failures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.errors import DuplicateKeyError


class RaceLost(Exception):
    """A concurrent transaction inserted the same key first; running the use case again sees it."""


@contextmanager
def races_lost() -> Iterator[None]:
    """Turn the driver's duplicate-key error of an upsert into `RaceLost`."""
    try:
        yield
    except DuplicateKeyError as error:
        raise RaceLost(str(error)) from error
