"""The share-link mails: which events ask for a notice, what the two mails say (both parts), and
that nothing but the document's name, the expiry or limit and app links gets in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from docstore_events.shares import ShareLinkExpiryNeared, ShareLinkRevoked, ShareLinkUsed
from docstore_notify.domain.link_mails import exhausted_notice, expiry_notice, format_expiry, revoked_notice
from docstore_notify.domain.mail import SHARE_LINKS, describe, render, summary

APP = "https://docstore.example"


def _expiring(name: str = "Budget <2026>.xlsx") -> ShareLinkExpiryNeared:
    return ShareLinkExpiryNeared(
        account_id="acc-1",
        link_id="lnk-1",
        document_id="doc 1",
        document_name=name,
        # Given in another zone: the mail says it in UTC.
        expires_at=datetime(2026, 11, 24, 20, 5, tzinfo=timezone(timedelta(hours=2))),
    )


def _used(downloads: int, exhausted: bool) -> ShareLinkUsed:
    return ShareLinkUsed(
        account_id="acc-1",
        link_id="lnk-1",
        document_id="doc-1",
        document_name="slides.pdf",
        version=2,
        downloads=downloads,
        download_limit=1 if exhausted else None,
        exhausted=exhausted,
    )


def test_the_reminder_names_the_file_its_expiry_in_utc_and_where_to_extend_it() -> None:
    notice = expiry_notice(_expiring())
    assert (notice.account_id, notice.kind) == ("acc-1", SHARE_LINKS)
    message = render(notice.kind, notice.params, app_url=APP + "/")
    assert message.subject == "Your DocStore link to “Budget <2026>.xlsx” expires soon"
    assert "expires on Tuesday 24 November 2026, 18:05 UTC" in message.text
    assert f"extend it on your Links page: {APP}/#/links" in message.text
    assert f"{APP}/#/files?open=doc%201" in message.text
    assert "Budget &lt;2026&gt;.xlsx" in message.html and "<2026>" not in message.html
    assert f'href="{APP}/#/links"' in message.html
    assert "lnk-1" not in message.text + message.html and "acc-1" not in message.text + message.html


def test_only_the_use_that_exhausts_a_link_asks_for_a_mail() -> None:
    assert exhausted_notice(_used(3, exhausted=False)) is None
    notice = exhausted_notice(_used(1, exhausted=True))
    assert notice is not None and notice.kind == SHARE_LINKS
    message = render(notice.kind, notice.params, app_url=APP)
    assert message.subject == "Your DocStore link to “slides.pdf” reached its download limit"
    assert "has been downloaded 1 time, its limit, so it no longer works" in message.text
    assert f"create a new link on your Links page: {APP}/#/links" in message.text


def test_without_an_app_url_the_mail_still_says_what_to_do_and_digests_and_footers_read_well() -> None:
    notice = expiry_notice(_expiring("plan.md"))
    message = render(notice.kind, notice.params)
    assert "extend it on the Links page in DocStore" in message.text and "http" not in message.text
    assert summary(notice.kind, notice.params).startswith("Your public link to “plan.md” expires on")
    assert describe(SHARE_LINKS) == "mails about your public links"


def test_expiry_format() -> None:
    assert format_expiry(datetime(2026, 1, 5, 9, 7, tzinfo=UTC).isoformat()) == "Monday 5 January 2026, 09:07 UTC"


def test_the_owner_is_told_when_a_link_ends_with_the_right_it_was_made_with() -> None:
    """Issue 33, finding 7: a share removed or editors' links turned off ends the links made with
    that right; the owner, who did not revoke them by hand, gets one mail each."""

    def revoked(reason: str, created_by: str = "editor-1") -> ShareLinkRevoked:
        return ShareLinkRevoked(
            account_id="acc-1",
            link_id="lnk-1",
            document_id="doc-1",
            reason=reason,
            actor_id="acc-1",
            document_name="plans.pdf",
            created_by=created_by,
        )

    notice = revoked_notice(revoked("share-removed"))
    assert notice is not None and (notice.account_id, notice.kind) == ("acc-1", SHARE_LINKS)
    message = render(notice.kind, notice.params, app_url=APP)
    assert message.subject == "Your DocStore link to “plans.pdf” no longer works"
    assert "share of the person who made it was removed" in message.text and "lnk-1" not in message.text
    assert revoked_notice(revoked("links-not-allowed")) is not None
    assert revoked_notice(revoked("account-deleted")) is not None
    for told_already in ("revoked", "document-trashed", "document-deleted"):
        assert revoked_notice(revoked(told_already)) is None
    assert revoked_notice(revoked("account-deleted", created_by="acc-1")) is None  # the owner's own deletion
