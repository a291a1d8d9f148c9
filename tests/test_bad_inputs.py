"""Bad input gets a clear error that names the problem: one table row per case.

API rows assert the exception type and a pattern naming the problem; CLI rows assert
exit status 2, one line on stderr naming the problem, and that nothing was written.
Then: SIGINT in the middle of a CLI run, and two threads segmenting with one model.
"""

import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import tifffile

import convpaint
from convpaint import memory
from convpaint.axes import AxesError
from convpaint.cli import main
from convpaint.model_file import ModelFileError
from convpaint.registry import ExtractorNotFoundError

M = convpaint.ConvpaintModel


@pytest.fixture
def ctx(blobs, tmp_path):
    image, truth, scribbles = blobs
    model = M("raw", n_estimators=5).train(image, scribbles)
    return SimpleNamespace(img=image, ann=scribbles, model=model, tmp=tmp_path, truth=truth)


def _with(image, index, value):
    image = image.astype(np.float32, copy=True)
    image[index] = value
    return image


def _lazy(a):
    import dask.array as da

    return da.from_array(a, chunks=tuple(max(1, n // 2) for n in a.shape))


def _unknown_chunks(a):
    x = _lazy(a)
    return x[x[:, 0] > -1]  # boolean indexing: chunk sizes unknown


def _everywhere(image):
    """Scribbles on every pixel (two classes): a forest of about one leaf per pixel."""
    return (image > np.median(image)).astype(np.uint8) + 1


def _set_event():
    event = threading.Event()
    event.set()
    return event


def _with_memory(call, available):
    """Run ``call`` as if only ``available`` bytes were free (features and image fit)."""
    original = memory.available_bytes
    memory.available_bytes = lambda: available
    try:
        return call()
    finally:
        memory.available_bytes = original


def _pickled_model(c):
    path = c.tmp / "pickled.npz"
    np.savez(path, meta=np.array([{"format": "convpaint-model"}], dtype=object))
    return path


def _garbage(c, name="garbage.npz", data=b"PK\x03\x04 not really a zip"):
    path = c.tmp / name
    path.write_bytes(data)
    return path


API_CASES = [
    # -- image dtypes and values
    ("nan-image", lambda c: c.model.train(_with(c.img, (3, 4), np.nan), c.ann), ValueError, "NaN"),
    ("inf-image", lambda c: c.model.segment(_with(c.img, (0, 0), np.inf)), ValueError, "infinite"),
    ("complex-image", lambda c: c.model.segment(c.img.astype(np.complex64)), TypeError, "complex"),
    (
        "string-image",
        lambda c: c.model.train(np.full(c.ann.shape, "a"), c.ann),
        TypeError,
        "not numeric",
    ),
    ("object-image", lambda c: c.model.segment(c.img.astype(object)), TypeError, "not numeric"),
    ("datetime-image", lambda c: c.model.segment(c.img.astype("M8[s]")), TypeError, "not numeric"),
    # -- shapes and axes
    ("1d-image", lambda c: c.model.segment(c.img[0]), AxesError, r"shape \(120,\).*axes="),
    ("empty-image", lambda c: c.model.segment(c.img[:0]), ValueError, "empty spatial dimension"),
    (
        "ambiguous-3d",
        lambda c: M("raw").train(np.stack([c.img] * 5), np.stack([c.ann] * 5)),
        AxesError,
        "axes=",
    ),
    (
        "unknown-axis",
        lambda c: c.model.segment(c.img, axes="QX"),
        AxesError,
        "unknown axis letter.*Q",
    ),
    (
        "axes-length",
        lambda c: c.model.segment(c.img, axes="ZYX"),
        AxesError,
        "3 letters but the image has 2",
    ),
    ("repeated-axis", lambda c: c.model.segment(c.img, axes="YY"), AxesError, "repeated axis"),
    (
        "axes-without-yx",
        lambda c: c.model.segment(c.img, axes="ZX"),
        AxesError,
        "must contain Y and X",
    ),
    (
        "channel-count",
        lambda c: c.model.segment(np.stack([c.img] * 3), axes="CYX"),
        ValueError,
        "3 channel.*trained on 1",
    ),
    (
        "giant-image",
        lambda c: c.model.segment(np.broadcast_to(np.float32(1), (10**5, 10**5))),
        convpaint.InsufficientMemoryError,
        "available.*region=",
    ),
    # -- scribbles
    ("scribble-shape", lambda c: M("raw").train(c.img, c.ann[:-1]), ValueError, "does not match"),
    (
        "scribble-ndim",
        lambda c: M("raw").train(c.img, c.ann.ravel()),
        AxesError,
        "annotations have 1 dimensions",
    ),
    (
        "scribble-negative",
        lambda c: M("raw").train(c.img, c.ann.astype(int) - 1),
        ValueError,
        ">= 0",
    ),
    (
        "scribble-fraction",
        lambda c: M("raw").train(c.img, c.ann * 0.5),
        ValueError,
        "integer class labels",
    ),
    (
        "scribble-nan",
        lambda c: M("raw").train(c.img, np.where(c.ann > 0, c.ann, np.nan)),
        ValueError,
        "integer class labels",
    ),
    (
        "scribble-strings",
        lambda c: M("raw").train(c.img, c.ann.astype(str)),
        ValueError,
        "integer class labels",
    ),
    ("scribble-one-class", lambda c: M("raw").train(c.img, c.ann > 0), ValueError, "single class"),
    ("scribble-empty", lambda c: M("raw").train(c.img, np.zeros_like(c.ann)), ValueError, "empty"),
    (
        "list-lengths",
        lambda c: M("raw").train([c.img, c.img], [c.ann]),
        ValueError,
        "2 images but 1",
    ),
    # -- options and calls
    ("untrained", lambda c: M("raw").segment(c.img), RuntimeError, "not trained"),
    ("normalize-option", lambda c: M("raw", normalize="zscore"), ValueError, "normalize"),
    ("scalings-option", lambda c: M("raw", scalings=(0,)), ValueError, "scalings"),
    (
        "tile-size-option",
        lambda c: M("raw", tile_size="big"),
        ValueError,
        "tile_size must be a positive",
    ),
    ("workers-option", lambda c: M("raw", workers=0), ValueError, "workers must be a positive"),
    ("cache-option", lambda c: M("raw", cache_bytes=-1), ValueError, "cache_bytes"),
    ("volumetric-2d-only", lambda c: M("sobel", volumetric=True), ValueError, "3-D"),
    (
        "unknown-extractor",
        lambda c: M("nosuch"),
        ExtractorNotFoundError,
        "no extractor named 'nosuch'",
    ),
    ("extractor-option", lambda c: M("raw", sigma=3), TypeError, "takes no options.*sigma"),
    (
        "region-out-of-range",
        lambda c: c.model.segment(c.img, region=(500,)),
        IndexError,
        "index 500 is out of range for axis Y",
    ),
    (
        "region-step",
        lambda c: c.model.segment(c.img, region=(slice(0, 9, 2),)),
        ValueError,
        "step 1",
    ),
    (
        "region-float",
        lambda c: c.model.segment(c.img, region=(1.5,)),
        TypeError,
        "integers or slices",
    ),
    ("cancel-type", lambda c: c.model.segment(c.img, cancel=5), TypeError, "cancel must be"),
    # -- issue 14: lazy inputs, decisions of item 11, messages of item 10, guard of item 8
    ("region-bool", lambda c: c.model.segment(c.img, region=(True,)), TypeError, "bool"),
    ("tile-size-one", lambda c: M("raw", tile_size=1), ValueError, "tile_size must be at least"),
    ("volumetric-string", lambda c: M("ilastik", volumetric="no"), TypeError, "volumetric must"),
    (
        "empty-z-axis",
        lambda c: c.model.segment(np.zeros((0, 32, 32), np.float32), axes="ZYX"),
        ValueError,
        r"empty spatial dimension \(Z\)",
    ),
    (
        "huge-values",
        lambda c: c.model.segment(np.where(c.img > 0.9, 1e300, c.img.astype(np.float64))),
        ValueError,
        "too large to normalise",
    ),
    (
        "lazy-unknown-chunks",
        lambda c: c.model.segment(_unknown_chunks(c.img)),
        ValueError,
        "unknown chunk sizes",
    ),
    (
        "lazy-nan-image",
        lambda c: c.model.segment(_lazy(_with(c.img, (3, 4), np.nan))).compute(),
        ValueError,
        "NaN",
    ),
    (
        "lazy-complex-image",
        lambda c: c.model.segment(_lazy(c.img.astype(np.complex64))),
        TypeError,
        "complex",
    ),
    (
        "lazy-channel-count",
        lambda c: c.model.segment(_lazy(np.stack([c.img] * 3, -1))),
        ValueError,
        "trained on 1",
    ),
    (
        "lazy-scribble-shape",
        lambda c: M("raw").train(_lazy(c.img), c.ann[:-1]),
        ValueError,
        "does not match",
    ),
    (
        "lazy-scribble-negative",
        lambda c: M("raw").train(_lazy(c.img), _lazy(c.ann.astype(np.int16) - 1)),
        ValueError,
        ">= 0",
    ),
    (
        "lazy-scribble-fraction",
        lambda c: M("raw").train(_lazy(c.img), _lazy(c.ann * 0.5)),
        ValueError,
        "integer class labels",
    ),
    (
        "lazy-scribble-empty",
        lambda c: M("raw").train(_lazy(c.img), _lazy(np.zeros_like(c.ann))),
        ValueError,
        "annotations are empty",
    ),
    (
        "lazy-one-class",
        lambda c: M("raw").train(_lazy(c.img), _lazy((c.ann > 0).astype(np.uint8))),
        ValueError,
        "single class",
    ),
    (
        "lazy-cancelled",
        lambda c: c.model.segment(_lazy(c.img), cancel=_set_event()),
        convpaint.Cancelled,
        "cancelled",
    ),
    (
        "class-uint64-above-int64",
        lambda c: M("raw").train(c.img, c.ann.astype(np.uint64) * np.uint64(2**63 + 5)),
        ValueError,
        "9223372036854775813",
    ),
    (
        "class-float-1e20",
        lambda c: M("raw").train(c.img, np.where(c.ann == 2, 1e20, c.ann)),
        ValueError,
        "out of range|refused",
    ),
    (
        "forest-too-large",
        lambda c: _with_memory(lambda: M("raw").train(c.img, _everywhere(c.img)), 64 * 2**20),
        convpaint.InsufficientMemoryError,
        "random forest.*max_depth=",
    ),
    # -- model files, paths and permissions
    (
        "model-missing",
        lambda c: convpaint.load_model(c.tmp / "none.npz"),
        ModelFileError,
        "not found",
    ),
    ("model-folder", lambda c: convpaint.load_model(c.tmp), ModelFileError, "not found"),
    (
        "model-garbage",
        lambda c: convpaint.load_model(_garbage(c)),
        ModelFileError,
        "not a readable convpaint model",
    ),
    (
        "model-empty",
        lambda c: convpaint.load_model(_garbage(c, data=b"")),
        ModelFileError,
        "not a readable",
    ),
    (
        "model-pickle",
        lambda c: convpaint.load_model(_pickled_model(c)),
        ModelFileError,
        "object arrays|pickle",
    ),
    ("save-untrained", lambda c: M("raw").save(c.tmp / "m.npz"), RuntimeError, "not trained"),
    (
        "save-under-a-file",
        lambda c: c.model.save(_garbage(c, "f.txt") / "m.npz"),
        NotADirectoryError,
        "f.txt is a file, not a folder",
    ),
    (
        "save-unwritable-fs",
        lambda c: c.model.save("/proc/convpaint-m.npz"),
        OSError,
        "cannot write /proc/convpaint-m.npz",
    ),
]


@pytest.mark.parametrize(
    "call, exc, pattern", [row[1:] for row in API_CASES], ids=[row[0] for row in API_CASES]
)
def test_api_bad_input(ctx, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call(ctx)
    assert not [p for p in ctx.tmp.rglob(".*")], "a temporary file was left behind"


def test_unwritable_folder(ctx):
    if os.geteuid() == 0:
        pytest.skip("root ignores file permissions")
    folder = ctx.tmp / "ro"
    folder.mkdir(mode=0o500)
    with pytest.raises(PermissionError, match="cannot write .*m.npz"):
        ctx.model.save(folder / "m.npz")


# -- the command line -------------------------------------------------------------------------
@pytest.fixture
def files(ctx):
    d = ctx.tmp
    tifffile.imwrite(d / "img.tif", ctx.img)
    tifffile.imwrite(d / "ann.tif", ctx.ann)
    ctx.model.save(d / "m.npz")
    np.save(d / "complex.npy", ctx.img.astype(np.complex64))
    with open(d / "objects.npy", "wb") as f:
        pickle.dump([1, 2], f)  # not an array file: must not be unpickled
    (d / "corrupt.tif").write_bytes(b"II*\x00garbage")
    (d / "img.bmp").write_bytes(b"BM")
    (d / "a_file").write_text("x")
    return d


CLI_CASES = [
    ("missing-image", "segment {d}/m.npz {d}/nope.tif -o {d}/out.tif", "no such file"),
    (
        "unsupported-image",
        "segment {d}/m.npz {d}/img.bmp -o {d}/out.tif",
        "unsupported file type '.bmp'",
    ),
    (
        "corrupt-image",
        "segment {d}/m.npz {d}/corrupt.tif -o {d}/out.tif",
        "corrupt.tif: cannot read image",
    ),
    (
        "pickled-npy",
        "segment {d}/m.npz {d}/objects.npy -o {d}/out.tif",
        "objects.npy: cannot read image",
    ),
    ("complex-npy", "segment {d}/m.npz {d}/complex.npy -o {d}/out.tif", "complex"),
    ("missing-model", "segment {d}/none.npz {d}/img.tif -o {d}/out.tif", "model file not found"),
    (
        "garbage-model",
        "segment {d}/img.tif {d}/img.tif -o {d}/out.tif",
        "not a readable convpaint model",
    ),
    (
        "output-type",
        "segment {d}/m.npz {d}/img.tif -o {d}/out.jpg",
        "unsupported output type '.jpg'",
    ),
    (
        "output-under-file",
        "segment {d}/m.npz {d}/img.tif -o {d}/a_file/out.tif",
        "a_file is a file, not a folder",
    ),
    (
        "train-counts",
        "train {d}/img.tif {d}/img.tif -a {d}/ann.tif -o {d}/out.npz",
        "2 image.*1 annotation",
    ),
    (
        "train-shape",
        "train {d}/img.tif -a {d}/img.tif -o {d}/out.npz -e raw",
        "integer class labels",
    ),
    (
        "train-option",
        "train {d}/img.tif -a {d}/ann.tif -o {d}/out.npz --option nokey",
        "not KEY=VALUE",
    ),
    (
        "train-scalings",
        "train {d}/img.tif -a {d}/ann.tif -o {d}/out.npz --scalings 1,x",
        "comma-separated integers",
    ),
    (
        "train-extractor",
        "train {d}/img.tif -a {d}/ann.tif -o {d}/out.npz -e nope",
        "no extractor named 'nope'",
    ),
    ("train-axes", "train {d}/img.tif -a {d}/ann.tif -o {d}/out.npz --axes ZYX", "3 letters"),
    ("segment-memory", "segment {d}/m.npz {d}/img.tif -o {d}/out.tif", "memory.*available"),
]


@pytest.mark.parametrize(
    "argv, pattern", [row[1:] for row in CLI_CASES], ids=[row[0] for row in CLI_CASES]
)
def test_cli_bad_input(files, capsys, monkeypatch, request, argv, pattern):
    if request.node.callspec.id == "segment-memory":
        monkeypatch.setattr(memory, "available_bytes", lambda: 4096)
    before = {p.name for p in files.iterdir()}
    code = main(argv.format(d=files).split() + ["-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("convpaint: error:") and "\n" not in err and "Traceback" not in err
    assert re.search(pattern, err), err
    assert {p.name for p in files.iterdir()} == before, "something was written"


# -- interrupted runs ---------------------------------------------------------------------
def test_sigint_mid_run_leaves_no_partial_output(tmp_path, blobs):
    """Segment several images to a folder; SIGINT after the first: exit 130, finished
    outputs complete, no temporary or half-written file."""
    image, _, scribbles = blobs
    big = np.tile(image, (12, 12))  # 1152 x 1440 px
    model = M("ilastik" if "ilastik" in convpaint.list_extractors() else "raw", n_estimators=5)
    model.train(image, scribbles)
    model.save(tmp_path / "m.npz")
    names = []
    for i in range(8):
        tifffile.imwrite(tmp_path / f"in{i}.tif", np.roll(big, i, axis=1))
        names.append(str(tmp_path / f"in{i}.tif"))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "convpaint.cli", "segment", str(tmp_path / "m.npz"), *names]
        + ["-o", str(out), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell without job control starts background jobs with SIGINT ignored, and Python
        # keeps it ignored: give the child the default disposition, as in a terminal
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120

    def finished():  # a published output (temporary files beside it start with a dot)
        return out.is_dir() and any(
            p.suffix == ".tif" and not p.name.startswith(".") for p in out.iterdir()
        )

    while not finished():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    written = sorted(out.iterdir())
    assert not [p for p in written if p.name.startswith(".")], "temporary file left"
    assert 1 <= len(written) < 8, [p.name for p in written]
    for path in written:
        assert tifffile.imread(path).shape == big.shape


# -- threads ------------------------------------------------------------------------------
def test_two_threads_segmenting_with_one_model_match_sequential(blobs):
    image, _, scribbles = blobs
    name = "ilastik" if "ilastik" in convpaint.list_extractors() else "raw"
    model = M(name, n_estimators=10).train(image, scribbles)
    images = [np.tile(image, (3, 3)), np.tile(image[::-1], (3, 3))]
    expected = [model.segment(im) for im in images]
    expected_proba = model.predict_proba(images[1])
    model.feature_cache.clear()
    results: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(2)

    def work(i):
        barrier.wait()
        results[i] = model.segment(images[i]) if i == 0 else model.predict_proba(images[1])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert np.array_equal(results[0], expected[0])
    assert np.array_equal(results[1], expected_proba)
    assert np.array_equal(model.segment(images[1]), expected[1])


def test_segment_out_never_writes_into_a_folder_it_did_not_make(ctx):
    folder = ctx.tmp / "folder"
    (folder / "0").mkdir(parents=True)
    keep = folder / "0" / "keep.txt"
    keep.write_text("my data")
    with pytest.raises(FileExistsError, match="not a Convpaint result store"):
        ctx.model.segment(ctx.img, out=folder)
    assert keep.read_text() == "my data" and sorted(p.name for p in folder.rglob("*")) == [
        "0",
        "keep.txt",
    ]


def test_segment_out_onto_its_own_zarr_input_is_refused(ctx):
    zarr = pytest.importorskip("zarr")
    path = ctx.tmp / "in.zarr"
    arr = zarr.create_array(store=str(path), shape=ctx.img.shape, chunks=(48, 60), dtype="f4")
    arr[...] = ctx.img
    with pytest.raises(ValueError, match="in.zarr"):
        ctx.model.segment(arr, out=path)
    assert np.array_equal(zarr.open_array(str(path))[...], ctx.img)
