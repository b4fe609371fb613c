"""Mail rendering and size formatting: pure, no servers."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP

import pytest

from docstore_events import QuotaExceeded, QuotaRestored, UploadExpired
from docstore_events.notifications import QuotaWarningReached
from docstore_notify.domain.mail import GB, KINDS, Mail, format_gb, format_size, render, safe_filename
from docstore_notify.domain.notices import Notice

ACCOUNT_ID = "acc-7f3c9e21"
EMAIL = "ada@example.org"


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0 GB"),
        (1, "less than 0.01 GB"),
        (10_000_000, "0.01 GB"),
        (5 * GB, "5 GB"),
        (20 * GB, "20 GB"),
        (5_250_000_000, "5.25 GB"),
        (5_500_000_000, "5.5 GB"),
        (1234 * GB + GB // 2, "1,234.5 GB"),
    ],
)
def test_format_gb(size: int, expected: str) -> None:
    assert format_gb(size) == expected


def test_format_gb_rounding_never_contradicts_the_message() -> None:
    assert format_gb(5 * GB + 1, ROUND_UP) == "5.01 GB"  # over the cap: never shown as equal to it
    assert format_gb(5 * GB - 1, ROUND_DOWN) == "4.99 GB"  # back under: never shown as the cap
    assert format_gb(5 * GB, ROUND_UP) == "5 GB"


def test_format_gb_refuses_negative_sizes() -> None:
    with pytest.raises(ValueError):
        format_gb(-1)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (999, "999 bytes"),
        (850_000, "850 KB"),
        (12_500_000, "12.5 MB"),
        (5 * GB, "5 GB"),
        (5_250_000_000, "5.25 GB"),
        (1234 * GB + GB // 2, "1,234.5 GB"),
    ],
)
def test_format_size_picks_the_unit_people_read(size: int, expected: str) -> None:
    assert format_size(size) == expected


def test_format_size_rounding_never_contradicts_the_message_and_moves_up_a_unit() -> None:
    assert format_size(1_000_001, ROUND_UP) == "1.01 MB"  # over a 1 MB cap: never "1 MB"
    assert format_size(999_999, ROUND_DOWN) == "999.99 KB"  # back under: never the cap
    assert format_size(999_999_999, ROUND_UP) == "1 GB"  # not "1,000 MB"
    with pytest.raises(ValueError):
        format_size(-1)


def _warning(plan: str, used: int = 850_000, cap: int = 1_000_000) -> Notice:
    return Notice.quota_warning(
        QuotaWarningReached(account_id=ACCOUNT_ID, percent=85, used_bytes=used, cap_bytes=cap, plan=plan)
    )


def test_quota_mails_below_the_largest_plan_link_to_the_plans_without_naming_one() -> None:
    app = "https://docs.example/"
    for notice in (
        _warning("free"),
        Notice.quota_exceeded(QuotaExceeded(account_id=ACCOUNT_ID, used_bytes=1_200_000, cap_bytes=10**6, plan="free")),
    ):
        message = render(notice.kind, notice.params, app_url=app)
        assert "move to a plan with more room: https://docs.example/#/usage" in message.text
        assert '<a href="https://docs.example/#/usage">move to a plan with more room</a>' in message.html
        for part in (message.text, message.html):
            assert "MB" in part and "GB" not in part and "bytes" not in part  # a 1 MB cap is not "0 GB"
            assert "free" not in part.lower() and "premium" not in part.lower()


def test_quota_mails_on_the_largest_plan_suggest_no_bigger_plan() -> None:
    notice = _warning("premium", used=17 * GB, cap=20 * GB)
    message = render(notice.kind, notice.params, app_url="https://docs.example")
    for part in (message.text, message.html):
        assert "17 GB" in part and "20 GB" in part
        assert "deleting files you no longer need" in part
        assert "plan" not in part.lower() and "#/usage" not in part


def _notices() -> list[Notice]:
    return [
        Notice.quota_exceeded(
            QuotaExceeded(account_id=ACCOUNT_ID, used_bytes=5_300_000_000, cap_bytes=5 * GB, plan="premium")
        ),
        Notice.quota_restored(
            QuotaRestored(account_id=ACCOUNT_ID, used_bytes=4_200_000_000, cap_bytes=5 * GB, plan="premium")
        ),
        Notice.upload_expired(
            UploadExpired(account_id=ACCOUNT_ID, upload_id="up-1", document_id="doc-1", filename="report.pdf")
        ),
    ]


@pytest.mark.parametrize("notice", _notices(), ids=lambda n: n.kind)
def test_every_mail_has_a_subject_a_text_and_an_html_part(notice: Notice) -> None:
    message = render(notice.kind, notice.params)
    assert message.subject.strip()
    assert "DocStore" in message.subject
    assert message.text.strip() and "<" not in message.text
    assert message.html.lstrip().startswith("<!DOCTYPE html>") and "</html>" in message.html


@pytest.mark.parametrize("notice", _notices(), ids=lambda n: n.kind)
def test_no_account_data_in_any_part(notice: Notice) -> None:
    """The id, the address, the plan: none of them in a body; the address only in To."""
    mail = Mail(to=EMAIL, message=render(notice.kind, notice.params))
    for part in (mail.message.subject, mail.message.text, mail.message.html):
        assert ACCOUNT_ID not in part
        assert EMAIL not in part
        assert "premium" not in part.lower()  # the plan
        assert "up-1" not in part and "doc-1" not in part  # internal ids
    assert mail.to == EMAIL


def test_quota_exceeded_names_used_and_cap() -> None:
    notice = _notices()[0]
    message = render(notice.kind, notice.params)
    assert message.subject == "Your DocStore storage is full"
    for part in (message.text, message.html):
        assert "5.3 GB" in part
        assert "5 GB" in part


def test_quota_restored_names_used_and_cap() -> None:
    notice = _notices()[1]
    message = render(notice.kind, notice.params)
    assert message.subject == "Your DocStore storage is available again"
    for part in (message.text, message.html):
        assert "4.2 GB" in part
        assert "5 GB" in part


def test_upload_expired_names_the_file() -> None:
    notice = _notices()[2]
    message = render(notice.kind, notice.params)
    assert "report.pdf" in message.text and "report.pdf" in message.html


def test_html_escapes_user_supplied_file_names() -> None:
    message = render("upload.expired", {"filename": '<script>alert("x")</script>.pdf'})
    assert "<script>" not in message.html
    assert "&lt;script&gt;" in message.html


def test_safe_filename_drops_control_characters_and_bounds_length() -> None:
    assert safe_filename("a\r\nBcc: evil@example.com") == "a  Bcc: evil@example.com"
    assert len(safe_filename("x" * 1000)) == 200
    assert safe_filename("\x00\x01") == "your file"


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        render("share.created", {})
    assert set(KINDS) == {
        "quota.warning",
        "quota.exceeded",
        "quota.restored",
        "upload.expired",
        "file.modified",
        "share.links",
        "security",
        "webhooks",
        "share.received",
    }
