"""The grantee's "NAME shared “file” with you" mail (issue 37): who, which file, view or edit."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from docstore_events import ShareCreated
from docstore_notify.consumers.handlers import handlers
from docstore_notify.domain.mail import KINDS, SHARE_RECEIVED, describe, render, summary
from docstore_notify.domain.share_mails import share_received_notice

SHARED = ShareCreated(
    account_id="acc-ann",
    document_id="doc-1",
    grantee_id="acc-bob",
    permission="edit",
    document_name="Budget <2027>.xlsx",
    owner_username="ann",
)


def test_the_grantee_is_told_who_shared_which_file_and_what_they_may_do() -> None:
    notice = share_received_notice(SHARED)
    assert (notice.account_id, notice.kind) == ("acc-bob", SHARE_RECEIVED)
    mail = render(notice.kind, notice.params, app_url="https://docstore.example")
    assert mail.subject == "ann shared “Budget <2027>.xlsx” with you"
    assert "upload new versions" in mail.text and "https://docstore.example/#/shared" in mail.text
    assert "Budget &lt;2027&gt;.xlsx" in mail.html and "<2027>" not in mail.html
    viewer = render(SHARE_RECEIVED, share_received_notice(SHARED.model_copy(update={"permission": "view"})).params)
    assert "view and download it." in viewer.text and "upload" not in viewer.text
    # A preference of its own, and a line in the digest.
    assert SHARE_RECEIVED in KINDS and describe(SHARE_RECEIVED) == "mails about files shared with you"
    assert summary(notice.kind, notice.params).startswith("ann shared “Budget <2027>.xlsx” with you")


async def test_share_created_mails_the_grantee() -> None:
    told: list[Any] = []

    class Notifier:
        async def notify(self, event_id: str, notice: Any) -> bool:
            told.append((event_id, notice))
            return True

    handle = handlers(Notifier())[ShareCreated]  # type: ignore[arg-type]
    assert await handle(SimpleNamespace(id="e1", data=SHARED, time=None))  # type: ignore[arg-type]
    assert [(event_id, notice.account_id, notice.kind) for event_id, notice in told] == [
        ("e1", "acc-bob", SHARE_RECEIVED)
    ]
