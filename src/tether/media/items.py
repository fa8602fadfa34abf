"""``MediaItem``: one logged image, histogram, table or text, read back.

The same class serves a local run (``RunData.media``, which reads blobs from the run folder)
and a remote one (``RemoteRun.media``, which GETs them from the server): it is built with a
``fetch`` function that returns a blob's bytes by hash, and everything else is shared.

>>> item = tether.load_run("latest").media("samples")[0]   # doctest: +SKIP
>>> item.to_pil().size, item.meta.get("caption")            # doctest: +SKIP
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from tether.errors import UsageError

if TYPE_CHECKING:
    import numpy
    import pandas
    from PIL.Image import Image as PILImage

Fetch = Callable[[str], bytes]
# Fields of an item as the server's media listing and a local FILE record both give them.
FIELDS: Final = ("key", "step", "index", "writer", "kind", "sha256", "size", "media_type")
EXTENSIONS: Final = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "application/json": ".json",
    "text/markdown": ".md",
    "text/plain": ".txt",
}


@dataclass(frozen=True)
class MediaItem:
    """One logged media object: where it was logged and how to read it.

    ``sha256``, ``size`` and ``media_type`` are None for a histogram (its counts are in
    ``meta``). Image cells of a table come back from ``to_pandas()`` as ``MediaItem``s too.
    """

    key: str
    step: int
    index: int
    writer: str
    kind: str
    sha256: str | None
    size: int | None
    media_type: str | None
    meta: dict[str, Any]
    time: float
    fetch: Fetch = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any], *, fetch: Fetch) -> MediaItem:
        """From a FILE record's ``info`` plus ``writer`` and ``time``, or from one entry of
        the server's ``GET .../media`` answer (the same names)."""
        return cls(
            key=str(fields["key"]),
            step=int(fields["step"]),
            index=int(fields.get("index", 0)),
            writer=str(fields.get("writer", "")),
            kind=str(fields["kind"]),
            sha256=fields.get("sha256"),
            size=fields.get("size"),
            media_type=fields.get("media_type"),
            meta=dict(fields.get("meta") or {}),
            time=float(fields.get("time", 0.0)),
            fetch=fetch,
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields as the server's media listing gives them (``fetch`` left out)."""
        return {name: getattr(self, name) for name in (*FIELDS, "meta", "time")}

    # -- bytes ----------------------------------------------------------------------------
    def read_bytes(self) -> bytes:
        """The stored bytes (PNG, JPEG, the table's JSON, the text's UTF-8)."""
        if self.sha256 is None:
            raise UsageError(
                f"{self._what()} has no stored bytes: a {self.kind}'s data is in .meta "
                "(use .histogram())"
            )
        return self.fetch(self.sha256)

    def download(self, path: str | Path) -> Path:
        """Write the bytes to ``path``; a directory gets a file named after the key, step
        and index (``samples_12_0.png``). Returns the file's path."""
        target = Path(path)
        if target.is_dir():
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.key).strip("_") or "media"
            suffix = EXTENSIONS.get(self.media_type or "", "")
            target = target / f"{stem}_{self.step}_{self.index}{suffix}"
        target.write_bytes(self.read_bytes())
        return target

    # -- per kind ---------------------------------------------------------------------------
    def to_pil(self) -> PILImage:
        """An image as a PIL image (decoded; Pillow is a dependency of tether)."""
        self._expect("image", "to_pil")
        from PIL import Image

        image = Image.open(io.BytesIO(self.read_bytes()))
        image.load()
        return image

    def text(self) -> str:
        """A text's content."""
        self._expect("text", "text")
        return self.read_bytes().decode("utf-8")

    def histogram(self) -> tuple[numpy.ndarray, numpy.ndarray]:
        """A histogram's ``(counts, edges)`` as numpy arrays (int64, float64), as
        ``numpy.histogram`` returns them. ``meta`` also has ``nan``, ``posinf``, ``neginf``,
        ``total``, ``min`` and ``max``."""
        self._expect("histogram", "histogram")
        import numpy as np

        counts = np.asarray(self.meta.get("counts", []), dtype=np.int64)
        edges = np.asarray(self.meta.get("edges", []), dtype=np.float64)
        return counts, edges

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """A table's ``(columns, rows)`` as stored: image cells are ``MediaItem``s."""
        self._expect("table", "table")
        import msgspec

        decoded = msgspec.json.decode(self.read_bytes())
        columns = [str(name) for name in decoded.get("columns", [])]
        rows = [[self._cell(cell) for cell in row] for row in decoded.get("data", [])]
        return columns, rows

    def to_pandas(self) -> pandas.DataFrame:
        """A table as a DataFrame; image cells become ``MediaItem``s (``.to_pil()`` them)."""
        import pandas

        columns, rows = self.table()
        return pandas.DataFrame(rows, columns=columns)

    def _cell(self, cell: Any) -> Any:
        if isinstance(cell, dict) and cell.get("_type") == "image":
            meta = {k: cell[k] for k in ("width", "height", "caption") if k in cell}
            return MediaItem(
                key=self.key,
                step=self.step,
                index=self.index,
                writer=self.writer,
                kind="image",
                sha256=cell.get("sha256"),
                size=cell.get("size"),
                media_type=cell.get("media_type"),
                meta=meta,
                time=self.time,
                fetch=self.fetch,
            )
        return cell

    def _expect(self, kind: str, method: str) -> None:
        if self.kind != kind:
            raise UsageError(f"{self._what()} is a {self.kind}; .{method}() reads a {kind}")

    def _what(self) -> str:
        return f"media {self.key!r} (step {self.step}, index {self.index})"
