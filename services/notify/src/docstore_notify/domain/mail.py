"""What each notification says: subject, plain text and HTML. Pure functions.

A mail names only what the reader needs: storage used and the cap (in KB, MB or GB), how to
make room (below the largest plan, with a link to the plans; the plan is never named), the name
of the file whose upload expired, or the followed file that changed, who changed it (the
username of someone the reader shares that file with) and a link that opens it in the web
app. No account id, plan or other address ever goes into a body; the recipient appears only
in the envelope's To. Every mail has a plain-text part beside its HTML (`mime_message`).
"""

from __future__ import annotations

import html
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
from docstore_notify.domain.message import html_page as _html
from docstore_notify.domain.message import safe_filename as safe_filename
from docstore_notify.domain.message import text_body as _text
from docstore_notify.domain.share_mails import render_share_mail
from docstore_notify.domain.sign_in_mails import render_security_mail
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


def _room(plan: str | None, app_url: str) -> tuple[str, str]:
    """How to make room, as the text and the (escaped) HTML of one paragraph: delete files, and
    (below the largest plan) move to a bigger one through a link to the plans. The plan itself
    is never named."""
    delete = "You can make room by deleting files you no longer need (and emptying the trash)"
    if plan == LARGEST_PLAN:
        return f"{delete}.", html.escape(f"{delete}.")
    if not app_url:
        text = f"{delete}, or move to a plan with more room."
        return text, html.escape(text)
    url = plans_url(app_url)
    text = f"{delete}, or move to a plan with more room: {url}"
    link = f'<a href="{html.escape(url, quote=True)}">move to a plan with more room</a>'
    return text, f"{html.escape(delete)}, or {link}."


def _quota_exceeded(used_bytes: int, cap_bytes: int, plan: str | None = None, app_url: str = "") -> Message:
    subject = "Your DocStore storage is full"
    used, cap = format_size(used_bytes, ROUND_UP), format_size(cap_bytes)
    room, room_html = _room(plan, app_url)
    lines = [
        f"Your DocStore storage is full: you are using {used} of your {cap}.",
        "New uploads are paused until there is room again.",
        room,
        "Your files are safe: you can still open, download and share them.",
    ]
    html_lines = [
        f"Your DocStore storage is full: you are using <strong>{html.escape(used)}</strong> "
        f"of your <strong>{html.escape(cap)}</strong>.",
        html.escape(lines[1]),
        room_html,
        html.escape(lines[3]),
    ]
    return Message(subject, _text(lines), _html(html.escape(subject), ["Hello,", *html_lines]))


def _quota_restored(used_bytes: int, cap_bytes: int) -> Message:
    subject = "Your DocStore storage is available again"
    used, cap = format_size(used_bytes, ROUND_DOWN), format_size(cap_bytes)
    lines = [
        f"You are using {used} of your {cap}, so you can upload files to DocStore again.",
        "Thank you for making room.",
    ]
    html_lines = [
        f"You are using <strong>{html.escape(used)}</strong> of your <strong>{html.escape(cap)}</strong>, "
        "so you can upload files to DocStore again.",
        html.escape(lines[1]),
    ]
    return Message(subject, _text(lines), _html(html.escape(subject), ["Hello,", *html_lines]))


def _upload_expired(filename: str) -> Message:
    subject = "Your DocStore upload did not finish"
    name = safe_filename(filename)
    lines = [
        f"The upload of “{name}” did not finish before its upload link expired, so the file was not stored.",
        "Please upload it again.",
    ]
    html_lines = [
        f"The upload of <strong>{html.escape(name)}</strong> did not finish before its upload link expired, "
        "so the file was not stored.",
        html.escape(lines[1]),
    ]
    return Message(subject, _text(lines), _html(html.escape(subject), ["Hello,", *html_lines]))


def _quota_warning(
    percent: int, used_bytes: int, cap_bytes: int, plan: str | None = None, app_url: str = ""
) -> Message:
    subject = f"Your DocStore storage is {percent}% full"
    used, cap = format_size(used_bytes, ROUND_UP), format_size(cap_bytes)
    room, room_html = _room(plan, app_url)
    lines = [
        f"Your DocStore storage is {percent}% full: you are using {used} of your {cap}.",
        "When it is full, new uploads are paused.",
        room,
    ]
    html_lines = [
        f"Your DocStore storage is <strong>{percent}% full</strong>: you are using "
        f"<strong>{html.escape(used)}</strong> of your <strong>{html.escape(cap)}</strong>.",
        html.escape(lines[1]),
        room_html,
    ]
    return Message(subject, _text(lines), _html(html.escape(subject), ["Hello,", *html_lines]))


def _file_modified(name: str, version: int, changes: int, *, by: str = "", url: str = "") -> Message:
    shown = safe_filename(name)
    who = safe_filename(by) if by else ""
    subject = f"{who} changed “{shown}” on DocStore" if who else f"“{shown}” was changed on DocStore"
    if changes == 1:
        how = f"{who} changed it" if who else "it was changed"
    else:
        how = f"it was changed {changes} times" + (f", last by {who}" if who else "")
    lines = [f"A file you follow, “{shown}”: {how}; it is now at version {version}."]
    html_who = f"<strong>{html.escape(who)}</strong>" if who else ""
    html_how = how.replace(who, html_who, 1) if who else how
    html_lines = [
        f"A file you follow, <strong>{html.escape(shown)}</strong>: {html_how}; it is now at version {version}."
    ]
    if url:
        lines.append(f"Open it in DocStore: {url}")
        html_lines.append(f'<a href="{html.escape(url, quote=True)}">Open “{html.escape(shown)}” in DocStore</a>')
    else:
        lines.append("Open DocStore to see the latest version.")
        html_lines.append(html.escape(lines[-1]))
    return Message(subject, _text(lines), _html(html.escape(subject), ["Hello,", *html_lines]))


def _digest(items: list[dict[str, Any]]) -> Message:
    count = len(items)
    subject = f"Your DocStore digest: {count} update{'s' if count != 1 else ''}"
    summaries = [summary(item["kind"], item["params"]) for item in items]
    lines = ["Here is what happened since your last digest:", *(f"- {s}" for s in summaries)]
    bullet_list = "".join(f"<li>{html.escape(s)}</li>" for s in summaries)
    html_lines = [html.escape(lines[0]), f'<ul style="margin:0">{bullet_list}</ul>']
    return Message(subject, _text(lines), _html(html.escape(subject), ["Hello,", *html_lines]))


def summary(kind: str, params: dict[str, Any]) -> str:
    """The first sentence-paragraph of a notification's text, for a digest line."""
    return render(kind, params).text.split("\n\n")[1]


def with_unsubscribe(message: Message, url: str, what: str) -> Message:
    """Add the unsubscribe link (works without logging in) to both parts."""
    text = message.text + f"\nTo stop {what}, open: {url}\n"
    link = (
        f'<p style="color:#666;font-size:12px">To stop {html.escape(what)}, '
        f'<a href="{html.escape(url, quote=True)}">unsubscribe</a>.</p>'
    )
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
