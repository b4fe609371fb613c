"""Prometheus metrics of previews.

`docstore_indexer_preview_bytes{region}` is sampled from MongoDB (the sum over every ready
preview), so every replica serves the same region-wide figure: the operator dashboard shows
it beside quota's stored bytes, which never include previews. The render counters and
histogram count what this process did (sum over replicas).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from docstore_indexer.domain.previews import PreviewMetrics

preview_bytes = Gauge(
    "docstore_indexer_preview_bytes", "Bytes of stored previews (both sizes), not counted by quota", ["region"]
)
renders = Counter("docstore_indexer_previews_total", "Previews rendered, by outcome (ready, failed)", ["outcome"])
render_seconds = Histogram(
    "docstore_indexer_preview_seconds",
    "Time to read, render and store one version's previews",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
backfill_documents = Gauge(
    "docstore_indexer_preview_backfill_documents", "Preview backfill progress: documents walked and total", ["of"]
)


def prometheus_metrics(region: str) -> PreviewMetrics:
    """The hooks `Previews` calls, writing to this process's Prometheus registry."""

    def rendered(outcome: str, seconds: float) -> None:
        renders.labels(outcome).inc()
        render_seconds.observe(seconds)

    def stored(total: int) -> None:
        preview_bytes.labels(region).set(total)

    def backfill(done: int, total: int) -> None:
        backfill_documents.labels("done").set(done)
        backfill_documents.labels("total").set(total)

    return PreviewMetrics(rendered=rendered, stored_bytes=stored, backfill=backfill)
