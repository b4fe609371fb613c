"""Preview rendering of every supported format, through the real render worker processes
(time and memory caps), from files made in the test: size, type and non-blank pixels; bombs,
corrupt and truncated files fail that one preview with a reason."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from PIL import Image, ImageDraw, ImageStat

from docstore_devplatform.documents import docx_bytes, make_pdf, pptx_bytes, zip_bomb_docx
from docstore_indexer.adapters.renderer import RenderPool
from docstore_indexer.domain.previews import UNSUPPORTED, PreviewFailed, Rendered, RenderOptions

pytestmark = pytest.mark.integration

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


@pytest_asyncio.fixture
async def pool() -> AsyncIterator[RenderPool]:
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
    real = io.BytesIO()
    Image.new("1", (50_000, 50_000)).save(real, "PNG")
    with pytest.raises(PreviewFailed, match="image too large"):
        await pool.render(real.getvalue(), "image/png", 30)
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
