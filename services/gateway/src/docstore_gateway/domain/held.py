"""Held requests: long polls (`GET /v1/changes?wait=`) that keep a connection to a service open
until something happens or the wait ends (up to 30 s).

Each one holds a connection of the gateway to the service for its whole wait, so without a cap
one account could take every connection and stall everyone's requests (issue 33, finding 9).
`HeldRequests` counts what each account and each client address holds now and refuses past its
caps; the forwarding sends held requests over a connection pool of their own, as large as the
total cap, so the pool every other request uses is never taken by them.

Counters live in this process: with several gateway replicas, an account may hold the cap at
each one (a load balancer spreads its polls); the pool of each replica is safe all the same.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qsl

WAIT_PARAMETER = "wait"
"""The query parameter of a long poll: seconds to wait for a change when there is none."""


def is_held(query: str) -> bool:
    """Whether a request to a held route asks to wait (`wait` > 0). A malformed `wait` is not a
    held request: the service refuses it (422) at once."""
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == WAIT_PARAMETER:
            try:
                return float(value) > 0
            except ValueError:
                return False
    return False


@dataclass
class Hold:
    """One held request, counted until `release` (once)."""

    owner: HeldRequests
    account: str
    address: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.owner._release(self)


class HeldRequests:
    """At most `per_account` held requests per account, `per_address` per client address and
    `total` in all, at once."""

    def __init__(self, *, per_account: int, per_address: int, total: int) -> None:
        if min(per_account, per_address, total) < 1:
            raise ValueError("every cap on held requests must be at least 1")
        self.per_account = per_account
        self.per_address = per_address
        self.total = total
        self.accounts: Counter[str] = Counter()
        self.addresses: Counter[str] = Counter()
        self.held = 0

    def hold(self, account: str, address: str) -> Hold | None:
        """A hold on one more held request, or None when a cap is reached (nothing is counted)."""
        if (
            self.accounts[account] >= self.per_account
            or self.addresses[address] >= self.per_address
            or self.held >= self.total
        ):
            return None
        self.accounts[account] += 1
        self.addresses[address] += 1
        self.held += 1
        return Hold(self, account, address)

    def _release(self, hold: Hold) -> None:
        self.held -= 1
        for counter, key in ((self.accounts, hold.account), (self.addresses, hold.address)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]
