"""One upload is one trace: gateway → upload → Kafka → metadata → quota, indexer and notify.

The e2e system exports every service's spans to a local OTLP receiver (`System.traces`, see
docstore_devplatform.traces). The client sends one W3C `traceparent` with the grant and the
completion, as the web app does for one user action, so the whole upload is found by that
trace id.

Why a second version: notify takes part in an upload only through `file.modified`, which
metadata emits for a new version of an existing document (a first upload makes
`file.version-recorded` alone, which notify does not consume). So the traced upload is
version 2 of a document: upload.completed → metadata (file.version-recorded, file.modified)
→ quota (upload.completed, file.modified), indexer (file.version-recorded, then
document.indexed on Premium) and notify (file.modified).

And no event leaves without a `traceparent`, background loops' included: every record on every
event topic carries one; the watcher's `upload.expired` continues its grant's trace, and the
indexing worker's outcome (`document.indexed` or `document.index-failed`) its upload's; several
of one account's in one batch go as one `document.batch-indexed` in the worker's batch trace,
which links to each upload's.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import httpx

from docstore_devplatform.e2e import sample_request
from docstore_devplatform.traces import read_spans, render_trace, spans_of_trace
from docstore_events import DocumentIndexed, DocumentIndexFailed, DocumentsIndexed, UploadExpired
from docstore_events.envelope import headers_to_dict
from docstore_events.topics import DEAD_LETTER_SUFFIX, all_topics

from .conftest import System, eventually, sign_up, upload

# Every service that takes part in one upload of a new version.
EXPECTED = {"gateway", "upload", "metadata", "quota", "indexer", "notify"}


async def test_one_upload_is_one_trace_across_kafka(api, system: System) -> None:
    assert system.traces is not None
    start = system.traces.stat().st_size  # the spans of earlier tests are not read again and again
    user = await sign_up(api, plan="premium")
    first = await upload(api, user, "plan.txt", b"version one\n")

    async def at_version_1() -> bool:
        response = await api.get(f"/v1/documents/{first['document_id']}", headers=user.auth)
        return response.status_code == 200 and response.json()["version"] == 1

    await eventually(at_version_1, timeout=60)

    trace_id = secrets.token_hex(16)
    client = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    data = b"version two!\n"
    grant = await api.post(
        "/v1/uploads",
        headers=user.auth | client,
        json={
            "filename": "plan.txt",
            "size": len(data),
            "content_type": "text/plain",
            "document_id": first["document_id"],
            "base_version": 1,
        },
    )
    assert grant.status_code == 201, grant.text
    form = grant.json()["form"]
    async with httpx.AsyncClient() as s3:
        posted = await s3.post(form["url"], data=form["fields"], files={"file": ("plan.txt", data, "text/plain")})
    assert posted.status_code == 201, posted.text
    done = await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=user.auth | client)
    assert done.status_code == 200, done.text

    def consumed_by(spans: list[dict[str, Any]], service: str, topic_end: str) -> bool:
        return any(s["service"] == service and s["kind"] == "consumer" and topic_end in s["name"] for s in spans)

    def orphans(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Spans whose parent is not in the trace, but the client's requests to the gateway."""
        ids = {span["span_id"] for span in spans}
        client_span = client["traceparent"][36:52]
        return [s for s in spans if s["parent_span_id"] not in ids and s["parent_span_id"] != client_span]

    async def whole_trace() -> list[dict[str, Any]] | None:
        assert system.traces is not None
        spans = spans_of_trace(read_spans(system.traces, offset=start), trace_id)
        complete = (
            {span["service"] for span in spans} >= EXPECTED
            and not orphans(spans)  # every parent has arrived (spans leave in batches)
            and consumed_by(spans, "notify", "file.modified")
            and consumed_by(spans, "quota", "upload.completed")
            and consumed_by(spans, "quota", "file.modified")  # the metadata -> quota hop asserted below
            and consumed_by(spans, "indexer", "file.version-recorded")
            and any(s["service"] == "indexer" and "document.indexed" in s["name"] for s in spans)
        )
        return spans if complete else None

    try:
        spans = await eventually(whole_trace, timeout=90)
    except AssertionError:
        spans = None
    if not spans:
        found = spans_of_trace(read_spans(system.traces, offset=start), trace_id)
        raise AssertionError(f"trace {trace_id} incomplete:\n{render_trace(found)}")
    by_id = {span["span_id"]: span for span in spans}

    # Across Kafka, each consumer's span is the child of the producer span that sent the event,
    # in the service that sent it: the trace is linked by parents, not only by its id.
    hops: set[tuple[str, str, str]] = set()
    for span in spans:
        parent = by_id.get(span["parent_span_id"])
        if span["kind"] == "consumer" and parent is not None:
            assert parent["kind"] == "producer", render_trace(spans)
            assert parent["name"].replace(" publish", "") == span["name"].replace(" process", ""), render_trace(spans)
            hops.add((parent["service"], span["service"], span["name"].rsplit(".", 1)[0].split()[0]))
    senders_to = {(sender, receiver) for sender, receiver, _ in hops}
    assert {("upload", "metadata"), ("upload", "quota"), ("metadata", "quota")} <= senders_to, hops
    assert {("metadata", "indexer"), ("metadata", "notify")} <= senders_to, hops
    # The client's two requests are the roots of it all: the gateway's server spans hang below
    # the client's span, and every other span below one of them.
    roots = [s for s in spans if s["parent_span_id"] not in by_id]
    assert len(roots) == 2 and {s["service"] for s in roots} == {"gateway"}, render_trace(spans)
    assert orphans(spans) == [], render_trace(spans)


