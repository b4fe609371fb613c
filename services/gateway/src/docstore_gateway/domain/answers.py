"""What the accounts service answered, as typed results (issue 36): the adapter
(`adapters/upstreams.py`) turns HTTP answers into these, so no use case reads a status code.
An accounts service that does not answer at all is `UpstreamUnavailable`, raised."""

from __future__ import annotations

from dataclasses import dataclass

from docstore_gateway.domain.app_passwords import AppPasswordCaller


@dataclass(frozen=True)
class AppPasswordAccepted:
    caller: AppPasswordCaller


@dataclass(frozen=True)
class Refused:
    """Wrong credentials (or a code not even shaped like one): the same answer to the client."""


@dataclass(frozen=True)
class HomeElsewhere:
    """The account lives in another region: ask there."""

    region: str


@dataclass(frozen=True)
class Unexpected:
    """An answer the contract does not name (a bug on one side): never a session."""

    status: int


AppPasswordAnswer = AppPasswordAccepted | Refused | HomeElsewhere | Unexpected
