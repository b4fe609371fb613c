"""The preview render worker process: `python -m docstore_indexer.adapters.render_worker`.

Runs `process_pool.serve` (the framing, the memory cap, the failure rules) with the renderers:

  request:  JSON header {content_type, options, timeout[, path]}, then a message with the raw
            bytes (empty when `path` names a file to read instead: a video streamed to disk)
  answer:   JSON {"images": [{size, width, height, content_type, extension, length}, ...]}
            followed by one message per image with its encoded bytes, or JSON {"failure": ...}

The parent (`renderer.RenderPool`) starts it in a network namespace of its own and kills the
whole process group past the time cap, so an `ffmpeg` or `soffice` started here has no network
and dies with it; the address-space cap is inherited by them too.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from docstore_indexer.domain.previews import NETWORK_ISOLATED_ENV


def network_isolated() -> bool:
    """Whether this process is in a network namespace with no interface but loopback (read from
    the kernel, not taken from the parent's word)."""
    try:
        with open("/proc/self/net/dev") as table:
            names = [line.split(":", 1)[0].strip() for line in table.readlines()[2:] if ":" in line]
    except OSError:
        return False
    return names == ["lo"]


def _prepare() -> None:
    # Import the decoders once, before any document: the first request should not pay for it.
    import pypdfium2  # type: ignore[import-untyped]  # noqa: F401
    from PIL import Image  # noqa: F401

    import docstore_indexer.adapters.rendering  # noqa: F401

    os.environ[NETWORK_ISOLATED_ENV] = "1" if network_isolated() else "0"


def _fault(request: dict[str, Any], data: bytes) -> None:
    """A test hook (with the pool's fault hooks on): try to connect to `host:port` in `data`."""
    if request.get("content_type") == "application/x-docstore-connect":
        import socket

        host, port = data.decode().rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as error:
            raise ConnectionError(f"no connection: {error}") from None
        raise ConnectionError("connected")


def _render(request: dict[str, Any], data: bytes) -> tuple[dict[str, Any], list[bytes]]:
    from docstore_indexer.adapters.process_pool import FAULTS_ENV
    from docstore_indexer.adapters.rendering import render, render_file
    from docstore_indexer.domain.previews import PreviewFailed, RenderOptions

    options = RenderOptions(**{**request["options"], "deadline": time.monotonic() + request["timeout"]})
    if os.environ.get(FAULTS_ENV) == "1":
        try:
            _fault(request, data)
        except ConnectionError as error:
            raise PreviewFailed(str(error)) from None
    if request.get("path"):
        rendered = render_file(str(request["path"]), request["content_type"], options)
    else:
        rendered = render(data, request["content_type"], options)
    answer = {
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
    return answer, [image.data for image in rendered]


def lower_priority() -> None:
    """The niceness the parent asked for (`NICENESS_ENV`), before the first render: what this
    process starts (ffmpeg, soffice) inherits it.

    Where the kernel groups processes by session for scheduling (`sched_autogroup`, on in most
    distributions' kernels), a process's niceness only ranks it within its session, and each
    worker is a session of its own (its process group is killed as one): so the session's
    group gets the niceness too, or it would keep an equal share beside every other session."""
    from docstore_indexer.domain.previews import NICENESS_ENV

    wanted = int(os.environ.get(NICENESS_ENV, "0") or 0)
    if wanted > 0:
        os.nice(wanted)
        with contextlib.suppress(OSError):  # no autogroups here (or not allowed): the niceness alone
            with open("/proc/self/autogroup", "w") as group:
                group.write(str(wanted))


def main() -> None:
    from docstore_indexer.adapters.process_pool import serve
    from docstore_indexer.domain.previews import PreviewFailed

    lower_priority()
    serve("render_worker", _render, expected=PreviewFailed, what="render", prepare=_prepare)


if __name__ == "__main__":
    main()
