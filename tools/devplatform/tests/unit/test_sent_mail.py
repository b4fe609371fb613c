"""`docstore_devplatform.e2e.SentMail`: the test suites' cheap read of moto's sent mail (issue 35).

moto counts a mail (`GetSendStatistics`) before it stores it (`/moto-api/data.json`); these tests
play that order with a fake count and dump, so the cache's trust rule is proven without a server.
"""

from __future__ import annotations

from email.message import EmailMessage

from docstore_devplatform.e2e import SentMail


def raw_row(mail_id: str, to: str, subject: str = "Hello") -> dict:
    message = EmailMessage()
    message["Subject"] = subject
    message["To"] = to
    message.set_content(f"body of {mail_id}")
    return {"id": mail_id, "destinations": [to], "raw_data": message.as_string()}


class FakeMoto:
    """moto's SES as the cache sees it: a recipient count and the stored mails, which may lag it."""

    def __init__(self) -> None:
        self.counted = 0
        self.stored: list[dict] = []
        self.dumps = 0

    def count(self) -> int:
        return self.counted

    def dump(self) -> dict:
        self.dumps += 1
        return {"RawMessage": list(self.stored)}


def subjects(cache: SentMail, address: str) -> list[str]:
    return [mail()["subject"] for to, _, mail in cache.read() if to(address)]


def test_a_mail_counted_but_not_yet_stored_is_found_at_a_later_read() -> None:
    moto = FakeMoto()
    cache = SentMail(moto.count, moto.dump)
    moto.counted = 1  # send_raw_email has counted the mail ...
    assert subjects(cache, "a@example.com") == []  # ... and the dump was taken before it stored it
    moto.stored.append(raw_row("m1", "a@example.com", "Verify"))  # stored; the count does not move
    assert subjects(cache, "a@example.com") == ["Verify"]


def test_the_dump_is_fetched_only_when_the_count_moved() -> None:
    moto = FakeMoto()
    cache = SentMail(moto.count, moto.dump)
    moto.counted, moto.stored = 1, [raw_row("m1", "a@example.com")]
    for _ in range(5):
        assert subjects(cache, "a@example.com") == ["Hello"]
    assert moto.dumps == 1
    moto.counted, moto.stored = 2, [*moto.stored, raw_row("m2", "b@example.com", "Other")]
    assert subjects(cache, "b@example.com") == ["Other"]
    assert subjects(cache, "a@example.com") == ["Hello"]
    assert moto.dumps == 2


def test_a_dump_holding_more_than_the_count_is_not_trusted() -> None:
    """A mail the count did not see (stored after the count was read, or sent from a region that is
    not counted): the dump is fetched again at every read until the count matches."""
    moto = FakeMoto()
    cache = SentMail(moto.count, moto.dump)
    moto.stored = [raw_row("m1", "a@example.com")]
    subjects(cache, "a@example.com")
    subjects(cache, "a@example.com")
    assert moto.dumps == 2
    moto.counted = 1
    subjects(cache, "a@example.com")
    subjects(cache, "a@example.com")
    assert moto.dumps == 3


def test_plain_send_email_rows_count_every_recipient_and_have_no_headers() -> None:
    moto = FakeMoto()
    cache = SentMail(moto.count, lambda: {"Message": [plain]})
    plain = {
        "id": "p1",
        "subject": "Plain",
        "body": "text",
        "destinations": {"ToAddresses": ["a@example.com"], "CcAddresses": ["c@example.com"], "BccAddresses": []},
    }
    moto.counted = 2
    [(to, recipients, mail)] = cache.read()
    assert (to("a@example.com"), to("c@example.com"), recipients) == (True, False, 2)
    assert mail() == {"id": "p1", "subject": "Plain", "text": "text", "html": "", "body": "text", "headers": None}
    assert cache.counted == 2
