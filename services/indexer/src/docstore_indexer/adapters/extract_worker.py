"""The extraction worker process: `python -m docstore_indexer.adapters.extract_worker`.

Runs `process_pool.serve` (the framing, the memory cap, the failure rules) with the parsers:

  request:  JSON header {content_type, options, timeout}, then a message with the raw bytes
  answer:   JSON {"text": …} or {"failure": …}

The parent (`extractor.ExtractorPool`) kills the whole process group when a document takes too
long, so whatever this process started (tesseract, pdftoppm) dies with it.
"""

from __future__ import annotations

import time
from typing import Any


def _prepare() -> None:
    # Import the parsers once, before any document: the first request should not pay for it.
    import docx  # noqa: F401
    import openpyxl  # noqa: F401
    import pptx  # noqa: F401
    import pypdf  # noqa: F401
    from PIL import Image  # noqa: F401

    import docstore_indexer.adapters.extraction  # noqa: F401


def _extract(request: dict[str, Any], data: bytes) -> tuple[dict[str, Any], list[bytes]]:
    from docstore_indexer.adapters.extraction import extract_text
    from docstore_indexer.domain.extraction import Options

    options = Options(**{**request["options"], "deadline": time.monotonic() + request["timeout"]})
    text = extract_text(data, request["content_type"], options)
    return {"text": text[: options.max_text_chars]}, []


def main() -> None:
    from docstore_indexer.adapters.process_pool import serve
    from docstore_indexer.domain.extraction import ExtractionFailed

    serve("extract_worker", _extract, expected=ExtractionFailed, what="extraction", prepare=_prepare, error_detail=True)


if __name__ == "__main__":
    main()
