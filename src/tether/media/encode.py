"""Media objects into blobs and file-record ``info`` (runs on the writer's flusher thread).

``file_info`` encodes one logged object (PNG or JPEG with Pillow, a table as JSON, a text as
UTF-8), writes its blob(s) with ``blobs.write_blob`` and returns the ``info`` of its ``FILE``
record, laid out as ``docs/format.md`` says. A blob is on disk before its info exists, so a
record never names a missing blob. Pillow, numpy and msgspec's JSON are imported by ``prepare``
on the first media a writer queues (on the user's thread), never in ``import tether``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Final

from tether.media.blobs import write_blob
from tether.media.histogram import Histogram
from tether.media.table import Table
from tether.media.types import Image, Media, Text

# zlib level 1: about 3x faster than Pillow's default (6) for ~10% more bytes on photos
# (docs/media.md has the figures).
PNG_COMPRESS_LEVEL: Final = 1
JPEG_QUALITY: Final = 90
MEDIA_TYPES: Final = {"png": "image/png", "jpeg": "image/jpeg"}


def prepare() -> None:
    """Import what encoding needs, on the thread that logs the first media of a writer.

    The flusher must import nothing: a ``fork()`` by the training thread while our thread
    holds a module's import lock leaves that lock held forever in the child (a DataLoader
    worker, a fork child), whose own first encode would then hang. Pillow loads its PNG and
    JPEG plugins lazily, so ``preinit()`` loads them here too.
    """
    import hashlib  # blobs.write_blob's

    import msgspec.json
    import numpy
    from PIL import Image as PILImage

    PILImage.preinit()
    del hashlib, msgspec, numpy


def file_info(run_dir: Path, key: str, step: int, index: int, media: Media) -> dict[str, Any]:
    """Encode ``media``, store its blob(s) in ``run_dir``, and return its record's ``info``.

    Raises what encoding or writing raises (``OSError`` for a full disk); the caller counts it.
    """
    info: dict[str, Any] = {"key": key, "step": step, "index": index, "kind": media.kind}
    if isinstance(media, Histogram):
        info["meta"] = media.meta()
        return info
    if isinstance(media, Image):
        data, media_type, meta = encode_image(media)
    elif isinstance(media, Table):
        data, media_type, meta = encode_table(run_dir, media)
    elif isinstance(media, Text):
        data = media.text.encode("utf-8")
        media_type = "text/markdown" if media.format == "markdown" else "text/plain"
        meta = {"format": media.format, "chars": len(media.text)}
    else:  # pragma: no cover - log() accepts only the four types
        raise TypeError(f"not a media type tether stores: {type(media).__name__}")
    sha256, size = write_blob(run_dir, data)
    info.update(sha256=sha256, size=size, media_type=media_type, meta=meta)
    return info


def encode_image(image: Image) -> tuple[bytes, str, dict[str, Any]]:
    """An image's bytes, media type and ``meta`` (width, height, channels, format, caption)."""
    data = _bytes_of(image)
    meta: dict[str, Any] = {
        "width": image.width,
        "height": image.height,
        "channels": image.channels,
        "format": image.format,
    }
    if image.caption is not None:
        meta["caption"] = image.caption
    return data, MEDIA_TYPES[image.format], meta


def encode_table(run_dir: Path, table: Table) -> tuple[bytes, str, dict[str, Any]]:
    """A table's JSON, after storing each image cell as a blob of its own."""
    import msgspec

    refs: dict[str, None] = {}
    stored: dict[int, dict[str, Any]] = {}  # one encoding per Image object, however often used

    def cell_of(cell: Any) -> Any:
        if not isinstance(cell, Image):
            return cell
        found = stored.get(id(cell))
        if found is None:
            data, media_type, meta = encode_image(cell)
            sha256, size = write_blob(run_dir, data)
            found = {"_type": "image", "sha256": sha256, "media_type": media_type}
            found.update(width=meta["width"], height=meta["height"], size=size)
            if cell.caption is not None:
                found["caption"] = cell.caption
            stored[id(cell)] = found
            refs[sha256] = None
        return found

    data = [[cell_of(cell) for cell in row] for row in table.rows]
    body = msgspec.json.encode({"columns": table.columns, "data": data})
    meta = {"columns": table.columns, "n_rows": len(table.rows), "refs": list(refs)}
    return body, "application/json", meta


def _bytes_of(image: Image) -> bytes:
    """The image's PNG or JPEG bytes, encoded once per object: the same object logged again
    (a reference image at every step) is not encoded again, and its pixels are let go."""
    pixels, pil = image._pixels, image._pil
    encoded = image._encoded  # read after the pixels: set before they are let go (below)
    if encoded is not None:
        return encoded
    if pixels is None and pil is None:
        raise RuntimeError("the image holds neither bytes nor pixels")  # pragma: no cover
    data = _compress(_pil_of(image, pixels, pil), image.format)
    image._encoded = data  # another run's writer encoding this object now finds one of them
    image._pixels = image._pil = None
    return data


def _pil_of(image: Image, pixels: Any, pil: Any) -> Any:
    """The image as a PIL image in a mode its format can store (L, RGB, RGBA; JPEG: L, RGB)."""
    from PIL import Image as PILImage

    if pixels is not None:
        pil = PILImage.fromarray(_as_uint8(pixels))
    elif pil.mode not in ("L", "RGB", "RGBA"):
        pil = pil.convert("RGBA" if image.channels == 4 else "L" if image.channels == 1 else "RGB")
    if image.format == "jpeg" and pil.mode == "RGBA":
        pil = pil.convert("RGB")  # JPEG has no alpha
    return pil


def _as_uint8(pixels: Any) -> Any:
    """uint8 pixels: floats clipped to [0, 1] (NaN is 0) and scaled, bools 0 or 255."""
    import numpy as np

    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype.kind == "b":
        return pixels.astype(np.uint8) * 255
    scaled = np.nan_to_num(pixels.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    np.clip(scaled, 0.0, 1.0, out=scaled)
    scaled *= 255.0
    scaled += 0.5
    return scaled.astype(np.uint8)


def _compress(pil: Any, format: str) -> bytes:
    buffer = io.BytesIO()
    if format == "jpeg":
        pil.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    else:
        pil.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()
