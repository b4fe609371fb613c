"""The plans an account may be on, and what each costs a month (issue 37: a price before a plan
change, as Dropbox, Google Drive and Nextcloud's hosted plans show one).

Prices are data, not code: Free costs nothing; Premium's monthly price and the currency are
settings an operator sets (`ACCOUNTS_PREMIUM_MONTHLY_PRICE`, `ACCOUNTS_PLAN_CURRENCY`). Their
defaults (4.99 EUR) are a **placeholder**, not a price anyone decided. What a plan holds is not
here: storage caps are quota's settings and full-text search the indexer's rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PLANS = ("free", "premium")
NAMES = {"free": "Free", "premium": "Premium"}


@dataclass(frozen=True)
class Offer:
    plan: str
    name: str
    monthly_price: Decimal
    """In `currency`, with its two decimals (`4.99`, `0.00`)."""
    currency: str
    """ISO 4217 (`EUR`)."""


def offers(premium_monthly_price: Decimal, currency: str) -> tuple[Offer, ...]:
    """Every plan with its monthly price: Free nothing, Premium `premium_monthly_price`."""
    prices = {"free": Decimal("0"), "premium": premium_monthly_price}
    return tuple(
        Offer(plan=plan, name=NAMES[plan], monthly_price=prices[plan].quantize(Decimal("0.01")), currency=currency)
        for plan in PLANS
    )
