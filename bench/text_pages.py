"""What a text file's preview costs: the page drawn and both sizes encoded as lossless WebP (what
the indexer does since 28f3f19) beside lossy WebP q80 (what it did, and still does for photos),
in the same run, alternating, on the same pages. No server: the renderer runs in this process.

    uv run python bench/text_pages.py [--rounds 5] [--pages 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

from docstore_indexer.adapters.rendering import _text, encode_sizes
from docstore_indexer.domain.previews import RenderOptions


def page_text(n: int) -> bytes:
    """A page of minutes: 200 lines of about 60 characters (the preview shows the first 40)."""
    return "\n".join(f"line {i} of minutes {n}, with the marmalade budget approved" for i in range(200)).encode()


def measure(texts: list[bytes], options: RenderOptions, *, drawn: bool) -> tuple[float, int, int]:
    """CPU ms per preview (draw, scale, both encodes) and the small and large sizes in bytes."""
    started = time.process_time()
    for text in texts:
        small, large = encode_sizes(_text(text, options), options, drawn=drawn)
    return (time.process_time() - started) / len(texts) * 1000, len(small.data), len(large.data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="lossy then lossless, this many times")
    parser.add_argument("--pages", type=int, default=10, help="pages per measurement")
    parser.add_argument("--json", action="store_true", help="end with one JSON object of the figures")
    args = parser.parse_args()
    options = RenderOptions(deadline=time.monotonic() + 3600)
    texts = [page_text(n) for n in range(args.pages)]
    measure(texts[:1], options, drawn=True)  # the font loaded, Pillow's codecs imported
    runs: dict[str, list[float]] = {"lossy": [], "lossless": []}
    sizes: dict[str, tuple[int, int]] = {}
    for _ in range(args.rounds):
        for name, drawn in (("lossy", False), ("lossless", True)):
            ms, small, large = measure(texts, options, drawn=drawn)
            runs[name].append(round(ms, 1))
            sizes[name] = (small, large)
    for name, values in runs.items():
        print(f"{name:9} {values} ms CPU a preview; small {sizes[name][0]:,} B, large {sizes[name][1]:,} B")
    if args.json:
        print(json.dumps({"bench": "text_pages", "cpu_ms": runs, "bytes_small_large": sizes}))


if __name__ == "__main__":
    main()
