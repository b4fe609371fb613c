"""The chart gives accounts (which holds the audit trail) the audit trail's retention (AUDIT_RETENTION_DAYS, default 365) and its
schema refuses a value that is not a number of days."""

from __future__ import annotations

import pytest
from deploy_support import REGIONS, helm_template, manifests, parse_manifests


def accounts_env(objects: list[dict]) -> dict[str, str | None]:
    found = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "docstore-accounts")
    return {e["name"]: e.get("value") for e in found["spec"]["template"]["spec"]["containers"][0]["env"]}


@pytest.mark.parametrize("region", REGIONS)
def test_accounts_keeps_audit_records_a_year_by_default(region: str) -> None:
    assert accounts_env(manifests(region))["AUDIT_RETENTION_DAYS"] == "365"


def test_the_retention_is_a_value() -> None:
    result = helm_template("--set-string", "services.accounts.env.AUDIT_RETENTION_DAYS=2555")
    assert result.returncode == 0, result.stderr
    assert accounts_env(parse_manifests(result.stdout))["AUDIT_RETENTION_DAYS"] == "2555"


@pytest.mark.parametrize("value", ["forever", "-1", "1y"])
def test_a_retention_that_is_not_days_is_refused(value: str) -> None:
    result = helm_template("--set-string", f"services.accounts.env.AUDIT_RETENTION_DAYS={value}")
    assert result.returncode != 0
    assert "AUDIT_RETENTION_DAYS" in result.stderr