TRACEPARENT = re.compile(r"^00-(?!0{32})([0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")


async def every_record(bootstrap: str, topics: list[str]) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """(topic, headers, data) of every record on `topics` up to their current ends, read
    without a consumer group."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        await consumer.topics()  # the cluster's metadata of every topic
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[tuple[str, dict[str, str], dict[str, Any]]] = []

        async def read_to_the_end() -> bool:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, found in batch.items():
                records.extend((tp.topic, headers_to_dict(r.headers), json.loads(r.value or b"{}")) for r in found)
            positions = [await consumer.position(tp) for tp in partitions]
            return all(at >= ends[tp] for at, tp in zip(positions, partitions, strict=True))

        await eventually(read_to_the_end, timeout=90)
        return records
    finally:
        await consumer.stop()


async def test_no_event_leaves_without_a_traceparent(api, system: System, endpoints) -> None:
    """The issue found `traceparent` missing on 11 of 24 `document.indexed`, 2 of 5
    `document.index-failed` and every `upload.expired`: all three come from background loops."""
    assert system.traces is not None
    api.event_hooks["request"].append(sample_request)  # the spans of these requests are read below
    user = await sign_up(api, plan="premium")
    # The watcher expires a grant nobody used; the grant is made in the client's trace.
    grant_trace = secrets.token_hex(16)
    grant = await api.post(
        "/v1/uploads",
        headers=user.auth | {"traceparent": f"00-{grant_trace}-{secrets.token_hex(8)}-01"},
        json={"filename": "never.txt", "size": 5, "content_type": "text/plain", "expires_in": 1},
    )
    assert grant.status_code == 201, grant.text

    # The indexing worker reads an upload's text: a readable one and one that is no PDF at all.
    readable = await upload(api, user, "notes.txt", b"words to index\n")
    broken = await upload(api, user, "broken.pdf", b"%PDF-1.7 this is not a pdf", content_type="application/pdf")
    documents = {readable["document_id"], broken["document_id"]}

    topics = [t for t in all_topics("") if not t.endswith(DEAD_LETTER_SUFFIX)]
    outcomes = {DocumentIndexed.topic(""), DocumentIndexFailed.topic(""), DocumentsIndexed.topic("")}

    def outcome_documents(data: dict[str, Any]) -> set[str]:
        """The documents an outcome record is about (one, or a batch's)."""
        return {o.get("document_id") for o in data.get("outcomes", [data])}

    async def all_emitted() -> list[tuple[str, dict[str, str], dict[str, Any]]] | None:
        records = await every_record(endpoints.kafka_bootstrap, topics)
        expired = [
            r for r in records if r[0] == UploadExpired.topic("") and r[2].get("upload_id") == grant.json()["upload_id"]
        ]
        indexed = {document for r in records if r[0] in outcomes for document in outcome_documents(r[2])}
        return records if expired and documents <= indexed else None

    records = await eventually(all_emitted, timeout=120)
    missing = [
        f"{topic}: {data}" for topic, headers, data in records if not TRACEPARENT.match(headers.get("traceparent", ""))
    ]
    assert not missing, f"{len(missing)} of {len(records)} records without a valid traceparent:\n" + "\n".join(
        missing[:10]
    )
    topics_seen = {topic for topic, _, _ in records}
    assert UploadExpired.topic("") in topics_seen and topics_seen & outcomes

    # upload.expired continues the trace of its grant.
    (expired,) = [
        h for t, h, d in records if t == UploadExpired.topic("") and d.get("upload_id") == grant.json()["upload_id"]
    ]
    assert expired["traceparent"].split("-")[1] == grant_trace
    # Each indexing outcome continues its upload's trace: the gateway's spans of that upload are in it.
    for topic, headers, data in records:
        if topic in outcomes and data.get("document_id") in documents:
            trace_id = headers["traceparent"].split("-")[1]

            async def joined(trace_id: str = trace_id) -> bool:
                assert system.traces is not None
                return any(s["service"] == "gateway" for s in spans_of_trace(read_spans(system.traces), trace_id))

            await eventually(joined, timeout=60)
