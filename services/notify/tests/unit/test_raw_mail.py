"""The MIME message notify hands to SES SendRawEmail, and the shape of unsubscribe tokens."""

from __future__ import annotations

import email
from email.policy import default

import pytest

from docstore_notify.domain.mail import Mail, ascii_address, mime_message, render, with_unsubscribe
from docstore_notify.domain.unsubscribe import sign, well_formed

SENDER = "DocStore <no-reply@docstore.example>"
LINK = "https://docstore.example/v1/notifications/unsubscribe/" + sign("s", "acc-1", "upload.expired")


def parsed(mail: Mail) -> email.message.EmailMessage:
    raw = mime_message(mail, SENDER).as_bytes()
    raw.decode("ascii")  # 7-bit clean: every non-ASCII character is encoded
    return email.message_from_bytes(raw, policy=default)  # type: ignore[return-value]  # policy=default makes an EmailMessage; typeshed says Message


def expired_mail(filename: str = "Résumé “final”.pdf", **kwargs: str) -> Mail:
    message = with_unsubscribe(render("upload.expired", {"filename": filename}), LINK, "these mails")
    return Mail(to=kwargs.get("to", "ada@example.com"), message=message, unsubscribe_url=LINK)


def test_every_mail_carries_one_click_unsubscribe_headers() -> None:
    message = parsed(expired_mail())
    assert message["List-Unsubscribe"] == f"<{LINK}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["From"] == SENDER and message["To"] == "ada@example.com"
    assert message["Subject"] == "Your DocStore upload did not finish"
    assert message["Date"] and message["Message-ID"].endswith("@docstore.example>")


def test_text_and_html_parts_survive_the_trip_unchanged() -> None:
    mail = expired_mail()
    message = parsed(mail)
    assert message.get_content_type() == "multipart/alternative"
    text, html_part = message.get_payload()  # type: ignore[misc]  # a multipart payload is a list of parts; typeshed allows str too
    assert text.get_content_type() == "text/plain" and html_part.get_content_type() == "text/html"
    # SMTP line endings on the wire; the same text once read back.
    assert text.get_content().replace("\r\n", "\n") == mail.message.text
    assert html_part.get_content().replace("\r\n", "\n").rstrip("\n") == mail.message.html
    assert "Résumé “final”.pdf" in text.get_content() and LINK in text.get_content()


def test_without_a_link_there_are_no_unsubscribe_headers() -> None:
    message = parsed(Mail(to="ada@example.com", message=render("upload.expired", {"filename": "x"})))
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None


def test_a_file_name_cannot_add_headers() -> None:
    # render() strips control characters; the email package would refuse a CR/LF anyway.
    message = parsed(expired_mail(filename="x\r\nBcc: victim@example.com"))
    assert message["Bcc"] is None
    with pytest.raises(ValueError):
        mime_message(
            Mail(to="ada@example.com\r\nBcc: victim@example.com", message=render("upload.expired", {"filename": "x"})),
            SENDER,
        ).as_bytes()


def test_addresses_are_made_ascii_or_refused() -> None:
    assert ascii_address("ada@exämple.com") == "ada@xn--exmple-cua.com"
    assert parsed(expired_mail(to="ada@exämple.com"))["To"] == "ada@xn--exmple-cua.com"
    for address in ["ädä@example.com", "no-at-sign", "a@", "a,b@example.com"]:
        with pytest.raises(ValueError):
            ascii_address(address)


def test_only_tokens_of_the_shape_sign_makes_are_well_formed() -> None:
    token = sign("secret", "acc-1", "quota.warning")
    assert well_formed(token)
    for bad in [
        "",
        token[:-1],
        token + "A",
        token[:-1] + "\x1c",
        token[:-1] + "é",
        token[:-1] + "=",
        "X\x1c",
        "../" + token[3:],
    ]:
        assert not well_formed(bad), repr(bad)
