"""What users log besides scalars: ``Image`` and ``Text`` (``Histogram`` and ``Table`` have
modules of their own); ``Media`` is what they share.

A constructor checks its input at once (the user's mistake raises here, with the fix) and
copies what it needs, so the caller may change or free its array right after: it never
encodes. Encoding (PNG, JPEG, JSON) happens later, off the training thread
(``tether.media.encode``). ``import tether`` imports none of this; numpy, torch and Pillow are
imported only when an object that needs them is made.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, ClassVar, Final

from tether.media.blobs import MAX_BLOB_BYTES

# An image side longer than this is refused (a mistake more often than an image: a batch
# flattened into one row, a whole dataset).
MAX_SIDE: Final = 8192
# An RGB image with more pixels than this is stored as JPEG unless format= says otherwise.
JPEG_ABOVE_PIXELS: Final = 1024 * 1024
MAX_CAPTION_CHARS: Final = 4096
FORMATS: Final = ("png", "jpeg")
TEXT_FORMATS: Final = ("markdown", "plain")


class Media:
    """The base of ``Image``, ``Histogram``, ``Table`` and ``Text``: a value ``log()`` stores
    as a file record (and a blob) instead of a number in a row."""

    __slots__ = ()
    # "image", "histogram", "table" or "text": the record's kind (docs/format.md).
    kind: ClassVar[str] = ""
    # How tether._values, a layer below this package, tells media from other values.
    _tether_media: ClassVar[bool] = True

    @property
    def nbytes(self) -> int:
        """About how much memory this object holds until it is encoded (the queue's cap)."""
        return 64


def is_media(value: object) -> bool:
    return isinstance(value, Media)


class Image(Media):
    """An image to log: ``run.log({"samples": [tether.Image(x, caption="cat")]})``.

    ``data`` is a numpy array (``HW``, ``HWC`` with C in 1, 3 or 4, or ``CHW``; ``uint8``,
    ``bool``, or float in ``[0, 1]``: floats outside are clipped and NaN is black), a torch
    tensor on any device (the same shapes), a PIL image, a path to an image file, or a
    matplotlib figure. ``format`` is ``"png"`` or ``"jpeg"``; left out, an image is PNG
    except an RGB one over 1024x1024 pixels, which is JPEG (quality 90). PNG and JPEG files
    are kept byte for byte. Sides over 8192 pixels are refused.

    The constructor copies the pixels (not encodes them): the array may change right after.
    """

    __slots__ = ("_encoded", "_pil", "_pixels", "caption", "channels", "format", "height", "width")
    kind: ClassVar[str] = "image"

    def __init__(self, data: Any, *, caption: str | None = None, format: str | None = None) -> None:
        if format is not None and format not in FORMATS:
            raise ValueError(
                f"tether.Image(): format={format!r} is not one of 'png', 'jpeg'; leave it out "
                "for PNG (JPEG for RGB images over 1024x1024)"
            )
        self.caption = _checked_caption(caption)
        self._pixels: Any = None  # a C-contiguous HW or HWC numpy array (a copy)
        self._pil: Any = None  # a PIL image (a copy)
        self._encoded: bytes | None = None  # PNG or JPEG bytes, kept as they are
        self.format: str = format or "png"
        module = type(data).__module__.split(".", 1)[0]
        if isinstance(data, str | os.PathLike):
            self._from_file(Path(data), format)
        elif module == "PIL":
            self._from_pil(data, copy=True)
        elif module == "matplotlib" and hasattr(data, "savefig"):
            self._from_figure(data, format)
        elif module == "torch":
            self._from_array(_tensor_to_numpy(data))
        else:
            self._from_array(data, copy=True)
        big = self.width * self.height > JPEG_ABOVE_PIXELS
        if format is None and self._encoded is None and self.channels == 3 and big:
            self.format = "jpeg"

    def _from_array(self, data: Any, *, copy: bool = False) -> None:
        import numpy as np

        array = data if isinstance(data, np.ndarray) else np.asarray(data)
        kind = array.dtype.kind
        if not (kind in "fb" or array.dtype == np.uint8):
            raise TypeError(
                f"tether.Image(): an array of dtype {array.dtype} is not an image; pass uint8 "
                "(0-255), bool, or float (0.0-1.0), e.g. array.astype(numpy.uint8)"
            )
        array = _as_hwc(array)
        self.height, self.width = int(array.shape[0]), int(array.shape[1])
        self.channels = 1 if array.ndim == 2 else int(array.shape[2])
        _check_sides(self.width, self.height)
        self._pixels = np.array(array, copy=True, order="C") if copy else array

    def _from_pil(self, image: Any, *, copy: bool) -> None:
        self.width, self.height = (int(side) for side in image.size)
        _check_sides(self.width, self.height)
        self._pil = image.copy() if copy else image
        self.channels = _channels_of(image.mode)

    def _from_file(self, path: Path, format: str | None) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(
                f"tether.Image(): cannot read the image file {str(path)!r} ({exc.strerror or exc})"
            ) from exc
        self._from_bytes(data, format, what=f"the file {str(path)!r}")

    def _from_figure(self, figure: Any, format: str | None) -> None:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        self._from_bytes(buffer.getvalue(), format, what="the figure")

    def _from_bytes(self, data: bytes, format: str | None, *, what: str) -> None:
        from PIL import Image as PILImage

        try:
            image = PILImage.open(io.BytesIO(data))
            found = {"PNG": "png", "JPEG": "jpeg"}.get(image.format or "")
            if found is not None and format in (None, found):
                self._from_pil(image, copy=False)  # the header alone says the size
                self._pil = None
                self._encoded = data
                self.format = found
                return
            image.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise ValueError(
                f"tether.Image(): {what} is not an image Pillow can read: {exc}"
            ) from None
        self._from_pil(image, copy=False)

    @property
    def nbytes(self) -> int:
        if self._encoded is not None:
            return len(self._encoded)
        if self._pixels is not None:
            return int(self._pixels.nbytes)
        return self.width * self.height * self.channels

    def __repr__(self) -> str:
        caption = f" caption={self.caption!r}" if self.caption else ""
        return f"<tether.Image {self.width}x{self.height}x{self.channels} {self.format}{caption}>"


class Text(Media):
    """Text to log, shown as Markdown (the default) or as it is: ``tether.Text(report)``."""

    __slots__ = ("format", "text", "utf8_size")
    kind: ClassVar[str] = "text"

    def __init__(self, text: str, *, format: str = "markdown") -> None:
        if not isinstance(text, str):
            raise TypeError(
                f"tether.Text(): text must be a str, got {type(text).__name__}; pass str(value)"
            )
        if format not in TEXT_FORMATS:
            raise ValueError(f"tether.Text(): format={format!r} is not one of 'markdown', 'plain'")
        self.utf8_size = len(text) if text.isascii() else len(checked_utf8(text, "tether.Text()"))
        if self.utf8_size > MAX_BLOB_BYTES:
            raise ValueError(
                f"tether.Text(): the text is {self.utf8_size:,} bytes of UTF-8, over the "
                f"{MAX_BLOB_BYTES:,} a server keeps in one file; log it in parts"
            )
        self.text = text
        self.format = format

    @property
    def nbytes(self) -> int:
        return self.utf8_size

    def __repr__(self) -> str:
        return f"<tether.Text {self.format} {len(self.text)} chars>"


def checked_utf8(text: str, call: str) -> bytes:
    """``text`` as UTF-8, or a ValueError saying where it holds what UTF-8 cannot store."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{call}: the text holds {text[exc.start : exc.end]!r} at index {exc.start}, a lone "
            "surrogate that UTF-8 cannot store; clean it first, e.g. "
            "text.encode('utf-8', 'replace').decode('utf-8')"
        ) from None


def _checked_caption(caption: object) -> str | None:
    if caption is None:
        return None
    if not isinstance(caption, str):
        raise TypeError(
            f"tether.Image(): caption must be a str, got {type(caption).__name__}; pass str(value)"
        )
    if len(caption) > MAX_CAPTION_CHARS:
        raise ValueError(
            f"tether.Image(): the caption is {len(caption):,} characters, over the "
            f"{MAX_CAPTION_CHARS:,} allowed; log long text with tether.Text"
        )
    checked_utf8(caption, "tether.Image() caption")
    return caption


def _channels_of(mode: str) -> int:
    """The channels a PIL mode is stored with: 1 (L), 3 (RGB) or 4 (RGBA)."""
    if mode in ("1", "L") or mode.startswith(("I", "F")):
        return 1  # 16- and 32-bit grayscale are stored as 8-bit L
    return 4 if "A" in mode or mode == "P" else 3


def _tensor_to_numpy(tensor: Any) -> Any:
    """A CPU numpy copy of a torch tensor (from any device); the one copy the caller pays."""
    import torch

    value = tensor.detach()
    if value.dtype in (torch.bfloat16, torch.float16):
        value = value.float()  # numpy has no bfloat16; a new tensor, on its device
    elif value.device.type == "cpu":
        value = value.clone()  # .numpy() would share the caller's memory
    return value.cpu().numpy()


def _as_hwc(array: Any) -> Any:
    """``array`` as HW or HWC (C in 3 or 4) as a view; ValueError for what is no image."""
    shape = tuple(array.shape)
    if array.ndim == 3:
        if shape[2] in (1, 3, 4):
            return array[:, :, 0] if shape[2] == 1 else array
        if shape[0] in (1, 3, 4):
            return array[0] if shape[0] == 1 else array.transpose(1, 2, 0)
    elif array.ndim == 2:
        return array
    if array.ndim == 4:
        raise ValueError(
            f"tether.Image(): an array of shape {shape} is a batch, not an image; log "
            "[tether.Image(x) for x in batch] (a list under one key)"
        )
    raise ValueError(
        f"tether.Image(): an array of shape {shape} is not an image; pass HW, HWC or CHW "
        "with 1, 3 or 4 channels"
    )


def _check_sides(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise ValueError(f"tether.Image(): the image is {width}x{height}, it has no pixels")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ValueError(
            f"tether.Image(): the image is {width}x{height} pixels; sides are at most "
            f"{MAX_SIDE} pixels, so resize it (or log crops of it)"
        )
