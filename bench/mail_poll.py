"""What one poll of the tests' sent mail costs as mail piles up in moto (issue 35).

Sends raw mails to the moto at `--endpoint` (start one with `.servers/venv/bin/moto_server
-p PORT`; a shared one would keep the mails) until it holds each of `--counts`, and times,
back to back: the poll the helpers made before (fetch `/moto-api/data.json`, parse every mail),
`docstore_devplatform.e2e.sent_mails` when nothing was sent since its last poll (one
`GetSendStatistics` per sending region), and the same once one more mail was sent (the dump
again, parsing only the new mail). Medians of `--polls` polls each.

    uv run python bench/mail_poll.py --endpoint http://127.0.0.1:5000 [--counts 0 1000 2000] [--json]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import statistics
import time

import boto3
import httpx

from docstore_devplatform import e2e

SENDER = "bench@example.com"
ADDRESS = "user-0@example.com"


def old_poll(endpoint: str, address: str) -> list[dict]:
    data = httpx.get(f"{endpoint}/moto-api/data.json", timeout=60).json()
    found = []
    for raw in data.get("ses", {}).get("RawMessage", []):
        if address in raw["destinations"]:
            found.append(email.message_from_string(raw["raw_data"], policy=email.policy.default))
    return found


def timed(poll) -> float:
    started = time.perf_counter()
    poll()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--counts", type=int, nargs="+", default=[0, 1000, 2000])
    parser.add_argument("--polls", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
        os.environ.setdefault(name, value)
    ses = boto3.client("ses", region_name=e2e.REGION_A, endpoint_url=args.endpoint)
    ses.verify_email_identity(EmailAddress=SENDER)
    raw = "From: {f}\nTo: {t}\nSubject: bench {i}\nContent-Type: text/plain\n\n" + "A line of a mail body.\n" * 40

    def send(i: int) -> None:
        to = f"user-{i}@example.com"
        ses.send_raw_email(Source=SENDER, Destinations=[to], RawMessage={"Data": raw.format(f=SENDER, t=to, i=i)})

    sent, rows = 0, []
    for count in args.counts:
        while sent < count:
            send(sent)
            sent += 1
        old = statistics.median(timed(lambda: old_poll(args.endpoint, ADDRESS)) for _ in range(args.polls))
        e2e.sent_mails(args.endpoint, ADDRESS)
        unchanged = statistics.median(timed(lambda: e2e.sent_mails(args.endpoint, ADDRESS)) for _ in range(args.polls))
        moved = []
        for _ in range(args.polls):
            send(sent)
            sent += 1
            moved.append(timed(lambda: e2e.sent_mails(args.endpoint, ADDRESS)))
        row = {
            "mails": count,
            "old_s": old,
            "new_unchanged_s": unchanged,
            "new_one_more_mail_s": statistics.median(moved),
        }
        rows.append(row)
        print(
            f"{count:>5} mails: before {old * 1000:7.1f} ms a poll; now {unchanged * 1000:6.1f} ms when nothing "
            f"was sent, {row['new_one_more_mail_s'] * 1000:7.1f} ms after one more mail"
        )
    if args.json:
        print(json.dumps({"bench": "mail_poll", "rows": rows}))


if __name__ == "__main__":
    main()
