"""Sending mail through Amazon SES (moto locally) with boto3, off the event loop.

The endpoint and credentials come from boto3's standard configuration
(`AWS_ENDPOINT_URL_SES`, `AWS_ACCESS_KEY_ID`, ...). boto3's own retries are off for
this client: a retried `SendEmail` whose first response was lost would send the mail
twice, so retrying is left to the notification sweeper, which knows what was sent.
"""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from docstore_notify.domain.errors import MailRejected
from docstore_notify.domain.mail import Mail, mime_message

__all__ = ["MailRejected", "SesMailer", "make_ses_client"]

# SES answers these when this mail can never be sent as it is; retrying would not help.
PERMANENT_ERRORS = frozenset({"MessageRejected", "MailFromDomainNotVerifiedException", "InvalidParameterValue"})


def make_ses_client(*, region: str, connect_timeout: float, read_timeout: float) -> Any:
    return boto3.client(
        "ses",
        region_name=region,
        config=Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "total_max_attempts": 1},
        ),
    )


class SesMailer:
    def __init__(self, client: Any, mail_from: str) -> None:
        self.client = client
        self.mail_from = mail_from

    async def send(self, mail: Mail) -> str:
        """Send `mail`; returns SES's message id. Raises `MailRejected` for permanent refusals.

        `SendRawEmail`, not `SendEmail`: only a raw MIME message can carry the
        `List-Unsubscribe` headers. Recipients come from the message's To header.
        """
        try:
            raw = mime_message(mail, self.mail_from).as_bytes()
        except (ValueError, UnicodeError) as error:  # an address or header the email package refuses
            raise MailRejected(f"cannot build the message: {error}") from error
        try:
            response = await asyncio.to_thread(
                self.client.send_raw_email,
                Source=self.mail_from,
                RawMessage={"Data": raw},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in PERMANENT_ERRORS:
                raise MailRejected(str(error)) from error
            raise
        return str(response["MessageId"])

    async def verify_sender(self, address: str) -> None:
        """Ask SES to verify `address` (moto marks it verified at once; AWS mails a link)."""
        await asyncio.to_thread(self.client.verify_email_identity, EmailAddress=address)

    async def ping(self) -> None:
        """A cheap authenticated call, for readiness."""
        await asyncio.to_thread(self.client.get_send_quota)
