"""What each notification says: its subject here, its plain text and HTML in the Jinja2
templates (`templates/<mail>.txt` and `.html`, through `templating.render_mail`). Pure functions.

A mail names only what the reader needs: storage used and the cap (in KB, MB or GB), how to
make room (below the largest plan, with a link to the plans; the plan is never named), the name
of the file whose upload expired, or the followed file that changed, who changed it (the
username of someone the reader shares that file with) and a link that opens it in the web
app. No account id, plan or other address ever goes into a body; the recipient appears only
in the envelope's To. Every mail has a plain-text part beside its HTML (`mime_message`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from docstore_notify.domain.link_mails import render_link_mail
from docstore_notify.domain.message import DIGEST as DIGEST
from docstore_notify.domain.message import FILE_MODIFIED as FILE_MODIFIED
from docstore_notify.domain.message import GB as GB
from docstore_notify.domain.message import KINDS as KINDS
from docstore_notify.domain.message import QUOTA_EXCEEDED as QUOTA_EXCEEDED
from docstore_notify.domain.message import QUOTA_RESTORED as QUOTA_RESTORED
from docstore_notify.domain.message import QUOTA_WARNING as QUOTA_WARNING
from docstore_notify.domain.message import SECURITY as SECURITY
from docstore_notify.domain.message import SHARE_LINKS as SHARE_LINKS
from docstore_notify.domain.message import SHARE_RECEIVED as SHARE_RECEIVED
from docstore_notify.domain.message import UPLOAD_EXPIRED as UPLOAD_EXPIRED
from docstore_notify.domain.message import WEBHOOKS as WEBHOOKS
from docstore_notify.domain.message import Message as Message
from docstore_notify.domain.message import document_url as document_url
from docstore_notify.domain.message import safe_filename as safe_filename
from docstore_notify.domain.share_mails import render_share_mail
from docstore_notify.domain.sign_in_mails import render_security_mail
from docstore_notify.domain.templating import render_mail, render_text
from docstore_notify.domain.webhook_mails import render_webhook_mail


@dataclass(frozen=True)
class Mail:
    """A message addressed to one recipient."""

    to: str
    message: Message
    unsubscribe_url: str | None = None
    """The one-click unsubscribe link (RFC 8058), sent as `List-Unsubscribe` headers."""


def mime_message(mail: Mail, sender: str) -> EmailMessage:
    """The whole mail as MIME, for SES `SendRawEmail` (the only SES call that takes custom headers).

    multipart/alternative with the text part first and the HTML part last (clients show the
    last one they can), both UTF-8 quoted-printable so the message is 7-bit clean. With an
    unsubscribe link, `List-Unsubscribe` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
    (RFC 2369, RFC 8058) let mail clients offer one-click unsubscribe: they POST to the link.
    Header values are checked by the `email` package (no CR/LF), so nothing can add headers.
    """
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = ascii_address(mail.to)
    message["Subject"] = mail.message.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=_domain_of(sender))
    if mail.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.message.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(mail.message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def ascii_address(address: str) -> str:
    """`address` as SES takes it: the domain in IDNA (punycode); a non-ASCII local part is
    refused (`ValueError`), SES cannot deliver to one."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain or not local.isascii() or any(ch in local for ch in "\r\n<>,"):
        raise ValueError("the address cannot be sent to through SES")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError as error:
        raise ValueError("the address's domain is not a valid international domain name") from error


def _domain_of(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "docstore.invalid"


def format_gb(size_bytes: int, rounding: str = ROUND_HALF_UP) -> str:
    """`size_bytes` as decimal GB with at most two decimals: "5 GB", "5.01 GB", "1,234.5 GB".

    `rounding` is a `decimal` rounding mode: round usage up in "storage full" mails and
    down in "available again" mails, so the figures never contradict the message.
    """
    if size_bytes < 0:
        raise ValueError("a size is never negative")
    gigabytes = (Decimal(size_bytes) / GB).quantize(Decimal("0.01"), rounding=rounding)
    if gigabytes == 0 and size_bytes > 0:
        return "less than 0.01 GB"
    whole, _, fraction = f"{gigabytes:,.2f}".partition(".")
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction} GB" if fraction else f"{whole} GB"


_UNITS = ((GB, "GB"), (1_000_000, "MB"), (1_000, "KB"))
LARGEST_PLAN = "premium"
"""The plan with the most room: a mail to an account on it suggests no bigger plan."""


def format_size(size_bytes: int, rounding: str = ROUND_HALF_UP) -> str:
    """`size_bytes` in the unit people read it in, decimal as quota counts and the web app shows:
    "850 KB", "12.5 MB", "5.01 GB", "1,234.5 GB" (GB is the largest unit), "512 bytes".

    At most two decimals, rounded by `rounding` (a `decimal` mode, as in `format_gb`), so usage
    rounded up is never shown below the cap it passed; a figure that rounds up to 1,000 of a
    unit is said in the next one ("1 GB", not "1,000 MB")."""
    if size_bytes < 0:
        raise ValueError("a size is never negative")
    if size_bytes < 1_000:
        return "1 byte" if size_bytes == 1 else f"{size_bytes} bytes"
    for index, (unit_bytes, unit) in enumerate(_UNITS):
        if size_bytes < unit_bytes:
            continue
        value = (Decimal(size_bytes) / unit_bytes).quantize(Decimal("0.01"), rounding=rounding)
        if value >= 1000 and index > 0:
            bigger_bytes, bigger = _UNITS[index - 1]
            value = (Decimal(size_bytes) / bigger_bytes).quantize(Decimal("0.01"), rounding=rounding)
            unit = bigger
        whole, _, fraction = f"{value:,.2f}".partition(".")
        fraction = fraction.rstrip("0")
        return f"{whole}.{fraction} {unit}" if fraction else f"{whole} {unit}"
    raise AssertionError("unreachable: sizes of 1,000 bytes and more have a unit")


