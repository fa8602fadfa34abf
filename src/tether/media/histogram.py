"""``Histogram``: a distribution binned when it is logged, so only the counts are kept.

``Histogram(values, bins=64)`` bins at once: a torch tensor is binned with torch on its own
device (``torch.histc``), so of a CUDA tensor only the counts and four numbers reach the
host; anything else is binned with numpy. NaN, +inf and -inf are counted apart and left out
of the bins; the bins span the finite values' minimum to maximum. ``Histogram(np_histogram=
(counts, edges))`` takes counts already made (``numpy.histogram``'s result). A histogram has
no blob: its counts travel in its file record (docs/format.md).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar, Final

from tether.media.types import Media

MAX_BINS: Final = 512


class Histogram(Media):
    """A distribution to log: ``run.log({"weights": tether.Histogram(layer.weight)})``."""

    __slots__ = ("counts", "edges", "maximum", "minimum", "nan", "neginf", "posinf", "total")
    kind: ClassVar[str] = "histogram"

    def __init__(
        self,
        values: Any = None,
        *,
        bins: int = 64,
        np_histogram: tuple[Any, Any] | None = None,
    ) -> None:
        if (values is None) == (np_histogram is None):
            raise TypeError(
                "tether.Histogram(): pass the values (Histogram(values, bins=64)) or counts "
                "already made (Histogram(np_histogram=numpy.histogram(values))), one of the two"
            )
        self.nan = self.posinf = self.neginf = 0
        self.minimum: float | None = None
        self.maximum: float | None = None
        if np_histogram is not None:
            self._from_counts(np_histogram)
            return
        if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= MAX_BINS:
            raise ValueError(f"tether.Histogram(): bins={bins!r}; pass an int from 1 to {MAX_BINS}")
        if type(values).__module__.split(".", 1)[0] == "torch":
            self._from_tensor(values, bins)
        else:
            self._from_numpy(values, bins)

    def _from_numpy(self, values: Any, bins: int) -> None:
        import numpy as np

        try:
            array = np.asarray(values)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"tether.Histogram(): cannot read numbers from the values: {exc}"
            ) from None
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"tether.Histogram(): values of dtype {array.dtype} are not numbers; pass "
                "ints, floats or bools"
            )
        array = array.ravel().astype(np.uint8) if array.dtype.kind == "b" else array.ravel()
        _check_not_empty(array.size)
        self.total = int(array.size)
        if array.dtype.kind == "f":
            self.nan = int(np.count_nonzero(np.isnan(array)))
            self.posinf = int(np.count_nonzero(array == np.inf))
            self.neginf = int(np.count_nonzero(array == -np.inf))
            if self.nan or self.posinf or self.neginf:
                array = array[np.isfinite(array)]
        if array.size == 0:
            self._no_finite_values(bins)
            return
        self.minimum, self.maximum = float(array.min()), float(array.max())
        low, high = _span(self.minimum, self.maximum)
        counts, _ = np.histogram(array, bins=bins, range=(low, high))
        self.counts = [int(c) for c in counts]
        self.edges = _edges(low, high, bins)

    def _from_tensor(self, tensor: Any, bins: int) -> None:
        import torch

        values = tensor.detach().flatten()
        if values.dtype == torch.bool or not values.is_floating_point():
            if values.is_complex():
                raise TypeError("tether.Histogram(): complex values; log .real and .imag apart")
            values = values.double()
        elif values.dtype in (torch.float16, torch.bfloat16):
            values = values.float()  # histc takes neither on every device
        _check_not_empty(values.numel())
        self.total = int(values.numel())
        finite = torch.isfinite(values)
        # One transfer for the three counts (a CUDA tensor stays where it is).
        nan, posinf, neginf = torch.stack(
            [torch.isnan(values).sum(), torch.isposinf(values).sum(), torch.isneginf(values).sum()]
        ).tolist()
        self.nan, self.posinf, self.neginf = int(nan), int(posinf), int(neginf)
        if nan or posinf or neginf:
            values = values[finite]
        if values.numel() == 0:
            self._no_finite_values(bins)
            return
        low_high = torch.stack([values.min(), values.max()]).double().tolist()
        self.minimum, self.maximum = float(low_high[0]), float(low_high[1])
        low, high = _span(self.minimum, self.maximum)
        counts = torch.histc(values, bins=bins, min=low, max=high)
        self.counts = [int(c) for c in counts.long().tolist()]
        self.edges = _edges(low, high, bins)

    def _from_counts(self, given: tuple[Any, Any]) -> None:
        try:
            counts, edges = given
            counts = [_count(c) for c in counts]
            edges = [float(e) for e in edges]
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "tether.Histogram(): np_histogram must be (counts, edges) as numpy.histogram "
                f"returns them: non-negative integer counts and len(counts) + 1 numbers ({exc})"
            ) from None
        if not counts or len(edges) != len(counts) + 1:
            raise ValueError(
                f"tether.Histogram(): np_histogram has {len(counts)} counts and {len(edges)} "
                "edges; it needs at least one count and one edge more than counts"
            )
        if len(counts) > MAX_BINS:
            raise ValueError(
                f"tether.Histogram(): {len(counts)} bins, over the {MAX_BINS} allowed; "
                "rebin the counts"
            )
        if not all(map(math.isfinite, edges)) or any(
            not a < b for a, b in itertools.pairwise(edges)
        ):
            raise ValueError("tether.Histogram(): the edges must be finite and increasing")
        self.counts, self.edges = counts, edges
        self.total = sum(counts)

    def _no_finite_values(self, bins: int) -> None:
        # Every value is NaN or infinite: the counts say so, over a nominal [0, 1] span.
        self.counts = [0] * bins
        self.edges = _edges(0.0, 1.0, bins)

    def meta(self) -> dict[str, Any]:
        """The record's ``meta`` (docs/format.md)."""
        return {
            "counts": self.counts,
            "edges": self.edges,
            "nan": self.nan,
            "posinf": self.posinf,
            "neginf": self.neginf,
            "total": self.total,
            "min": self.minimum,
            "max": self.maximum,
        }

    @property
    def nbytes(self) -> int:
        return 64 + 16 * len(self.counts)

    def __repr__(self) -> str:
        return f"<tether.Histogram {len(self.counts)} bins, {self.total} values>"


def _check_not_empty(size: int) -> None:
    if size == 0:
        raise ValueError("tether.Histogram(): no values to bin; pass at least one number")


def _count(value: Any) -> int:
    number = int(value)
    if number != value or number < 0:
        raise ValueError(f"count {value!r} is not a non-negative integer")
    return number


def _span(low: float, high: float) -> tuple[float, float]:
    """The bins' range: the values' own, widened by 0.5 each way when they are all equal."""
    return (low - 0.5, high + 0.5) if low == high else (low, high)


def _edges(low: float, high: float, bins: int) -> list[float]:
    step = (high - low) / bins
    return [low + step * i for i in range(bins)] + [high]
