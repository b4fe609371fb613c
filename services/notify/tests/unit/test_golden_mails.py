"""Every mail notify writes, rendered and compared with its text as it was before the bodies moved
into Jinja2 templates (issue 36): subject, plain text and HTML, captured from the Python code of
the time (`golden/mails.json`). Pure: no servers.

The cases cover each kind and each branch (with and without the app's URL, plans, who changed a
file, one or several changes, every link mail and account mail) and hostile values (markup,
quotes, control characters, a name too long). Regenerate the file only for a deliberate change of
wording: `uv run --frozen python services/notify/tests/unit/test_golden_mails.py --write`.
"""

from __future__ import annotations

import html
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from docstore_notify.domain.account_mails import render_account_mail
from docstore_notify.domain.mail import GB, render, with_unsubscribe
from docstore_notify.domain.message import Message

GOLDEN = Path(__file__).parent / "golden" / "mails.json"
APP = "https://docstore.example/"
HOSTILE = '<b>"Q&A"</b> it\'s\x07 notes\n.pdf'
AT = "2026-11-24T18:05:00+00:00"
DOC = "doc/7 ?&"

KIND_CASES: dict[str, tuple[str, dict[str, Any], str]] = {
    "quota-exceeded": ("quota.exceeded", {"used_bytes": 5 * GB + 1, "cap_bytes": 5 * GB, "plan": "free"}, APP),
    "quota-exceeded-no-app": ("quota.exceeded", {"used_bytes": 5 * GB, "cap_bytes": 5 * GB}, ""),
    "quota-exceeded-largest": ("quota.exceeded", {"used_bytes": 999, "cap_bytes": 1, "plan": "premium"}, APP),
    "quota-restored": ("quota.restored", {"used_bytes": 4_999_999_999, "cap_bytes": 5 * GB}, APP),
    "upload-expired": ("upload.expired", {"filename": "report.pdf"}, APP),
    "upload-expired-hostile": ("upload.expired", {"filename": HOSTILE}, ""),
    "upload-expired-long": ("upload.expired", {"filename": "x" * 300}, ""),
    "quota-warning": ("quota.warning", {"percent": 80, "used_bytes": 850_000, "cap_bytes": 1_000_000}, APP),
    "quota-warning-no-app": ("quota.warning", {"percent": 95, "used_bytes": 95, "cap_bytes": 100, "plan": "pro"}, ""),
    "quota-warning-largest": (
        "quota.warning",
        {"percent": 95, "used_bytes": 95 * GB, "cap_bytes": 100 * GB, "plan": "premium"},
        "",
    ),
    "file-modified": ("file.modified", {"name": "plan.odt", "version": 3, "document_id": DOC, "by": "grace"}, APP),
    "file-modified-many": (
        "file.modified",
        {"name": HOSTILE, "version": 9, "changes": 4, "document_id": DOC, "by": "<grace>"},
        APP,
    ),
    "file-modified-anonymous": ("file.modified", {"name": "plan.odt", "version": 2}, ""),
    "file-modified-many-anonymous": ("file.modified", {"name": "plan.odt", "version": 5, "changes": 2}, APP),
    "file-modified-no-document": ("file.modified", {"name": "a", "version": 2, "by": "ann"}, APP),
    "link-expiring": (
        "share.links",
        {"mail": "expiring", "name": "deck.pdf", "document_id": DOC, "expires_at": AT},
        APP,
    ),
    "link-expiring-no-app": ("share.links", {"mail": "expiring", "name": HOSTILE, "expires_at": AT}, ""),
    "link-exhausted": (
        "share.links",
        {"mail": "exhausted", "name": "deck.pdf", "document_id": DOC, "downloads": 3, "download_limit": 3},
        APP,
    ),
    "link-exhausted-once": ("share.links", {"mail": "exhausted", "name": "deck.pdf", "downloads": 1}, APP),
    "link-exhausted-no-app": ("share.links", {"mail": "exhausted", "name": HOSTILE, "download_limit": 2}, ""),
    "link-ended": (
        "share.links",
        {"mail": "ended", "name": "deck.pdf", "document_id": DOC, "reason": "share-removed"},
        APP,
    ),
    "link-ended-unknown": ("share.links", {"mail": "ended", "name": HOSTILE, "reason": "other"}, ""),
    "link-ended-no-name": ("share.links", {"mail": "ended", "reason": "account-deleted"}, APP),
    "security": (
        "security",
        {"mail": "new-sign-in", "client": "Firefox on Linux", "address": "203.0.113.7", "region": "eu", "at": AT},
        APP,
    ),
    "security-bare": ("security", {"client": HOSTILE, "at": "not a time"}, ""),
    "webhooks": (
        "webhooks",
        {"mail": "webhook-disabled", "webhook_id": "wh_1", "host": "hooks.example", "reason": "15 failures: 503"},
        APP,
    ),
    "webhooks-bare": ("webhooks", {"reason": HOSTILE}, ""),
    "share-received": ("share.received", {"name": "deck.pdf", "by": "ann", "permission": "view"}, APP),
    "share-received-edit": ("share.received", {"name": HOSTILE, "by": "<ann>", "permission": "edit"}, ""),
    "share-received-bare": ("share.received", {}, APP),
    "digest": (
        "digest",
        {
            "items": [
                {"kind": "quota.warning", "params": {"percent": 80, "used_bytes": 8, "cap_bytes": 10}},
                {"kind": "file.modified", "params": {"name": HOSTILE, "version": 2, "by": "grace"}},
                {"kind": "share.links", "params": {"mail": "exhausted", "name": "a&b", "downloads": 1}},
            ]
        },
        APP,
    ),
    "digest-one": ("digest", {"items": [{"kind": "upload.expired", "params": {"filename": "a.txt"}}]}, ""),
}

