"""Warnings, followed-file changes, digests and unsubscribe links: pure, no servers."""

from __future__ import annotations

from docstore_events import FileModified
from docstore_events.notifications import QuotaWarningReached
from docstore_notify.domain.mail import render, with_unsubscribe
from docstore_notify.domain.notices import Notice
from docstore_notify.domain.unsubscribe import sign

ACCOUNT_ID, ACTOR_ID, FOLLOWER_ID = "acc-owner-1", "acc-actor-2", "acc-follower-3"


def test_quota_warning_names_the_level_used_and_cap() -> None:
    notice = Notice.quota_warning(
        QuotaWarningReached(
            account_id=ACCOUNT_ID, percent=80, used_bytes=4_000_000_000, cap_bytes=5_000_000_000, plan="free"
        )
    )
    message = render(notice.kind, notice.params)
    assert message.subject == "Your DocStore storage is 80% full"
    for part in (message.text, message.html):
        assert "4 GB" in part and "5 GB" in part and ACCOUNT_ID not in part and "free" not in part.lower()


def test_a_followed_file_change_says_who_and_links_to_the_document_in_the_app() -> None:
    event = FileModified(
        account_id=ACCOUNT_ID, document_id="doc-1", version=2, name="plan.odt", size=10, actor_id=ACTOR_ID
    )
    notice = Notice.file_modified(event, FOLLOWER_ID, by="<grace>")
    message = render(notice.kind, notice.params, app_url="https://docs.example/")
    link = "https://docs.example/#/files?open=doc-1"
    assert message.subject == "<grace> changed “plan.odt” on DocStore"
    assert "<grace> changed it; it is now at version 2." in message.text
    assert f"Open it in DocStore: {link}" in message.text
    assert "<strong>&lt;grace&gt;</strong> changed it" in message.html
    assert f'<a href="{link}">Open “plan.odt” in DocStore</a>' in message.html
    many = render(notice.kind, {**notice.params, "changes": 3}, app_url="https://docs.example")
    assert "it was changed 3 times, last by <grace>" in many.text and link in many.text
    for part in (message.subject, message.text, message.html):
        assert ACTOR_ID not in part and FOLLOWER_ID not in part and ACCOUNT_ID not in part


def test_the_html_part_puts_who_in_bold_where_the_name_is_not_in_the_words_around_it() -> None:
    # The Python that wrote this part before the templates bolded the first "a" of "it was changed".
    message = render("file.modified", {"name": "f", "version": 4, "changes": 3, "by": "a"})
    assert "it was changed 3 times, last by <strong>a</strong>; it is now at version 4." in message.html


def test_a_followed_file_change_names_the_file_and_how_often_and_nobody() -> None:
    event = FileModified(
        account_id=ACCOUNT_ID, document_id="doc-1", version=7, name="<b>plan</b>.odt", size=10, actor_id=ACTOR_ID
    )
    notice = Notice.file_modified(event, FOLLOWER_ID)
    assert notice.account_id == FOLLOWER_ID and notice.coalesce == "doc-1"
    message = render(notice.kind, {**notice.params, "changes": 10})
    assert "10 times" in message.text and "version 7" in message.text
    assert "&lt;b&gt;plan&lt;/b&gt;.odt" in message.html and "<b>plan" not in message.html
    for part in (message.subject, message.text, message.html):
        assert not any(secret in part for secret in (ACCOUNT_ID, ACTOR_ID, FOLLOWER_ID, "doc-1"))
    assert "Open DocStore to see the latest version." in message.text  # no app URL given: no link


def test_a_digest_lists_each_item_in_both_parts() -> None:
    items = [
        {"kind": "upload.expired", "params": {"filename": "a.txt"}},
        {"kind": "file.modified", "params": {"name": "b.txt", "version": 2, "changes": 1}},
    ]
    message = render("digest", {"items": items})
    assert message.subject == "Your DocStore digest: 2 updates"
    for part in (message.text, message.html):
        assert "a.txt" in part and "b.txt" in part


def test_unsubscribe_link_in_both_parts_and_tokens_are_signed_per_account_and_kind() -> None:
    message = with_unsubscribe(render("upload.expired", {"filename": "x"}), "https://d.example/v1/u/T0K", "these")
    assert "https://d.example/v1/u/T0K" in message.text
    assert 'href="https://d.example/v1/u/T0K"' in message.html and message.html.rstrip().endswith("</html>")
    token = sign("s3cret", ACCOUNT_ID, "file.modified")
    assert token == sign("s3cret", ACCOUNT_ID, "file.modified")
    assert token not in {
        sign("other", ACCOUNT_ID, "file.modified"),
        sign("s3cret", ACCOUNT_ID, "upload.expired"),
        sign("s3cret", FOLLOWER_ID, "file.modified"),
    }
    assert ACCOUNT_ID not in token and len(token) == 43
