"""Preview renderers: bytes of one uploaded version in, a small and a large image out.

Run inside the render worker processes (`render_worker.py`), never in the service process:
each render there has a time cap (the parent kills the process group) and an address-space
cap. Hostile input fails that one preview with a reason (`PreviewFailed`):

* images (JPEG, PNG, GIF, WebP, TIFF, BMP; HEIC/HEIF/AVIF through pillow-heif): the size in the
  header is checked against `max_pixels` before any pixel is decoded (and Pillow's own
  `Image.MAX_IMAGE_PIXELS` is set to the same limit), EXIF orientation applied, first frame;
* PDF: the first page through pypdfium2, rendered straight at the large size;
* video: `ffprobe` for the duration and frame size, then one frame at 10 % through `ffmpeg`;
* text (plain, Markdown, CSV, JSON, ...): the first lines drawn on a page with Pillow;
* Office Open XML and ODF: the zip container checked (bombs, encryption) as for extraction,
  then LibreOffice headless (`soffice --convert-to pdf`, first page only) and the PDF path.
  Without `soffice` installed, or in a worker that has network (LibreOffice fetches images a
  document links to; `renderer.RenderPool` starts workers without any), these are "unsupported
  type" (the icon).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from docstore_indexer.domain.previews import (
    HEIF,
    IMAGE,
    LARGE,
    NETWORK_ISOLATED_ENV,
    NOT_TEXT,
    OFFICE,
    PDF,
    SIZES,
    SMALL,
    TEXT,
    UNSUPPORTED,
    VIDEO,
    PreviewFailed,
    Rendered,
    RenderOptions,
    check_pixels,
    fit,
    reads_as_text,
    renderer_for,
)

_FORMATS = {"webp": ("WEBP", "image/webp", "webp"), "jpeg": ("JPEG", "image/jpeg", "jpg")}
_MONO_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
)
_heif_registered = False


def render(data: bytes, content_type: str, options: RenderOptions) -> list[Rendered]:
    """The small and large previews of `data`, or `PreviewFailed` with the reason."""
    kind = renderer_for(content_type)
    if kind is None:
        raise PreviewFailed(UNSUPPORTED)
    if not data:
        raise PreviewFailed("empty file")
    Image.MAX_IMAGE_PIXELS = options.max_pixels  # Pillow's own bomb check, for any path we missed
    first: Callable[[bytes, RenderOptions], Image.Image] = _RENDERERS[kind]
    picture = first(data, options)
    return encode_sizes(picture, options, drawn=kind == TEXT)


def render_file(path: str, content_type: str, options: RenderOptions) -> list[Rendered]:
    """The same for a file on disk: a video is read by `ffmpeg` from there (never into memory);
    any other type is read and rendered as bytes."""
    kind = renderer_for(content_type)
    if kind != VIDEO:
        return render(Path(path).read_bytes() if kind is not None else b"", content_type, options)
    if os.path.getsize(path) == 0:
        raise PreviewFailed("empty file")
    Image.MAX_IMAGE_PIXELS = options.max_pixels
    return encode_sizes(_video_file(Path(path), options), options)


def encode_sizes(picture: Image.Image, options: RenderOptions, *, drawn: bool = False) -> list[Rendered]:
    """`picture` scaled to each preview size (never enlarged), flattened on white, encoded.
    `drawn`: a page this module drew (text on white), which lossless WebP encodes smaller and
    faster than lossy (a text page's preview: 101 against 149 KB, 38 against 90 ms of CPU,
    `bench/text_pages.py`)."""
    picture = _flatten(picture)
    large = _scaled(picture, SIZES[LARGE])
    small = _scaled(large, SIZES[SMALL])
    return [_encode(SMALL, small, options, drawn), _encode(LARGE, large, options, drawn)]


def _scaled(picture: Image.Image, longest: int) -> Image.Image:
    width, height = fit(picture.width, picture.height, longest)
    if (width, height) == picture.size:
        return picture
    return picture.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _flatten(picture: Image.Image) -> Image.Image:
    """RGB: transparency over white (a thumbnail has no alpha; JPEG has none anyway)."""
    if picture.mode == "RGB":
        return picture
    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        page = Image.new("RGB", rgba.size, "white")
        page.paste(rgba, mask=rgba.getchannel("A"))
        return page
    if picture.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale (TIFF scans, PNG): scale to 8 bits instead of clipping to white.
        return picture.point(lambda value: value / 256).convert("L").convert("RGB")
    return picture.convert("RGB")


def _encode(size: str, picture: Image.Image, options: RenderOptions, drawn: bool) -> Rendered:
    pil_format, content_type, extension = _FORMATS[options.image_format]
    out = io.BytesIO()
    if pil_format == "WEBP" and drawn:
        picture.save(out, pil_format, lossless=True, quality=0, method=0)  # the fastest lossless effort
    elif pil_format == "WEBP":
        picture.save(out, pil_format, quality=options.quality, method=4)
    else:
        picture.save(out, pil_format, quality=options.quality, optimize=True, progressive=True)
    return Rendered(
        size=size,
        width=picture.width,
        height=picture.height,
        content_type=content_type,
        extension=extension,
        data=out.getvalue(),
    )


# Images ------------------------------------------------------------------------------------


def _image(data: bytes, options: RenderOptions) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            # The header's size, before any pixel is decoded: a bomb stops here.
            check_pixels(opened.width, opened.height, options.max_pixels)
            if opened.format == "JPEG":
                # Decode at 1/2..1/8 scale straight from the DCT when that is still large enough.
                opened.draft("RGB", (SIZES[LARGE], SIZES[LARGE]))
            oriented = ImageOps.exif_transpose(opened)  # loads the first frame, turned upright
            oriented.load()
            return oriented
    except PreviewFailed:
        raise
    except Image.DecompressionBombError:
        raise PreviewFailed(
            f"image too large (more than {options.max_pixels:,} pixels: decompression bomb refused)"
        ) from None
    except UnidentifiedImageError:
        raise PreviewFailed("not a readable image (corrupt, or not the declared type)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise PreviewFailed(f"corrupt or truncated image: {error}"[:200]) from None


def _heif(data: bytes, options: RenderOptions) -> Image.Image:
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True
    return _image(data, options)


# PDF ---------------------------------------------------------------------------------------


def _pdf(data: bytes, options: RenderOptions) -> Image.Image:
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        reason = str(error).lower()
        if "password" in reason:
            raise PreviewFailed("encrypted PDF") from None
        raise PreviewFailed(f"corrupt or truncated PDF ({error})"[:200]) from None
    try:
        if len(document) == 0:
            raise PreviewFailed("PDF has no pages")
        page = document[0]
        try:
            width, height = page.get_size()
            if width <= 0 or height <= 0:
                raise PreviewFailed("PDF page has no size")
            # Rendered straight at the large size: a huge page never becomes a huge bitmap.
            scale = SIZES[LARGE] / max(width, height)
            check_pixels(round(width * scale), round(height * scale), options.max_pixels)
            bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255))
            try:
                picture: Image.Image = bitmap.to_pil().copy()
                return picture
            finally:
                bitmap.close()
        finally:
            page.close()
    except pdfium.PdfiumError as error:
        raise PreviewFailed(f"PDF page could not be rendered ({error})"[:200]) from None
    finally:
        document.close()


# Video -------------------------------------------------------------------------------------


def _remaining(options: RenderOptions, fallback: float = 60.0) -> float:
    if not options.deadline:
        return fallback
    left = options.deadline - time.monotonic()
    if left <= 0:
        raise PreviewFailed("render timed out")
    return left


def _run(command: list[str], options: RenderOptions, *, what: str = "video") -> bytes:
    try:
        done = subprocess.run(command, capture_output=True, timeout=_remaining(options), check=False)
    except subprocess.TimeoutExpired:
        raise PreviewFailed("render timed out") from None
    except FileNotFoundError:
        raise PreviewFailed(f"{command[0]} is not installed") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        detail = lines[0]
        if detail.startswith("/"):  # "<scratch path>: what went wrong": the path means nothing to anyone
            detail = detail.split(": ", 1)[-1]
        raise PreviewFailed(f"corrupt or unreadable {what} ({detail[:150]})")
    return done.stdout


VIDEO_CONTAINERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpeg,mpegts,flv,asf,ogg"
"""The only demuxers ffmpeg may use on an upload: no playlists (HLS), concat lists or image
sequences, whose entries name other files or URLs (local file disclosure, SSRF)."""
_SANDBOX = ["-format_whitelist", VIDEO_CONTAINERS, "-protocol_whitelist", "file"]


def _video(data: bytes, options: RenderOptions) -> Image.Image:
    with tempfile.TemporaryDirectory(prefix="docstore-preview-") as scratch:
        source = Path(scratch) / "video"
        source.write_bytes(data)
        return _video_file(source, options)


def _video_file(source: Path, options: RenderOptions) -> Image.Image:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise PreviewFailed(UNSUPPORTED)  # the icon, as for types without a renderer
    probe = json.loads(
        _run(
            [
                "ffprobe",
                "-v",
                "error",
                *_SANDBOX,
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height:format=duration",
                "-of",
                "json",
                str(source),
            ],
            options,
        )
        or b"{}"
    )
    streams = probe.get("streams") or []
    if not streams:
        raise PreviewFailed("video has no picture stream")
    width, height = int(streams[0].get("width") or 0), int(streams[0].get("height") or 0)
    check_pixels(width, height, options.max_pixels)
    try:
        duration = float((probe.get("format") or {}).get("duration") or 0.0)
    except ValueError:
        duration = 0.0
    at = max(0.0, duration * 0.10)
    frame = _run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-threads",
            "1",  # one thread: within the worker's address-space cap, and the pool is the parallelism
            *_SANDBOX,
            "-ss",
            f"{at:.3f}",
            "-i",
            str(source),
            "-frames:v",
            "1",
            "-vf",
            f"scale='min({SIZES[LARGE]},iw)':'min({SIZES[LARGE]},ih)':force_original_aspect_ratio=decrease",
            "-f",
            "image2pipe",
            "-c:v",
            "png",
            "-",
        ],
        options,
    )
    if not frame:
        raise PreviewFailed("no frame could be read from the video")
    try:
        picture = Image.open(io.BytesIO(frame))
        picture.load()
    except (OSError, UnidentifiedImageError) as error:
        raise PreviewFailed(f"no frame could be read from the video ({error})"[:200]) from None
    return picture


# Text --------------------------------------------------------------------------------------

_TEXT_BYTES = 16_384
"""Only the start of a text file is read: the page shows its first lines."""
_COLUMNS = 100


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _MONO_FONTS:
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _text(data: bytes, options: RenderOptions) -> Image.Image:
    text = data[:_TEXT_BYTES].decode("utf-8", errors="replace").replace("\x00", "")
    # Every line boundary Python knows, not only "\n": a lone "\r" (classic Mac files), "\x1c"-"\x1e",
    # "\x85" or U+2029 left inside a line makes Pillow's text layout (raqm) fail.
    lines = [line.expandtabs(4)[:_COLUMNS] for line in text.splitlines()[: options.text_lines]]
    if not any(line.strip() for line in lines):
        raise PreviewFailed("no text to show")
    if not reads_as_text("\n".join(lines)):
        raise PreviewFailed(NOT_TEXT)
    width, height = 768, SIZES[LARGE]  # a portrait page, like a PDF's first page
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)
    font = _font(18)
    y = 32
    for line in lines:
        if y > height - 40:
            break
        draw.text((32, y), line, fill=(30, 30, 30), font=font)
        y += 24
    return page


# Office --------------------------------------------------------------------------------------


def _office(data: bytes, options: RenderOptions) -> Image.Image:
    soffice = shutil.which("soffice")
    if soffice is None or os.environ.get(NETWORK_ISOLATED_ENV) == "0":
        # Not installed, or this worker has network (LibreOffice fetches linked images): the icon.
        raise PreviewFailed(UNSUPPORTED)
    from docstore_indexer.adapters.extraction import check_container
    from docstore_indexer.domain.extraction import ExtractionFailed, Options

    try:
        check_container(data, Options(max_unpacked_bytes=options.max_unpacked_bytes))
    except ExtractionFailed as error:
        raise PreviewFailed(str(error)) from None
    # One LibreOffice profile per worker process: made on its first document, reused after.
    profile = Path(tempfile.gettempdir()) / f"docstore-preview-lo-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="docstore-preview-") as scratch:
        source = Path(scratch) / "document"
        source.write_bytes(data)
        _run(
            [
                soffice,
                "--headless",
                "--norestore",
                "--nologo",
                f"-env:UserInstallation={profile.as_uri()}",
                "--convert-to",
                'pdf:writer_pdf_Export:{"PageRange":{"type":"string","value":"1"}}',
                "--outdir",
                scratch,
                str(source),
            ],
            options,
            what="office document",
        )
        converted = Path(scratch) / "document.pdf"
        if not converted.exists():
            raise PreviewFailed("office document could not be converted")
        return _pdf(converted.read_bytes(), options)


_RENDERERS: dict[str, Callable[[bytes, RenderOptions], Image.Image]] = {
    IMAGE: _image,
    HEIF: _heif,
    PDF: _pdf,
    VIDEO: _video,
    TEXT: _text,
    OFFICE: _office,
}
