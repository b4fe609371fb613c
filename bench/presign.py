"""What a pinned grant's presigned PUT costs upload: `Storage.put_url` signed by its `PutSigner`
(botocore's S3 query signer on a request the adapter builds, since issue 35) beside the same call
signed by the client's `generate_presigned_url` (what it did), in the same run, alternating, on the
same grants. No server: signing needs no network.

    uv run python bench/presign.py [--rounds 5] [--urls 2000] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config

from docstore_upload.adapters.storage import Storage
from docstore_upload.domain.grants import Grant


def grants(count: int) -> list[Grant]:
    """Grants as a batch of small files makes them: a key, name, type and sha256 of each file."""
    expires = datetime.now(UTC) + timedelta(hours=1)
    return [
        Grant(
            upload_id=f"up-{n}",
            account_id="acc-1",
            document_id=f"doc-{n}",
            key=f"us-west-2/acc-1/doc-{n}/up-{n}",
            filename=f"notes {n}.txt",
            content_type="text/plain",
            declared_size=10_240,
            title=None,
            tags=[],
            path="/bench",
            expires_at=expires,
            pinned_sha256=hashlib.sha256(str(n).encode()).hexdigest(),
        )
        for n in range(count)
    ]


def measure(storage: Storage, batch: list[Grant]) -> float:
    """CPU ms per URL."""
    started = time.process_time()
    for grant in batch:
        storage.put_url(grant, expires_in=900)
    return (time.process_time() - started) / len(batch) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="the client's way then the quick one, this many times")
    parser.add_argument("--urls", type=int, default=2000, help="URLs per measurement")
    parser.add_argument("--json", action="store_true", help="end with one JSON object of the figures")
    args = parser.parse_args()
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="us-west-2"
    )
    signer = session.client(
        "s3",
        endpoint_url="http://127.0.0.1:8333",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    storage = Storage(None, signer, "docstore-us-west-2")
    batch = grants(args.urls)
    measure(storage, batch[:10])  # the client's service model and endpoint rules loaded
    runs: dict[str, list[float]] = {"generate_presigned_url": [], "put_signer": []}
    for _ in range(args.rounds):
        for name, quick in (("generate_presigned_url", False), ("put_signer", True)):
            storage.put_signer.usable = quick
            runs[name].append(round(measure(storage, batch), 3))
    for name, values in runs.items():
        print(f"{name:22} {values} ms CPU a URL")
    if args.json:
        print(json.dumps({"bench": "presign", "cpu_ms_per_url": runs}))


if __name__ == "__main__":
    main()
