"""Preview rendering in worker processes that can really be stopped (`process_pool.KillablePool`).

`RenderPool` keeps a few `render_worker` processes warm and hands each version to an idle one,
as `ExtractorPool` does for text: past its time cap the worker's whole process group is killed
(the worker and the `ffmpeg`/`soffice` it started); a worker that dies (segfault, out of memory
under its address-space cap) is reported as a crash. Either way that one preview fails with a
reason, a fresh worker takes the dead one's place, and the service goes on.

No network: each render worker starts in a network namespace of its own (`unshare --net`; as a
user other than root with `--map-root-user`), which has only a loopback interface that is
down, so nothing it runs can open a connection, not even to this host's 127.0.0.1: a document
that links an external image (LibreOffice fetches those while converting) or a crafted video
fetches nothing. The worker checks its namespace itself; where no namespace can be made (a
container whose seccomp profile forbids `unshare`), Office documents are not rendered (they
get the typed icon), since LibreOffice is the renderer that follows links.

Low CPU priority: each render worker lowers its own priority (`niceness`, inherited by the
`ffmpeg`/`soffice` it starts), so on a busy machine rendering takes only the CPU that
extraction and the services' requests leave (measured with `bench/indexer.py`: rendering
every upload used about twice the CPU of extracting it, on the same two cores).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import asdict
from typing import Any

import structlog

from docstore_indexer.adapters.process_pool import KillablePool, Worker, WorkerCrashed, WorkerTimedOut
from docstore_indexer.domain.previews import NICENESS_ENV, PreviewFailed, Rendered, RenderOptions

log = structlog.get_logger(__name__)

WORKER_MODULE = "docstore_indexer.adapters.render_worker"


@functools.cache
def no_network_prefix() -> tuple[str, ...]:
    """The command that starts a process in a new network namespace here, or () when none can be made."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for command in ((unshare, "--net", "--"), (unshare, "--net", "--map-root-user", "--")):
        try:
            done = subprocess.run([*command, "true"], capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return command
    return ()


class RenderPool:
    """Up to `workers` renders at once, each in a process (without network) killed after its time cap."""

    def __init__(
        self,
        *,
        workers: int,
        options: RenderOptions,
        memory_mb: int = 2048,
        isolate_network: bool = True,
        niceness: int = 0,
    ) -> None:
        """`niceness`: the CPU niceness each worker sets itself (0-19; 0 leaves it as the service's)."""
        self.options = options
        prefix = no_network_prefix() if isolate_network else ()
        if isolate_network and not prefix:
            log.warning("render_network_sandbox_unavailable", effect="office documents get the typed icon")
        env = {NICENESS_ENV: str(min(max(niceness, 0), 19))}
        self.pool = KillablePool(WORKER_MODULE, workers=workers, memory_mb=memory_mb, prefix=prefix, env=env)
        self.size = self.pool.size

    def start(self) -> None:
        """The slots, and one worker started at once: the first thumbnail does not wait for it."""
        self.pool.warm_up()

    async def close(self) -> None:
        await self.pool.close()

    async def render(self, data: bytes, content_type: str, timeout: float) -> list[Rendered]:
        """The small and large previews of `data`, or `PreviewFailed` with the reason."""
        return await self._call({}, data, content_type, timeout)

    async def render_file(self, path: str, content_type: str, timeout: float) -> list[Rendered]:
        """The same for a file on this host's disk (a video streamed from S3): the worker reads
        it there, its bytes never pass through this process or the pipe."""
        return await self._call({"path": path}, b"", content_type, timeout)

    async def _call(self, extra: dict[str, Any], data: bytes, content_type: str, timeout: float) -> list[Rendered]:
        header = {"content_type": content_type, "options": asdict(self.options), "timeout": timeout, **extra}

        async def exchange(worker: Worker) -> list[Rendered]:
            answer = await worker.request(header, data)
            if "failure" in answer:
                raise PreviewFailed(str(answer["failure"]))
            rendered = []
            for image in answer["images"]:
                payload = await worker.read()
                rendered.append(
                    Rendered(
                        size=str(image["size"]),
                        width=int(image["width"]),
                        height=int(image["height"]),
                        content_type=str(image["content_type"]),
                        extension=str(image["extension"]),
                        data=payload,
                    )
                )
            return rendered

        try:
            return await self.pool.call(exchange, timeout)
        except WorkerTimedOut:
            raise PreviewFailed(f"render timed out after {timeout:g} s") from None
        except WorkerCrashed as crash:
            raise PreviewFailed(f"renderer crashed ({crash.exit})") from None
