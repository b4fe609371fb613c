"""The plans' monthly prices (issue 37): data an operator sets, shown before a plan change."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from docstore_accounts.domain.plans import PLANS, offers
from docstore_accounts.settings import Settings


def test_every_plan_has_a_price_free_costs_nothing() -> None:
    found = {o.plan: o for o in offers(Decimal("7.5"), "CHF")}
    assert tuple(found) == PLANS
    assert (found["free"].name, str(found["free"].monthly_price), found["free"].currency) == ("Free", "0.00", "CHF")
    assert (found["premium"].name, str(found["premium"].monthly_price)) == ("Premium", "7.50")


def test_the_price_is_the_operators_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCOUNTS_PREMIUM_MONTHLY_PRICE", "11.90")
    monkeypatch.setenv("ACCOUNTS_PLAN_CURRENCY", "USD")
    settings = Settings()
    assert (settings.premium_monthly_price, settings.plan_currency) == (Decimal("11.90"), "USD")
    for name, value in (("PREMIUM_MONTHLY_PRICE", "-1"), ("PREMIUM_MONTHLY_PRICE", "1.999"), ("PLAN_CURRENCY", "eur")):
        monkeypatch.setenv(f"ACCOUNTS_{name}", value)
        with pytest.raises(ValidationError):
            Settings()
        monkeypatch.delenv(f"ACCOUNTS_{name}")