WHEN = datetime(2026, 11, 24, 18, 5, tzinfo=UTC)
LINK = 'https://docstore.example/#/verify?token=abc&x="1"'
ACCOUNT_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "verify-email": ("verify-email", {"link": LINK, "username": "ada"}),
    "verify-email-anonymous": ("verify-email", {"link": LINK}),
    "reset-password": ("reset-password", {"link": LINK}),
    "change-email": ("change-email", {"link": LINK}),
    "password-changed": ("password-changed", {"at": WHEN, "client_address": "203.0.113.7"}),
    "password-changed-bare": ("password-changed", {"at": WHEN}),
    "email-change-notice": (
        "email-change-notice",
        {"at": WHEN, "client_address": "203.0.113.7", "new_email": "new@example.org"},
    ),
    "email-change-notice-bare": ("email-change-notice", {"at": WHEN}),
    "email-changed": (
        "email-changed",
        {"at": WHEN, "client_address": "203.0.113.7", "new_email": "new@example.org", "report_to": "abuse@example.org"},
    ),
    "email-changed-bare": ("email-changed", {"at": WHEN}),
    "address-in-use": ("address-in-use", {"at": WHEN, "client_address": "<1.2.3.4>", "attempt": "sign-up"}),
    "address-in-use-change": (
        "address-in-use",
        {"at": WHEN, "username": "ada's", "attempt": "email-change"},
    ),
}

UNSUBSCRIBE = ("https://docstore.example/v1/notifications/unsubscribe/tok?a=1&b='2'", "“storage full” mails")


def rendered(case: str) -> Message:
    if case in ACCOUNT_CASES:
        kind, params = ACCOUNT_CASES[case]
        return render_account_mail(kind, **params)
    if case.startswith("unsubscribe:"):
        kind, params, app_url = KIND_CASES[case.removeprefix("unsubscribe:")]
        return with_unsubscribe(render(kind, params, app_url=app_url), *UNSUBSCRIBE)
    kind, params, app_url = KIND_CASES[case]
    return render(kind, params, app_url=app_url)


CASES = [*KIND_CASES, *ACCOUNT_CASES, "unsubscribe:quota-exceeded", "unsubscribe:digest"]


def _quotes_as_before(markup: str) -> str:
    """Jinja2 escapes with MarkupSafe, which writes `'` and `"` as `&#39;` and `&#34;` where
    `html.escape` wrote `&#x27;` and `&quot;`: the same characters, another spelling."""
    return markup.replace("&#39;", "&#x27;").replace("&#34;", "&quot;")


@pytest.fixture(scope="module")
def golden() -> dict[str, dict[str, str]]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_every_case_has_a_golden(golden: dict[str, dict[str, str]]) -> None:
    assert sorted(golden) == sorted(CASES)


@pytest.mark.parametrize("case", CASES)
def test_mail_reads_as_before(case: str, golden: dict[str, dict[str, str]]) -> None:
    message = rendered(case)
    assert message.subject == golden[case]["subject"]
    assert message.text == golden[case]["text"]
    assert _quotes_as_before(message.html) == golden[case]["html"]
    assert html.unescape(message.html) == html.unescape(golden[case]["html"])


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    captured = {case: vars(rendered(case)) for case in CASES}
    GOLDEN.write_text(json.dumps(captured, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
