"""The fastai callback's predictions table: the first validation samples of an epoch, decoded
as fastai shows them, one row a sample (``TetherCallback(log_preds=True)``).

During validation ``add`` keeps the first ``limit`` samples' inputs, targets and raw
predictions (detached, on the CPU: a few samples, not the epoch). At the epoch's end ``table``
decodes them through the validation ``DataLoader``'s own pipeline (``decode_batch``: images
un-normalised back to pixels, category indices to their names) and the loss function's
``decodes`` (activations to a class), as fastai's ``show_results`` does, and computes each
sample's loss alone. Images become ``tether.Image``; numbers stay numbers; anything else is
kept as its text.
"""

from __future__ import annotations

from typing import Any

from tether.integrations._plain import scalar_number
from tether.media.table import Table
from tether.media.types import Image

# A cell that is neither an image nor a number is kept as text, this long at most.
MAX_TEXT_CHARS = 200


class PredictionSampler:
    """The first ``limit`` validation samples of an epoch, and the table made of them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._batches: list[tuple[tuple[Any, ...], tuple[Any, ...], Any]] = []
        self.count = 0

    def clear(self) -> None:
        self._batches.clear()
        self.count = 0

    def add(self, xb: tuple[Any, ...], yb: tuple[Any, ...], pred: Any) -> None:
        """Keep what this batch adds to the first ``limit`` samples."""
        take = min(self.limit - self.count, len(pred) if hasattr(pred, "__len__") else 0)
        if take <= 0:
            return
        keep = _kept(take)
        self._batches.append((tuple(map(keep, xb)), tuple(map(keep, yb)), keep(pred)))
        self.count += take

    def table(self, learn: Any) -> Table:
        """The samples as a ``tether.Table``: inputs, target, prediction, loss."""
        import torch

        xb = tuple(torch.cat(part) for part in zip(*(b[0] for b in self._batches), strict=True))
        yb = tuple(torch.cat(part) for part in zip(*(b[1] for b in self._batches), strict=True))
        pred = torch.cat([b[2] for b in self._batches])
        dl = learn.dls.valid
        n_inp = len(xb)
        shown = dl.decode_batch((*xb, *yb), max_n=self.count)
        decodes = getattr(learn.loss_func, "decodes", None)
        decoded = decodes(pred) if callable(decodes) else pred
        outs = dl.decode_batch((*xb, decoded), max_n=self.count)
        inputs = ["input"] if n_inp == 1 else [f"input_{i}" for i in range(n_inp)]
        targets = ["target"] if len(yb) == 1 else [f"target_{i}" for i in range(len(yb))]
        rows = []
        for i, (sample, out) in enumerate(zip(shown, outs, strict=False)):
            cells = [_cell(value) for value in sample[: n_inp + len(yb)]]
            predictions = [_cell(value) for value in out[n_inp:]]
            rows.append([*cells, *predictions, _loss(learn.loss_func, pred, yb, i)])
        width = max(len(out) - n_inp for out in outs) if outs else 1
        names = ["prediction"] if width == 1 else [f"prediction_{i}" for i in range(width)]
        return Table(columns=[*inputs, *targets, *names, "loss"], rows=rows)


def _kept(take: int) -> Any:
    def keep(tensor: Any) -> Any:
        return tensor[:take].detach().cpu()

    return keep


def _loss(loss_func: Any, pred: Any, yb: tuple[Any, ...], i: int) -> float | None:
    """Sample ``i``'s loss on its own (None where the loss function cannot say)."""
    try:
        value = loss_func(pred[i : i + 1], *(y[i : i + 1] for y in yb))
    except Exception:
        return None
    number = scalar_number(value)
    return None if number is None else float(number)


def _cell(value: Any) -> Any:
    """One decoded value as a table cell: an image, a number, or its text."""
    image = _image(value)
    if image is not None:
        return image
    number = scalar_number(value)
    if number is not None:
        return number
    text = str(value)
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"


def _image(value: Any) -> Image | None:
    """A ``tether.Image`` of fastai's decoded ``TensorImage`` or ``PILImage``, else None."""
    kind = type(value).__name__
    if not kind.startswith(("TensorImage", "PILImage")):
        return None
    import numpy
    import torch

    if kind.startswith("PILImage"):
        return Image(numpy.asarray(value))
    pixels = value.detach().cpu().as_subclass(torch.Tensor).numpy()
    if pixels.dtype.kind in "iu":  # IntToFloatTensor decodes to whole numbers 0-255
        pixels = pixels.clip(0, 255).astype(numpy.uint8)
    return Image(pixels)
