"""Caps on held requests (long polls): per account, per address and in all (issue 33, finding 9)."""

from __future__ import annotations

import pytest

from docstore_gateway.domain.held import HeldRequests, is_held
from docstore_gateway.domain.routing import ROUTE_TABLE


def test_only_a_positive_wait_holds_a_request() -> None:
    assert is_held("wait=25") and is_held("cursor=abc&wait=0.5")
    assert not is_held("") and not is_held("wait=0") and not is_held("wait=soon") and not is_held("cursor=wait%3D5")


def test_the_change_feed_is_the_held_route() -> None:
    assert {(r.method, r.template) for r in ROUTE_TABLE if r.held} == {("GET", "/changes")}


def test_each_cap_refuses_one_more_and_a_release_frees_a_place() -> None:
    held = HeldRequests(per_account=2, per_address=3, total=4)
    first, second = held.hold("ada", "10.0.0.1"), held.hold("ada", "10.0.0.1")
    assert first and second
    assert held.hold("ada", "10.0.0.2") is None  # the account's cap, from anywhere
    third = held.hold("bob", "10.0.0.1")
    assert third and held.hold("cy", "10.0.0.1") is None  # the address's cap, whoever asks
    fourth = held.hold("cy", "10.0.0.9")
    assert fourth and held.hold("dee", "10.0.0.8") is None  # the total
    first.release()
    first.release()  # once only
    assert held.held == 3 and held.accounts["ada"] == 1
    assert held.hold("ada", "10.0.0.2") is not None
    with pytest.raises(ValueError):
        HeldRequests(per_account=0, per_address=1, total=1)
