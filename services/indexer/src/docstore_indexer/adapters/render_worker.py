"""The preview render worker process: `python -m docstore_indexer.adapters.render_worker`.

The same framing as the extraction worker (`extract_worker.py`: 8-byte big-endian length,
payload), one request at a time:

  request:  JSON header {content_type, options, timeout}, then a message with the raw bytes
  answer:   JSON {"images": [{size, width, height, content_type, extension, length}, ...]}
            followed by one message per image with its encoded bytes, or JSON {"failure": ...}

Answers are JSON and image bytes, never pickle: a worker that decoded hostile bytes is not
trusted with code execution in its parent. The parent kills the whole process group past the
time cap, so an `ffmpeg` or `soffice` started here dies with it; the address-space cap
(`DOCSTORE_EXTRACT_MEMORY_MB`) is inherited by them too.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

from docstore_indexer.adapters.extract_worker import _fault, _limit_memory, read_message, write_message


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing a library prints may corrupt the answer stream
    from docstore_kit.observability import configure_logging

    environ = os.environ.get
    configure_logging("indexer", region=environ("REGION", ""), log_format=environ("LOG_FORMAT", "auto"))
    log = logging.getLogger("docstore_indexer.render_worker")
    # Import the decoders once, before any document: the first request should not pay for it.
    import pypdfium2  # type: ignore[import-untyped]  # noqa: F401
    from PIL import Image  # noqa: F401

    from docstore_indexer.adapters.rendering import render
    from docstore_indexer.domain.previews import PreviewFailed, RenderOptions

    _limit_memory()
    faults = os.environ.get("DOCSTORE_EXTRACT_FAULTS") == "1"
    write_message(stdout, b'{"ready": true}')
    while True:
        header = read_message(stdin)
        data = read_message(stdin) if header is not None else None
        if header is None or data is None:
            return
        request = json.loads(header)
        options = RenderOptions(**{**request["options"], "deadline": time.monotonic() + request["timeout"]})
        images: list[bytes] = []
        try:
            if faults:
                _fault(request["content_type"])
            rendered = render(data, request["content_type"], options)
            answer: dict[str, object] = {
                "images": [
                    {
                        "size": image.size,
                        "width": image.width,
                        "height": image.height,
                        "content_type": image.content_type,
                        "extension": image.extension,
                        "length": len(image.data),
                    }
                    for image in rendered
                ]
            }
            images = [image.data for image in rendered]
        except PreviewFailed as error:
            answer = {"failure": str(error)}
        except MemoryError:
            answer = {"failure": "render ran out of memory"}
        except RecursionError:
            answer = {"failure": "document nested too deeply"}
        except Exception as error:  # a decoder bug on odd input: report it, keep serving
            log.exception("render_error")
            answer = {"failure": f"renderer error: {type(error).__name__}"}
        write_message(stdout, json.dumps(answer).encode())
        for image in images:
            write_message(stdout, image)


if __name__ == "__main__":
    main()
