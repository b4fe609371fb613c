"""Preview rendering of every supported format, through the real render worker processes
(time and memory caps), from files made in the test: size, type and non-blank pixels; bombs,
corrupt and truncated files fail that one preview with a reason."""

from __future__ import annotations

import asyncio
import io
import os
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
import zipfile
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from PIL import Image, ImageDraw, ImageStat

from docstore_devplatform.documents import docx_bytes, make_pdf, png_bomb, pptx_bytes, zip_bomb_docx
from docstore_indexer.adapters.renderer import RenderPool, no_network_prefix
from docstore_indexer.domain.previews import UNSUPPORTED, PreviewFailed, Rendered, RenderOptions

pytestmark = pytest.mark.integration

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


@pytest_asyncio.fixture(scope="module")
async def pool() -> AsyncIterator[RenderPool]:
    """One pool for the module, as the service keeps one for all its renders: a test that makes
    a render fail (bomb, corrupt file, time cap) checks that the next render still works, as the
    following tests do too. A worker per test cost a cold start (imports) each."""
    renderer = RenderPool(workers=1, options=RenderOptions(), memory_mb=2048)
    yield renderer
    await renderer.close()


def picture(fmt: str, size: tuple[int, int] = (1600, 1200), **save: object) -> bytes:
    """A white picture with a red block in its top-left quarter."""
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 2, size[1] // 2), fill=(220, 0, 0))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def decoded(image: Rendered) -> Image.Image:
    opened = Image.open(io.BytesIO(image.data))
    opened.load()
    assert opened.size == (image.width, image.height)
    assert Image.MIME[opened.format or ""] == image.content_type
    return opened.convert("RGB")


def assert_previews(rendered: list[Rendered], *, landscape: bool | None = None) -> list[Image.Image]:
    """Two sizes, the stated type and dimensions, longest side within the size, pixels not blank."""
    assert [image.size for image in rendered] == ["small", "large"]
    small, large = rendered
    assert max(small.width, small.height) <= 256 and max(large.width, large.height) <= 1024
    assert max(large.width, large.height) > max(small.width, small.height) or max(large.width, large.height) <= 256
    images = []
    for image in rendered:
        assert image.content_type == "image/webp" and image.extension == "webp"
        opened = decoded(image)
        extrema = opened.convert("L").getextrema()
        assert extrema[1] - extrema[0] > 50, f"blank {image.size} preview: {extrema}"
        if landscape is not None:
            assert (opened.width > opened.height) == landscape
        images.append(opened)
    return images


