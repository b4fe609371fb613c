"""The extraction worker process: `python -m docstore_indexer.adapters.extract_worker`.

Reads requests from stdin and answers on stdout, one at a time, for as long as its
parent keeps it. Each message is an 8-byte big-endian length and a payload:

  request:  JSON header {content_type, options}, then a second message with the raw bytes
  answer:   JSON {"text": …} or {"failure": …}

The parent kills the whole process group when a document takes too long, so whatever
this process started (tesseract, pdftoppm) dies with it. Answers are JSON, never pickle:
a worker that parsed hostile bytes is not trusted with code execution in its parent.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import struct
import subprocess
import sys
import time
from typing import BinaryIO

LENGTH = struct.Struct(">Q")


def read_message(stream: BinaryIO) -> bytes | None:
    head = stream.read(LENGTH.size)
    if len(head) < LENGTH.size:
        return None
    (size,) = LENGTH.unpack(head)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return payload


def write_message(stream: BinaryIO, payload: bytes) -> None:
    stream.write(LENGTH.pack(len(payload)) + payload)
    stream.flush()


def _limit_memory() -> None:
    megabytes = int(os.environ.get("DOCSTORE_EXTRACT_MEMORY_MB", "0") or 0)
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _fault(content_type: str) -> None:
    """Test hooks (only with DOCSTORE_EXTRACT_FAULTS=1): a hanging, crashing or greedy extractor."""
    if content_type == "application/x-docstore-hang":
        subprocess.Popen(["sleep", "600"])  # a child that must die with the worker
        time.sleep(600)
    elif content_type == "application/x-docstore-crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif content_type == "application/x-docstore-eat-memory":
        hoard = [bytearray(100_000_000) for _ in range(1000)]
        del hoard


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing a library prints may corrupt the answer stream
    from docstore_kit.observability import configure_logging

    # Its stderr is the indexer's: the same one-JSON-object lines (parsers log warnings too).
    environ = os.environ.get
    configure_logging("indexer", region=environ("REGION", ""), log_format=environ("LOG_FORMAT", "auto"))
    log = logging.getLogger("docstore_indexer.extract_worker")
    # Import the parsers once, before any document: the first request should not pay for it.
    import docx  # noqa: F401
    import openpyxl  # noqa: F401
    import pptx  # noqa: F401
    import pypdf  # noqa: F401
    from PIL import Image  # noqa: F401

    from docstore_indexer.adapters.extraction import extract_text
    from docstore_indexer.domain.extraction import ExtractionFailed, Options

    _limit_memory()
    faults = os.environ.get("DOCSTORE_EXTRACT_FAULTS") == "1"
    write_message(stdout, b'{"ready": true}')
    while True:
        header = read_message(stdin)
        data = read_message(stdin) if header is not None else None
        if header is None or data is None:
            return
        request = json.loads(header)
        options = Options(**{**request["options"], "deadline": time.monotonic() + request["timeout"]})
        try:
            if faults:
                _fault(request["content_type"])
            text = extract_text(data, request["content_type"], options)
            answer = {"text": text[: options.max_text_chars]}
        except ExtractionFailed as error:
            answer = {"failure": str(error)}
        except MemoryError:
            answer = {"failure": "extraction ran out of memory"}
        except RecursionError:
            answer = {"failure": "document nested too deeply"}
        except Exception as error:  # a parser bug on odd input: report it, keep serving
            log.exception("extractor_error")
            answer = {"failure": f"extractor error: {type(error).__name__}: {error}"[:300]}
        write_message(stdout, json.dumps(answer).encode())


if __name__ == "__main__":
    main()
