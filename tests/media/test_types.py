"""The four media types from each input form, and the user's mistakes refused at the call with
the fix. Encoding is checked through ``tether.media.encode`` on real files (no run needed)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

import tether
from tether.media.blobs import blob_path, read_blob, write_blob
from tether.media.encode import file_info
from tether.media.items import MediaItem


def _stored(tmp_path: Path, media: Any) -> MediaItem:
    info = file_info(tmp_path, "k", 3, 0, media)
    return MediaItem.from_dict(
        {**info, "writer": "main", "time": 1.0}, fetch=lambda h: read_blob(tmp_path, h)
    )


def _pixels(item: MediaItem) -> np.ndarray:
    return np.asarray(item.to_pil())


# -- Image ---------------------------------------------------------------------------------
def test_image_from_uint8_hw_hwc_and_chw(tmp_path: Path) -> None:
    rgb = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    for given in (rgb, rgb.transpose(2, 0, 1)):
        item = _stored(tmp_path, tether.Image(given, caption="cat"))
        assert item.meta == {
            "width": 7,
            "height": 5,
            "channels": 3,
            "format": "png",
            "caption": "cat",
        }
        assert item.media_type == "image/png" and item.size == len(item.read_bytes())
        assert (_pixels(item) == rgb).all()
    gray = np.full((4, 6), 200, dtype=np.uint8)
    assert (_pixels(_stored(tmp_path, tether.Image(gray))) == gray).all()
    assert (_pixels(_stored(tmp_path, tether.Image(gray[:, :, None]))) == gray).all()
    rgba = np.zeros((3, 3, 4), dtype=np.uint8)
    assert _stored(tmp_path, tether.Image(rgba)).meta["channels"] == 4


def test_float_images_are_clipped_to_0_1_and_nan_is_black(tmp_path: Path) -> None:
    values = np.array([[-0.5, 0.0, 0.5], [1.0, 7.0, math.nan]])
    pixels = _pixels(_stored(tmp_path, tether.Image(values)))
    assert pixels.tolist() == [[0, 0, 128], [255, 255, 0]]
    mask = np.array([[True, False]])
    assert _pixels(_stored(tmp_path, tether.Image(mask))).tolist() == [[255, 0]]


def test_image_from_torch_tensors_of_any_float_dtype(tmp_path: Path) -> None:
    chw = torch.rand(3, 8, 10)
    item = _stored(tmp_path, tether.Image(chw))
    assert (item.meta["width"], item.meta["height"]) == (10, 8)
    expected = (chw.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.abs(_pixels(item).astype(int) - expected).max() <= 1
    half = _stored(tmp_path, tether.Image(torch.ones(4, 4, dtype=torch.bfloat16)))
    assert _pixels(half).tolist() == [[255] * 4] * 4
    grad = torch.zeros(2, 2, requires_grad=True)
    assert _stored(tmp_path, tether.Image(grad)).meta["channels"] == 1


@pytest.mark.parametrize(
    ("mode", "channels"),
    [("1", 1), ("L", 1), ("I;16", 1), ("F", 1), ("P", 4), ("LA", 4), ("CMYK", 3)],
)
def test_pil_images_of_any_mode(tmp_path: Path, mode: str, channels: int) -> None:
    item = _stored(tmp_path, tether.Image(PILImage.new(mode, (3, 2))))
    assert item.meta["channels"] == channels
    assert item.to_pil().mode == {1: "L", 3: "RGB", 4: "RGBA"}[channels]


def test_image_from_pil_file_and_figure(tmp_path: Path) -> None:
    pil = PILImage.new("RGB", (9, 4), (10, 20, 30))
    item = _stored(tmp_path, tether.Image(pil))
    assert (item.meta["width"], item.meta["height"]) == (9, 4)
    assert _pixels(item)[0, 0].tolist() == [10, 20, 30]
    # A PNG or JPEG file is kept byte for byte; another format is re-encoded as PNG.
    for name, fmt in (("a.png", "PNG"), ("a.jpg", "JPEG")):
        pil.save(tmp_path / name, format=fmt)
        item = _stored(tmp_path, tether.Image(tmp_path / name))
        assert item.read_bytes() == (tmp_path / name).read_bytes()
        assert item.meta["format"] == {"PNG": "png", "JPEG": "jpeg"}[fmt]
    pil.save(tmp_path / "a.bmp", format="BMP")
    item = _stored(tmp_path, tether.Image(str(tmp_path / "a.bmp")))
    assert item.media_type == "image/png" and _pixels(item)[0, 0].tolist() == [10, 20, 30]
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(2, 1), dpi=50)
    item = _stored(tmp_path, tether.Image(figure))
    plt.close(figure)
    assert (item.meta["width"], item.meta["height"]) == (100, 50)


def test_jpeg_when_asked_and_for_big_rgb_images(tmp_path: Path) -> None:
    small = np.zeros((8, 8, 3), dtype=np.uint8)
    assert tether.Image(small).format == "png"
    assert _stored(tmp_path, tether.Image(small, format="jpeg")).media_type == "image/jpeg"
    # RGBA asked as JPEG loses its alpha rather than failing.
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    assert _stored(tmp_path, tether.Image(rgba, format="jpeg")).to_pil().mode == "RGB"
    big = np.zeros((1025, 1024, 3), dtype=np.uint8)
    assert tether.Image(big).format == "jpeg"
    assert tether.Image(big, format="png").format == "png"
    assert tether.Image(big[:, :, 0]).format == "png"  # grayscale: never JPEG unless asked


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (np.zeros((2, 4, 4, 3), dtype=np.uint8), ValueError, "is a batch"),
        (np.zeros((4, 4), dtype=np.complex64), TypeError, "dtype complex64 is not an image"),
        (np.array([["a", "b"]]), TypeError, "astype(numpy.uint8)"),
        (np.zeros((4, 4), dtype=np.int64), TypeError, "dtype int64"),
        (np.zeros((5, 6, 5), dtype=np.uint8), ValueError, "1, 3 or 4 channels"),
        (np.zeros((8193, 2), dtype=np.uint8), ValueError, "at most 8192 pixels"),
        (np.zeros((0, 2), dtype=np.uint8), ValueError, "no pixels"),
        (np.zeros(5, dtype=np.uint8), ValueError, "not an image"),
        ("/no/such/file.png", ValueError, "cannot read the image file '/no/such/file.png'"),
    ],
)
def test_bad_images_are_refused_with_the_fix(data: Any, error: type, words: str) -> None:
    with pytest.raises(error) as caught:
        tether.Image(data)
    assert words in str(caught.value)


def test_bad_image_options() -> None:
    with pytest.raises(ValueError, match="format='gif' is not one of 'png', 'jpeg'"):
        tether.Image(np.zeros((2, 2)), format="gif")
    with pytest.raises(TypeError, match="caption must be a str, got int"):
        tether.Image(np.zeros((2, 2)), caption=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lone surrogate"):
        tether.Image(np.zeros((2, 2)), caption="bad \udc80")


def test_a_file_that_is_no_image(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="is not an image Pillow can read"):
        tether.Image(tmp_path / "notes.png")


# -- Histogram -----------------------------------------------------------------------------
def test_histogram_counts_nan_and_infinities_apart() -> None:
    values = [1.0, 2.0, 2.0, 3.0, math.nan, math.inf, -math.inf, -math.inf]
    for given in (values, np.array(values), torch.tensor(values)):
        meta = tether.Histogram(given, bins=4).meta()
        assert meta["counts"] == [1, 0, 2, 1] and meta["edges"] == [1.0, 1.5, 2.0, 2.5, 3.0]
        assert (meta["nan"], meta["posinf"], meta["neginf"], meta["total"]) == (1, 1, 2, 8)
        assert (meta["min"], meta["max"]) == (1.0, 3.0)


def test_histogram_agrees_with_numpy_for_torch_and_numpy_inputs() -> None:
    values = np.random.default_rng(0).normal(size=5000).astype(np.float32)
    expected, _ = np.histogram(values, bins=64)
    for given in (values, torch.from_numpy(values), torch.from_numpy(values).half()):
        counts = tether.Histogram(given).counts
        assert sum(counts) == 5000
        assert np.abs(np.array(counts) - expected).max() <= 2  # float32 edges may differ


def test_histogram_of_ints_bools_one_value_and_no_finite_value() -> None:
    assert tether.Histogram(torch.arange(10), bins=5).counts == [2, 2, 2, 2, 2]
    assert sum(tether.Histogram(np.array([True, False, True]), bins=2).counts) == 3
    same = tether.Histogram([4.0, 4.0], bins=2).meta()
    assert same["edges"] == [3.5, 4.0, 4.5] and same["counts"] == [0, 2]
    nans = tether.Histogram([math.nan, math.nan], bins=3).meta()
    assert nans["counts"] == [0, 0, 0] and nans["nan"] == 2 and nans["min"] is None


def test_histogram_from_numpy_histogram() -> None:
    counts, edges = np.histogram([1, 2, 2, 3], bins=3)
    meta = tether.Histogram(np_histogram=(counts, edges)).meta()
    assert meta["counts"] == [1, 2, 1] and len(meta["edges"]) == 4 and meta["total"] == 4


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: tether.Histogram([]), ValueError, "no values to bin"),
        (lambda: tether.Histogram(torch.tensor([])), ValueError, "no values to bin"),
        (lambda: tether.Histogram([1], bins=0), ValueError, "bins=0; pass an int from 1 to 512"),
        (lambda: tether.Histogram(["a"]), TypeError, "are not numbers"),
        (tether.Histogram, TypeError, "one of the two"),
        (lambda: tether.Histogram(np_histogram=([1, 2], [0, 1])), ValueError, "2 counts and 2"),
        (lambda: tether.Histogram(np_histogram=([1], [1, 0])), ValueError, "increasing"),
        (lambda: tether.Histogram(np_histogram=([-1], [0, 1])), TypeError, "non-negative"),
    ],
)
def test_bad_histograms_are_refused(call: Any, error: type, words: str) -> None:
    with pytest.raises(error) as caught:
        call()
    assert words in str(caught.value)


# -- Table ---------------------------------------------------------------------------------
def test_table_from_rows_and_dataframe(tmp_path: Path) -> None:
    import pandas as pd

    image = tether.Image(np.full((2, 3), 9, dtype=np.uint8), caption="nine")
    rows = [[1, "a", True, None, image], [np.float32(2.5), "b", False, math.nan, image]]
    table = tether.Table(columns=["n", "s", "b", "none", "img"], rows=rows)
    item = _stored(tmp_path, table)
    assert item.media_type == "application/json"
    assert item.meta["columns"] == ["n", "s", "b", "none", "img"] and item.meta["n_rows"] == 2
    frame = item.to_pandas()
    assert list(frame.columns) == ["n", "s", "b", "none", "img"]
    assert frame["n"].tolist() == [1, 2.5] and frame["s"].tolist() == ["a", "b"]
    assert frame["none"].isna().all()  # None, and NaN written as JSON null
    cell = frame["img"][0]
    assert isinstance(cell, MediaItem) and cell.kind == "image" and cell.meta["caption"] == "nine"
    assert item.meta["refs"] == [cell.sha256]  # one object in two cells: one blob
    assert blob_path(tmp_path, cell.sha256).exists()
    assert (_pixels(cell) == 9).all()
    df = pd.DataFrame({"x": [1, 2], "y": ["u", "v"]})
    again = _stored(tmp_path, tether.Table(dataframe=df)).to_pandas()
    assert again.equals(df)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"columns": ["a", "b"], "rows": [[1, 2], [3]]}, ValueError, "row 1 has 1 cells"),
        ({"columns": ["a"], "rows": [[{"x": 1}]]}, TypeError, "row 0, column 'a' holds a dict"),
        ({"columns": ["a"], "rows": [[tether.Text("t")]]}, TypeError, "holds a Text"),
        ({"columns": ["a", "a"], "rows": []}, ValueError, "column 'a' is named twice"),
        ({"columns": [1], "rows": []}, TypeError, "column name 1 is a int"),
        ({"columns": ["a"]}, TypeError, "pass columns="),
        ({"columns": ["a"], "rows": ["ab"]}, TypeError, "row 0 is a str"),
    ],
)
def test_bad_tables_are_refused(kwargs: dict[str, Any], error: type, words: str) -> None:
    with pytest.raises(error) as caught:
        tether.Table(**kwargs)
    assert words in str(caught.value)


# -- Text ----------------------------------------------------------------------------------
def test_text_markdown_and_plain(tmp_path: Path) -> None:
    item = _stored(tmp_path, tether.Text("# Title\nhé"))
    assert item.text() == "# Title\nhé" and item.media_type == "text/markdown"
    assert item.meta == {"format": "markdown", "chars": 10}
    plain = _stored(tmp_path, tether.Text("x", format="plain"))
    assert plain.media_type == "text/plain" and plain.meta["format"] == "plain"
    with pytest.raises(ValueError, match="format='html' is not one of"):
        tether.Text("x", format="html")
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        tether.Text(b"x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lone surrogate"):
        tether.Text("\ud800")
    with pytest.raises(ValueError, match="67,108,865 bytes of UTF-8, over the 67,108,864"):
        tether.Text("x" * (64 * 1024 * 1024 + 1))


# -- MediaItem and blobs ---------------------------------------------------------------------
def test_items_say_what_they_are_not(tmp_path: Path) -> None:
    histogram = _stored(tmp_path, tether.Histogram([1, 2]))
    assert histogram.sha256 is None and histogram.histogram()[0].sum() == 2
    with pytest.raises(tether.UsageError, match="has no stored bytes"):
        histogram.read_bytes()
    with pytest.raises(tether.UsageError, match=r"is a histogram; \.to_pil\(\) reads a image"):
        histogram.to_pil()


def test_download_names_the_file_after_key_step_and_index(tmp_path: Path) -> None:
    item = _stored(tmp_path, tether.Image(np.zeros((2, 2), dtype=np.uint8)))
    target = tmp_path / "out"
    target.mkdir()
    path = item.download(target)
    assert path.name == "k_3_0.png" and path.read_bytes() == item.read_bytes()
    assert item.download(tmp_path / "x.bin").read_bytes() == item.read_bytes()
    PILImage.open(io.BytesIO(path.read_bytes())).verify()


def test_blobs_are_stored_once_under_their_hash(tmp_path: Path) -> None:
    sha, size = write_blob(tmp_path, b"hello")
    assert size == 5 and blob_path(tmp_path, sha).read_bytes() == b"hello"
    mtime = blob_path(tmp_path, sha).stat().st_mtime_ns
    assert write_blob(tmp_path, b"hello") == (sha, 5)
    assert blob_path(tmp_path, sha).stat().st_mtime_ns == mtime
    assert [p.name for p in (tmp_path / "blobs").iterdir()] == [sha]  # no temporary left
    for bad in ("../x", "A" * 64, sha[:-1]):
        with pytest.raises(ValueError, match="is not a sha256"):
            blob_path(tmp_path, bad)


def test_a_device_tensor_is_binned_on_its_device_as_numpy_bins_it() -> None:
    """The CUDA path (``_device_histogram``: no host sync, bincount over bin indices) run on
    a CPU tensor gives numpy's counts, specials and span, with the writer's read deferred."""
    from tether.media import histogram as histogram_module

    rng = np.random.default_rng(3)
    values = rng.normal(size=10_000).astype(np.float32)
    values[[5, 17, 99]] = [math.nan, math.inf, -math.inf]
    for given, bins in ((values, 64), (np.full(7, 2.5, dtype=np.float32), 3)):
        expected = tether.Histogram(given, bins=bins).meta()
        deferred = tether.Histogram(np.zeros(1), bins=bins)  # its fields, filled by the device
        deferred.total = int(given.size)
        deferred._device_work = histogram_module._device_histogram(torch.from_numpy(given), bins)
        deferred._values = None
        deferred._counts = None
        got = deferred.meta()
        assert got["counts"] == expected["counts"]
        assert (got["nan"], got["posinf"], got["neginf"]) == (
            expected["nan"],
            expected["posinf"],
            expected["neginf"],
        )
        assert got["min"] == pytest.approx(expected["min"])
        assert got["max"] == pytest.approx(expected["max"])
        assert got["edges"] == pytest.approx(expected["edges"])


def test_the_values_are_copied_at_the_call_and_binned_later() -> None:
    values = np.arange(1000, dtype=np.float64)
    histogram = tether.Histogram(values, bins=2)
    values[:] = 100.0  # the caller reuses its buffer at once
    assert histogram.nbytes >= values.nbytes  # the copy counts against the queue's cap
    assert histogram.meta()["counts"] == [500, 500]
    assert histogram.nbytes < values.nbytes  # binned: the copy is gone
