"""What the account-security mails say (domain/account_mails.py): the link in both parts, the
lifetime, and the notices' time and address; no mail kind unknown to it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from docstore_notify.domain.account_mails import TOKEN_KINDS, render_account_mail

LINK = "https://docstore.example/#/reset-password?token=abc_DEF-123"


@pytest.mark.parametrize("kind", sorted(TOKEN_KINDS))
def test_token_mails_carry_the_link_in_both_parts(kind: str) -> None:
    message = render_account_mail(kind, link=LINK, username="ada")
    assert LINK in message.text and f'href="{LINK}"' in message.html
    assert "DocStore" in message.subject


def test_the_reset_mail_says_its_life_and_what_to_do_if_unasked() -> None:
    text = render_account_mail("reset-password", link=LINK).text
    assert "30 minutes" in text and "ignore this mail" in text and "signs out every device" in text


def test_notices_say_when_and_from_where_and_hold_no_link() -> None:
    at = datetime(2026, 11, 23, 19, 5, tzinfo=UTC)
    changed = render_account_mail("password-changed", at=at, client_address="203.0.113.7")
    assert "Monday 23 November 2026, 19:05 UTC" in changed.text and "203.0.113.7" in changed.text
    assert "href" not in changed.html.split("</h1>", 1)[1]
    notice = render_account_mail("email-change-notice", at=at, new_email="new@example.com")
    assert "new@example.com" in notice.text and "only once the new address is confirmed" in notice.text


def test_an_address_is_escaped_in_html() -> None:
    html = render_account_mail("email-change-notice", new_email="<b>x</b>@example.com").html
    assert "<b>x</b>" not in html and "&lt;b&gt;" in html


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        render_account_mail("digest")