def plans_url(app_url: str) -> str:
    """The web app's Usage page, where the plan is changed."""
    return f"{app_url.rstrip('/')}/#/usage"


def _room(plan: str | None, app_url: str) -> dict[str, Any]:
    """What the templates' `room` paragraph needs: delete files, and (below the largest plan)
    move to a bigger one through a link to the plans. The plan itself is never named."""
    return {"largest": plan == LARGEST_PLAN, "plans_url": plans_url(app_url) if app_url else ""}


def _quota_exceeded(used_bytes: int, cap_bytes: int, plan: str | None = None, app_url: str = "") -> Message:
    used, cap = format_size(used_bytes, ROUND_UP), format_size(cap_bytes)
    return render_mail("quota_exceeded", "Your DocStore storage is full", used=used, cap=cap, **_room(plan, app_url))


def _quota_restored(used_bytes: int, cap_bytes: int) -> Message:
    used, cap = format_size(used_bytes, ROUND_DOWN), format_size(cap_bytes)
    return render_mail("quota_restored", "Your DocStore storage is available again", used=used, cap=cap)


def _upload_expired(filename: str) -> Message:
    return render_mail("upload_expired", "Your DocStore upload did not finish", name=safe_filename(filename))


def _quota_warning(
    percent: int, used_bytes: int, cap_bytes: int, plan: str | None = None, app_url: str = ""
) -> Message:
    used, cap = format_size(used_bytes, ROUND_UP), format_size(cap_bytes)
    return render_mail(
        "quota_warning",
        f"Your DocStore storage is {percent}% full",
        percent=percent,
        used=used,
        cap=cap,
        **_room(plan, app_url),
    )


def _file_modified(name: str, version: int, changes: int, *, by: str = "", url: str = "") -> Message:
    shown = safe_filename(name)
    who = safe_filename(by) if by else ""
    subject = f"{who} changed “{shown}” on DocStore" if who else f"“{shown}” was changed on DocStore"
    return render_mail("file_modified", subject, name=shown, who=who, changes=changes, version=version, url=url)


def _digest(items: list[dict[str, Any]]) -> Message:
    count = len(items)
    subject = f"Your DocStore digest: {count} update{'s' if count != 1 else ''}"
    summaries = [summary(item["kind"], item["params"]) for item in items]
    return render_mail("digest", subject, summaries=summaries)


def summary(kind: str, params: dict[str, Any]) -> str:
    """The first sentence-paragraph of a notification's text, for a digest line."""
    return render(kind, params).text.split("\n\n")[1]


def with_unsubscribe(message: Message, url: str, what: str) -> Message:
    """Add the unsubscribe link (works without logging in) to both parts."""
    text = message.text + render_text("unsubscribe.txt", url=url, what=what)
    link = render_text("unsubscribe.html", url=url, what=what)
    return Message(message.subject, text, message.html.replace("</body>", link + "</body>"))


def describe(kind: str) -> str:
    """What unsubscribing from `kind` stops, for the mail's footer."""
    return {
        QUOTA_WARNING: "storage warnings",
        QUOTA_EXCEEDED: "“storage full” mails",
        QUOTA_RESTORED: "“storage available” mails",
        UPLOAD_EXPIRED: "mails about unfinished uploads",
        FILE_MODIFIED: "mails about changes to files you follow",
        SHARE_LINKS: "mails about your public links",
        SECURITY: "new sign-in alerts",
        WEBHOOKS: "mails about your webhooks",
        SHARE_RECEIVED: "mails about files shared with you",
        DIGEST: "digest mails",
    }.get(kind, "these mails")


def render(kind: str, params: dict[str, Any], *, app_url: str = "") -> Message:
    """The message for a notification of `kind` with the facts in `params`; `app_url` (the
    gateway's public URL, which serves the web app) makes the links into the app."""
    plan = str(params["plan"]) if params.get("plan") else None
    if kind == QUOTA_EXCEEDED:
        return _quota_exceeded(int(params["used_bytes"]), int(params["cap_bytes"]), plan, app_url)
    if kind == QUOTA_RESTORED:
        return _quota_restored(int(params["used_bytes"]), int(params["cap_bytes"]))
    if kind == UPLOAD_EXPIRED:
        return _upload_expired(str(params["filename"]))
    if kind == QUOTA_WARNING:
        return _quota_warning(
            int(params["percent"]), int(params["used_bytes"]), int(params["cap_bytes"]), plan, app_url
        )
    if kind == FILE_MODIFIED:
        document_id = str(params.get("document_id") or "")
        return _file_modified(
            str(params["name"]),
            int(params["version"]),
            int(params.get("changes", 1)),
            by=str(params.get("by") or ""),
            url=document_url(app_url, document_id) if app_url and document_id else "",
        )
    if kind == SHARE_LINKS:
        return render_link_mail(params, app_url=app_url)
    if kind == SECURITY:
        return render_security_mail(params, app_url=app_url)
    if kind == WEBHOOKS:
        return render_webhook_mail(params, app_url=app_url)
    if kind == SHARE_RECEIVED:
        return render_share_mail(params, app_url=app_url)
    if kind == DIGEST:
        return _digest(list(params["items"]))
    raise ValueError(f"unknown notification kind {kind!r}")