def red_corner(image: Image.Image) -> str:
    """Which quarter of `image` is mostly red."""
    w, h = image.size
    quarters = {
        "top-left": (0, 0, w // 2, h // 2),
        "top-right": (w // 2, 0, w, h // 2),
        "bottom-left": (0, h // 2, w // 2, h),
        "bottom-right": (w // 2, h // 2, w, h),
    }
    reddest = max(
        quarters,
        key=lambda q: ImageStat.Stat(image.crop(quarters[q])).mean[0] - ImageStat.Stat(image.crop(quarters[q])).mean[1],
    )
    return reddest


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("TIFF", "image/tiff"),
    ],
)
async def test_images(pool: RenderPool, fmt: str, content_type: str) -> None:
    rendered = await pool.render(picture(fmt), content_type, 30)
    small, large = assert_previews(rendered, landscape=True)
    assert large.size == (1024, 768) and small.size == (256, 192)
    assert red_corner(large) == "top-left"


async def test_exif_rotated_jpeg_is_shown_upright(pool: RenderPool) -> None:
    # Stored landscape with "rotate 90° clockwise to display" (orientation 6): shown portrait,
    # the red block (top-left as stored) ends up top-right.
    exif = Image.Exif()
    exif[0x0112] = 6
    rendered = await pool.render(picture("JPEG", exif=exif.tobytes()), "image/jpeg", 30)
    small, large = assert_previews(rendered, landscape=False)
    assert large.size == (768, 1024)
    assert red_corner(large) == "top-right"


async def test_heic(pool: RenderPool) -> None:
    import pillow_heif

    source = Image.new("RGB", (1200, 800), "white")
    ImageDraw.Draw(source).rectangle((0, 0, 600, 400), fill=(220, 0, 0))
    out = io.BytesIO()
    pillow_heif.from_pillow(source).save(out, quality=60)
    rendered = await pool.render(out.getvalue(), "image/heic", 30)
    small, large = assert_previews(rendered, landscape=True)
    assert large.size == (1024, 683)
    assert red_corner(large) == "top-left"


async def test_pdf_first_page(pool: RenderPool) -> None:
    pdf = make_pdf(["First page: the marmalade budget", "Second page"], size=48)
    rendered = await pool.render(pdf, "application/pdf", 30)
    small, large = assert_previews(rendered, landscape=False)
    assert max(large.size) == 1024


def make_video(path: Path, size: str = "640x360", seconds: int = 3) -> bytes:
    """A short MP4 of ffmpeg's test pattern."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size={size}:rate=10"]
        + ["-pix_fmt", "yuv420p", str(path)],
        check=True,
    )
    return path.read_bytes()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (scripts/bootstrap installs it)")
async def test_video_frame(pool: RenderPool, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(make_video(video))
    rendered = await pool.render(video.read_bytes(), "video/mp4", 30)
    small, large = assert_previews(rendered, landscape=True)
    assert large.size == (640, 360)  # never enlarged
    assert len(set(large.getcolors(1_000_000) or [])) > 10  # the test pattern's colours, not one flat colour


@pytest.mark.parametrize("content_type", ["text/plain", "text/markdown; charset=utf-8", "text/csv"])
async def test_text_first_lines(pool: RenderPool, content_type: str) -> None:
    text = "# Minutes\n\nThe marmalade budget was approved.\n" + "\n".join(f"line {n}" for n in range(200))
    rendered = await pool.render(text.encode(), content_type, 30)
    small, large = assert_previews(rendered, landscape=False)
    assert large.size == (768, 1024)


@pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice is not installed (scripts/bootstrap installs it)"
)
@pytest.mark.parametrize(
    ("content_type", "data"),
    [(DOCX, docx_bytes(["The marmalade budget"] * 10, heading="Report")), (PPTX, pptx_bytes("Slide", "Body"))],
)
async def test_office_first_page(pool: RenderPool, content_type: str, data: bytes) -> None:
    rendered = await pool.render(data, content_type, 60)
    assert_previews(rendered, landscape=content_type == PPTX)


async def test_types_without_renderer_are_unsupported(pool: RenderPool) -> None:
    for content_type in ("application/zip", "application/octet-stream", "application/msword", "text/html"):
        with pytest.raises(PreviewFailed, match=UNSUPPORTED):
            await pool.render(b"PK\x03\x04 something", content_type, 30)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header claims `width` x `height` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 10_000))
        + chunk(b"IEND", b"")
    )


async def test_decompression_bomb_is_refused(pool: RenderPool) -> None:
    bomb = png_claiming(50_000, 50_000)
    assert len(bomb) < 5_000
    with pytest.raises(PreviewFailed, match="image too large"):
        await pool.render(bomb, "image/png", 30)
    # A real one (every pixel there, 300 KB compressed) too, and the worker goes on afterwards.
    with pytest.raises(PreviewFailed, match="image too large"):
        await pool.render(png_bomb(50_000, 50_000), "image/png", 30)
    assert_previews(await pool.render(picture("PNG"), "image/png", 30))


async def test_zip_bomb_office_file_is_refused(pool: RenderPool) -> None:
    with pytest.raises(PreviewFailed, match="zip bomb"):
        await pool.render(zip_bomb_docx(), DOCX, 30)


@pytest.mark.parametrize(
    ("content_type", "data", "reason"),
    [
        ("image/jpeg", picture("JPEG")[:2000], "truncated"),
        ("image/png", picture("PNG")[:300], "truncated"),
        ("image/png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, "corrupt or truncated image"),
        ("image/png", b"garbage, not a picture" * 20, "not a readable image"),
        ("application/pdf", make_pdf(["hello"])[:200], "PDF"),
        ("application/pdf", b"%PDF-1.4\n" + b"nonsense" * 40, "PDF"),
        ("video/mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500, "video"),
        ("image/jpeg", b"", "empty file"),
        # A playlist posing as a video: ffmpeg must not follow it to a URL or a local file.
        ("video/mp4", b"#EXTM3U\n#EXTINF:10.0,\nhttp://127.0.0.1:9/x.ts\n#EXTINF:10.0,\n/etc/passwd\n", "video"),
        ("video/x-matroska", b"ffconcat version 1.0\nfile /etc/passwd\n", "video"),
    ],
)
async def test_corrupt_and_truncated_files_fail_with_a_reason(
    pool: RenderPool, content_type: str, data: bytes, reason: str
) -> None:
    with pytest.raises(PreviewFailed, match=reason):
        await pool.render(data, content_type, 30)


async def test_a_render_past_its_time_cap_is_killed_and_the_pool_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCSTORE_EXTRACT_FAULTS", "1")
    renderer = RenderPool(workers=1, options=RenderOptions(), memory_mb=2048)
    try:
        with pytest.raises(PreviewFailed, match="timed out"):
            await renderer.render(b"x", "application/x-docstore-hang", 1)
        with pytest.raises(PreviewFailed, match="crashed"):
            await renderer.render(b"x", "application/x-docstore-crash", 10)
        with pytest.raises(PreviewFailed, match="memory"):
            await renderer.render(b"x", "application/x-docstore-eat-memory", 30)
        assert_previews(await renderer.render(picture("PNG"), "image/png", 30))
    finally:
        await renderer.close()


def niceness(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])  # field 19 of stat(5), counted after the command's ")"


def autogroup_niceness(pid: int) -> int | None:
    """The niceness of the process's session group where the kernel schedules by them (else None)."""
    enabled = Path("/proc/sys/kernel/sched_autogroup_enabled")
    if not enabled.exists() or enabled.read_text().strip() != "1":
        return None
    return int(Path(f"/proc/{pid}/autogroup").read_text().split("nice")[1])


async def test_render_workers_run_at_the_niceness_asked_for() -> None:
    """Previews take the CPU extraction and requests leave: each render worker lowers its own
    priority by `niceness` (what it starts inherits it); 0 leaves it as the service's."""
    base = niceness(os.getpid())
    low = RenderPool(workers=1, options=RenderOptions(), memory_mb=2048, niceness=7)
    same = RenderPool(workers=1, options=RenderOptions(), memory_mb=2048, niceness=0)
    try:
        for renderer, expected in ((low, min(base + 7, 19)), (same, base)):
            assert_previews(await renderer.render(picture("PNG"), "image/png", 30))
            [worker] = renderer.pool._all
            assert niceness(worker.process.pid) == expected
            # Each worker is a session of its own: with autogroups, the group must be lowered too.
            assert autogroup_niceness(worker.process.pid) in (None, expected - base)
    finally:
        await low.close()
        await same.close()


# No network for renderers -------------------------------------------------------------------

ODT = "application/vnd.oasis.opendocument.text"


def odt_linking(url: str) -> bytes:
    """An OpenDocument text whose one paragraph shows an image LibreOffice loads from `url`."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.2">'
        "<office:body><office:text><text:p>The marmalade budget, with a linked picture: "
        '<draw:frame draw:name="picture" svg:width="5cm" svg:height="5cm" text:anchor-type="as-char">'
        f'<draw:image xlink:href="{url}" xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/>'
        "</draw:frame></text:p></office:text></office:body></office:document-content>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODT)
        archive.writestr("content.xml", content)
        archive.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
            'manifest:version="1.2">'
            f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{ODT}"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            "</manifest:manifest>",
        )
    return out.getvalue()


class Listener:
    """A TCP listener on 127.0.0.1 that accepts, counts and closes every connection made to it."""

    def __enter__(self) -> Listener:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.seen = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return  # closed
            self.seen += 1
            connection.close()

    def connections(self, *, at_least: int = 0, timeout: float = 60.0) -> int:
        """Connections made so far: once none waits in the accept queue (and, with `at_least`,
        once that many were counted, or `timeout` passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (self.seen < at_least or select.select([self.socket], [], [], 0)[0]):
            time.sleep(0.05)
        return self.seen

    def __exit__(self, *exc: object) -> None:
        self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()
        self.thread.join(5)


@pytest.mark.skipif(no_network_prefix() == (), reason="no network namespace can be made here (unshare)")
async def test_render_workers_have_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A render worker cannot connect anywhere, not even to this host's loopback; the same probe
    from a worker started without the namespace does connect (the listener and probe work)."""
    monkeypatch.setenv("DOCSTORE_EXTRACT_FAULTS", "1")
    sandboxed = RenderPool(workers=1, options=RenderOptions(), memory_mb=2048)
    open_pool = RenderPool(workers=1, options=RenderOptions(), memory_mb=2048, isolate_network=False)
    try:
        with Listener() as listener:
            target = f"127.0.0.1:{listener.port}".encode()
            with pytest.raises(PreviewFailed, match="no connection"):
                await sandboxed.render(target, "application/x-docstore-connect", 30)
            assert listener.connections() == 0
            with pytest.raises(PreviewFailed, match="^connected$"):
                await open_pool.render(target, "application/x-docstore-connect", 30)
            assert listener.connections(at_least=1) == 1
    finally:
        await sandboxed.close()
        await open_pool.close()


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
@pytest.mark.skipif(no_network_prefix() == (), reason="no network namespace can be made here (unshare)")
async def test_office_document_linking_an_external_image_fetches_nothing(pool: RenderPool, tmp_path: Path) -> None:
    with Listener() as listener:
        document = odt_linking(f"http://127.0.0.1:{listener.port}/pixel.png")
        # LibreOffice on its own (no namespace) does fetch the linked image: the document is a real probe.
        (tmp_path / "linked.odt").write_bytes(document)
        await asyncio.to_thread(
            subprocess.run,
            ["soffice", "--headless", "--norestore", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}"]
            + ["--convert-to", "pdf", "--outdir", str(tmp_path), str(tmp_path / "linked.odt")],
            capture_output=True,
            timeout=180,
            check=True,
        )
        assert listener.connections(at_least=1) >= 1
        fetched = listener.seen
        # Through the render workers: the first page is rendered, and nothing was fetched.
        assert_previews(await pool.render(document, ODT, 120), landscape=False)
        assert listener.connections() == fetched


async def test_a_worker_with_network_renders_no_office_documents() -> None:
    """Where no network namespace can be made, LibreOffice (which follows links) is not run:
    Office documents get the typed icon; everything else still renders."""
    renderer = RenderPool(workers=1, options=RenderOptions(), memory_mb=2048, isolate_network=False)
    try:
        with pytest.raises(PreviewFailed, match=UNSUPPORTED):
            await renderer.render(odt_linking("http://127.0.0.1:9/x.png"), ODT, 60)
        assert_previews(await renderer.render(picture("PNG"), "image/png", 30))
    finally:
        await renderer.close()


# Videos from a file ---------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (scripts/bootstrap installs it)")
async def test_video_from_a_file_on_disk(pool: RenderPool, tmp_path: Path) -> None:
    """`render_file`: the worker's ffmpeg reads the (streamed) file itself; nothing goes down the pipe."""
    video = tmp_path / "clip.mp4"
    video.write_bytes(make_video(video))
    small, large = assert_previews(await pool.render_file(str(video), "video/mp4", 30), landscape=True)
    assert large.size == (640, 360)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(PreviewFailed, match="empty file"):
        await pool.render_file(str(empty), "video/mp4", 30)
