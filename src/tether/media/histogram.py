"""``Histogram``: a distribution, binned off the training thread; only the counts are kept.

``Histogram(values, bins=64)`` checks and copies at the call; the binning happens when the
writer's thread reads ``meta()``. A numpy array or a CPU tensor is copied (one ``memcpy``)
and binned with numpy there (``np.histogram`` is about 5x faster than ``torch.histc`` on a
CPU). A tensor on another device (CUDA) is binned on that device: the call only queues the
device's work (counts of NaN and infinities, the finite minimum and maximum, ``bincount``
over the bin indices), without waiting for it; the writer's thread then copies back the
``bins + 4`` numbers, never the values. NaN, +inf and -inf are counted apart and left out of
the bins; the bins span the finite values' minimum to maximum. ``Histogram(np_histogram=
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

    __slots__ = (
        "_bins",
        "_counts",
        "_device_work",
        "_values",
        "edges",
        "maximum",
        "minimum",
        "nan",
        "neginf",
        "posinf",
        "total",
    )
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
        self.edges: list[float] = []
        self._counts: list[int] | None = None
        self._values: Any = None  # a numpy copy, binned by ``_bin``
        self._device_work: tuple[Any, ...] | None = None  # device tensors, read by ``_bin``
        if np_histogram is not None:
            self._from_counts(np_histogram)
            return
        if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= MAX_BINS:
            raise ValueError(f"tether.Histogram(): bins={bins!r}; pass an int from 1 to {MAX_BINS}")
        self._bins = bins
        if type(values).__module__.split(".", 1)[0] == "torch":
            self._from_tensor(values)
        else:
            self._values = _numbers(values)
            self.total = int(self._values.size)

    @property
    def counts(self) -> list[int]:
        """The counts of the bins (binned now if not yet)."""
        if self._counts is None:
            self._bin()
        assert self._counts is not None
        return self._counts

    def _from_tensor(self, tensor: Any) -> None:
        import torch

        values = tensor.detach().flatten()
        if values.is_complex():
            raise TypeError("tether.Histogram(): complex values; log .real and .imag apart")
        _check_not_empty(values.numel())
        self.total = int(values.numel())
        if values.device.type == "cpu":
            self._values = _numbers(
                values.numpy(force=True)
                if values.dtype != torch.bfloat16
                else values.float().numpy()
            )
            return
        self._device_work = _device_histogram(values, self._bins)

    def _bin(self) -> None:
        if self._device_work is not None:
            self._bin_device(self._device_work)
        elif self._values is not None:
            self._bin_numpy(self._values)
        self._values = self._device_work = None

    def _bin_numpy(self, array: Any) -> None:
        import numpy as np

        bins = self._bins
        low, high = array.min(), array.max()
        # A NaN or an infinity shows in the minimum or maximum: only then are they counted
        # (three more passes over the values) and left out.
        if array.dtype.kind == "f" and not (np.isfinite(low) and np.isfinite(high)):
            self.nan = int(np.count_nonzero(np.isnan(array)))
            self.posinf = int(np.count_nonzero(array == np.inf))
            self.neginf = int(np.count_nonzero(array == -np.inf))
            array = array[np.isfinite(array)]
            if array.size == 0:
                self._no_finite_values(bins)
                return
            low, high = array.min(), array.max()
        self.minimum, self.maximum = float(low), float(high)
        low, high = _span(self.minimum, self.maximum)
        counts, _ = np.histogram(array, bins=bins, range=(low, high))
        self._counts = [int(c) for c in counts]
        self.edges = _edges(low, high, bins)

    def _bin_device(self, work: tuple[Any, ...]) -> None:
        specials, low_high, counts = work
        self.nan, self.posinf, self.neginf = (int(n) for n in specials.tolist())
        if self.nan + self.posinf + self.neginf == self.total:
            self._no_finite_values(self._bins)
            return
        low, high = (float(v) for v in low_high.tolist())
        self.minimum, self.maximum = low, high
        self._counts = [int(c) for c in counts.tolist()]
        self.edges = _edges(*_span(low, high), self._bins)

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
        self._counts, self.edges = counts, edges
        self.total = sum(counts)

    def _no_finite_values(self, bins: int) -> None:
        # Every value is NaN or infinite: the counts say so, over a nominal [0, 1] span.
        self._counts = [0] * bins
        self.edges = _edges(0.0, 1.0, bins)

    def meta(self) -> dict[str, Any]:
        """The record's ``meta`` (docs/format.md); bins the values first (the writer's thread
        calls this, not the caller of ``log()``)."""
        counts = self.counts
        return {
            "counts": counts,
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
        # The copy waiting to be binned counts against the media queue's cap.
        held = 0 if self._values is None else int(self._values.nbytes)
        return 64 + 16 * (self._bins if self._counts is None else len(self._counts)) + held

    def __repr__(self) -> str:
        bins = self._bins if self._counts is None else len(self._counts)
        return f"<tether.Histogram {bins} bins, {self.total} values>"


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


def _numbers(values: Any) -> Any:
    """``values`` as a flat numpy array of its own (a copy: the caller may change the
    original at once), checked to be numbers; bools count as 0 and 1."""
    import numpy as np

    try:
        array = np.array(values, copy=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"tether.Histogram(): cannot read numbers from the values: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"tether.Histogram(): values of dtype {array.dtype} are not numbers; pass "
            "ints, floats or bools"
        )
    if array.dtype.kind == "b":
        array = array.astype(np.uint8)
    elif array.dtype == np.float16:
        array = array.astype(np.float32)  # np.histogram's edges in float16 lose the bins
    array = array.ravel()
    _check_not_empty(array.size)
    return array


def _device_histogram(values: Any, bins: int) -> tuple[Any, Any, Any]:
    """Queue a histogram's work on the tensor's device and return its small result tensors
    (NaN/+inf/-inf counts, finite min and max, bin counts); nothing here waits for the
    device (no ``.item()``, no boolean indexing, whose size the host would need)."""
    import torch

    if not values.is_floating_point():
        values = values.double()
    elif values.dtype in (torch.float16, torch.bfloat16):
        values = values.float()
    finite = torch.isfinite(values)
    specials = torch.stack(
        [torch.isnan(values).sum(), torch.isposinf(values).sum(), torch.isneginf(values).sum()]
    )
    inf = torch.tensor(math.inf, dtype=values.dtype, device=values.device)
    low_high = torch.stack(
        [torch.where(finite, values, inf).min(), torch.where(finite, values, -inf).max()]
    )
    # The bins' span, as ``_span`` makes it: widened by 0.5 each way when all values are equal.
    widen = (low_high[0] == low_high[1]).to(values.dtype) * 0.5
    low, high = low_high[0] - widen, low_high[1] + widen
    scaled = ((values - low) / (high - low) * bins).floor()
    # The top edge belongs to the last bin (as in numpy); non-finite values go to bin ``bins``,
    # which is cut off below.
    index = torch.where(finite, scaled.clamp(0, bins - 1), torch.full_like(scaled, bins)).long()
    counts = torch.bincount(index, minlength=bins + 1)[:bins]
    return specials, low_high.double(), counts
