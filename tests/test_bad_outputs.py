"""Outputs that would destroy an input, collide, not fit, or not be written (issue 14).

CLI rows assert exit status 2, one line on stderr naming the problem, and that no file
of the user changed (bytes and modification time of every file, no file added).
Then the checks of :mod:`convpaint.paths` and :mod:`convpaint.io` one by one, and write
errors (disk full) that must name the file and leave nothing half-written.
"""

import errno
import hashlib
import os
import re

import numpy as np
import pytest
import tifffile
import zarr

import convpaint
from convpaint import io, memory
from convpaint.cli import main
from convpaint.ome import write_multiscales
from convpaint.paths import (
    check_distinct,
    check_output,
    check_store_target,
    source_paths,
)

HAS_ILASTIK = "ilastik" in convpaint.list_extractors()
needs_ilastik = pytest.mark.skipif(not HAS_ILASTIK, reason="convpaint-ilastik not installed")


def _crafted_tiff(path, image):
    """A small tiled TIFF whose ImageWidth/ImageLength tags claim 60000 x 60000 pixels."""
    tifffile.imwrite(path, image, tile=(16, 16))
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[0].tags["ImageWidth"].overwrite(60000)
        tif.pages[0].tags["ImageLength"].overwrite(60000)


def _ome_zarr(path, image):
    group = zarr.open_group(str(path), mode="w")
    group.create_array("0", data=image, chunks=(32, 32))
    write_multiscales(group, "YX")


@pytest.fixture
def d(tmp_path, blobs):
    """A folder of user files: image, scribbles, model, stores and crafted files."""
    image, _, scribbles = blobs
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "ann.tif", scribbles)
    convpaint.ConvpaintModel("raw", n_estimators=5).train(image, scribbles).save(tmp_path / "m.npz")
    _ome_zarr(tmp_path / "in.ome.zarr", image)
    _ome_zarr(tmp_path / "outer.zarr" / "img.zarr", image)
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        tifffile.imwrite(tmp_path / sub / "x.tif", image)
    np.save(tmp_path / "a" / "x.npy", image)
    (tmp_path / "folder.zarr" / "0").mkdir(parents=True)
    (tmp_path / "folder.zarr" / "0" / "keep.txt").write_text("the user's notes")
    (tmp_path / "folder.zarr" / "notes.txt").write_text("more notes")
    other = zarr.open_group(str(tmp_path / "other.ome.zarr"), mode="w")
    other.create_array("0", data=np.arange(16, dtype=np.uint8).reshape(4, 4))
    other.attrs["author"] = "someone else"
    (tmp_path / "file.zarr").write_text("not a store")
    huge = zarr.create_array(  # 10^6 x 10^6 float32, no chunk ever written
        str(tmp_path / "huge.zarr"), shape=(10**6, 10**6), chunks=(4096, 4096), dtype="float32"
    )
    assert huge.nchunks_initialized == 0
    _crafted_tiff(tmp_path / "crafted.tif", image[:64, :80])
    data = (tmp_path / "img.tif").read_bytes()
    (tmp_path / "truncated.tif").write_bytes(data[: len(data) // 2])
    os.symlink(tmp_path / "img.tif", tmp_path / "link.tif")
    os.link(tmp_path / "img.tif", tmp_path / "hard.tif")
    (tmp_path / "sub").mkdir()
    return tmp_path


def snapshot(root):
    """Every file and folder under ``root``: content hash, size and mtime."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        if p.is_symlink():
            out[p] = ("link", os.readlink(p))
        elif p.is_dir():
            out[p] = ("dir",)
        else:
            out[p] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns)
    return out


CLI_CASES = [
    # -- an output that is, contains or lies inside an input (item 1)
    (
        "zarr-onto-itself",
        "segment {d}/m.npz {d}/in.ome.zarr -o {d}/in.ome.zarr",
        r"output .*in\.ome\.zarr is the input .*in\.ome\.zarr",
    ),
    ("tif-onto-itself", "segment {d}/m.npz {d}/img.tif -o {d}/img.tif", r"img\.tif is the input"),
    ("onto-the-model", "segment {d}/m.npz {d}/img.tif -o {d}/m.npz", r"m\.npz is the input"),
    (
        "train-onto-scribbles",
        "train {d}/img.tif -a {d}/ann.tif -o {d}/ann.tif -e raw",
        r"model output .*ann\.tif is the input .*ann\.tif",
    ),
    (
        "train-onto-image",
        "train {d}/img.tif -a {d}/ann.tif -o {d}/img.tif -e raw",
        r"img\.tif is the input",
    ),
    (
        "through-a-symlink",
        "segment {d}/m.npz {d}/img.tif -o {d}/link.tif",
        r"link\.tif is the input .*img\.tif",
    ),
    (
        "a-hard-link",
        "segment {d}/m.npz {d}/img.tif -o {d}/hard.tif",
        r"hard\.tif is the input .*img\.tif",
    ),
    ("dot-dot", "segment {d}/m.npz {d}/img.tif -o {d}/sub/../img.tif", r"is the input .*img\.tif"),
    (
        "inside-the-input-store",
        "segment {d}/m.npz {d}/in.ome.zarr -o {d}/in.ome.zarr/labels.ome.zarr",
        r"labels\.ome\.zarr lies inside the input .*in\.ome\.zarr",
    ),
    (
        "tif-inside-the-input-store",
        "segment {d}/m.npz {d}/in.ome.zarr -o {d}/in.ome.zarr/0/labels.tif",
        r"lies inside the input",
    ),
    (
        "contains-the-input",
        "segment {d}/m.npz {d}/outer.zarr/img.zarr -o {d}/outer.zarr",
        r"outer\.zarr contains the input .*img\.zarr",
    ),
    # -- outputs that collide
    (
        "same-name-two-folders",
        "segment {d}/m.npz {d}/a/x.tif {d}/b/x.tif -o {d}/out",
        r"inputs .*a/x\.tif and .*b/x\.tif would both be written to .*x_labels\.tif",
    ),
    (
        "same-stem-two-types",
        "segment {d}/m.npz {d}/a/x.tif {d}/a/x.npy -o {d}/out --proba",
        r"would both be written to .*x_proba\.tif",
    ),
    # -- existing folders that are not a store this project wrote
    (
        "ordinary-folder",
        "segment {d}/m.npz {d}/img.tif -o {d}/folder.zarr",
        r"folder\.zarr: it exists and is not a Convpaint result store.*not be overwritten",
    ),
    (
        "foreign-zarr-store",
        "segment {d}/m.npz {d}/img.tif -o {d}/other.ome.zarr",
        r"other\.ome\.zarr: it exists and is not a Convpaint result store",
    ),
    ("a-file-named-zarr", "segment {d}/m.npz {d}/img.tif -o {d}/file.zarr", r"file\.zarr.*a file"),
    # -- a huge lazy input written to one .tif (item 8)
    (
        "huge-lazy-to-tif",
        "segment {d}/m.npz {d}/huge.zarr -o {d}/huge_labels.tif",
        r"huge_labels\.tif needs about .* memory.*available.*\.ome\.zarr",
    ),
    (
        "huge-lazy-proba-to-tif",
        "segment {d}/m.npz {d}/huge.zarr -o {d}/huge_proba.tif --proba",
        r"huge_proba\.tif needs about .* memory.*\.ome\.zarr",
    ),
    # -- crafted and truncated TIFFs (item 9)
    (
        "crafted-tiff-lazy",
        "segment {d}/m.npz {d}/crafted.tif -o {d}/c.ome.zarr",
        r"crafted\.tif: cannot read image .*60000 x 60000 .* holds 20",
    ),
    (
        "crafted-tiff-in-memory",
        "segment {d}/m.npz {d}/crafted.tif -o {d}/c.tif",
        r"crafted\.tif: cannot read image .*60000 x 60000",
    ),
    (
        "truncated-tiff",
        "segment {d}/m.npz {d}/truncated.tif -o {d}/t.tif",
        r"truncated\.tif: cannot read image",
    ),
    (
        "crafted-tiff-training",
        "train {d}/crafted.tif -a {d}/ann.tif -o {d}/m2.npz -e raw",
        r"crafted\.tif: cannot read image",
    ),
    # -- extractor options that used to print tracebacks (item 9)
    (
        "sigmas-overflow",
        "train {d}/img.tif -a {d}/ann.tif -o {d}/m2.npz -e ilastik --option sigmas=[1e308]",
        r"option 'sigmas' of extractor 'ilastik': 1e\+308 is outside",
    ),
    (
        "sigmas-underflow",
        "train {d}/img.tif -a {d}/ann.tif -o {d}/m2.npz -e ilastik --option sigmas=[1e-300]",
        r"(extractor 'ilastik'.*sigmas=\[1e-300\])|(sigma.*1e-300)",
    ),
    (
        "option-of-raw",
        "train {d}/img.tif -a {d}/ann.tif -o {d}/m2.npz -e raw --option sigma=3",
        r"sigma",
    ),
]


@pytest.mark.parametrize(
    "argv, pattern",
    [
        pytest.param(*row[1:], id=row[0], marks=needs_ilastik if "ilastik" in row[1] else ())
        for row in CLI_CASES
    ],
)
def test_cli_refuses_and_changes_nothing(d, capsys, argv, pattern):
    before = snapshot(d)
    code = main(argv.format(d=d).split() + ["-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("convpaint: error:") and "\n" not in err and "Traceback" not in err
    assert re.search(pattern, err), err
    assert snapshot(d) == before, "a file of the user was changed or added"


def test_the_bad_output_suite_has_enough_rows():
    assert len(CLI_CASES) >= 20


# -- convpaint.paths ------------------------------------------------------------------------
def test_source_paths_of_paths_stores_and_dask(d):
    import dask.array as da

    store = d / "in.ome.zarr"
    group = zarr.open_group(str(store), mode="r")
    assert source_paths(str(d / "sub" / ".." / "img.tif")) == [(d / "img.tif").resolve()]
    assert source_paths(group) == [store.resolve()]
    assert source_paths(group["0"]) == [store.resolve()]
    assert source_paths(da.from_zarr(group["0"])) == [store.resolve()]
    assert source_paths(da.from_array(group["0"]) + 1) == [store.resolve()]
    inner = zarr.open_group(str(d / "outer.zarr/img.zarr"), mode="r")["0"]
    both = da.concatenate([da.from_zarr(group["0"]), da.from_zarr(inner)])
    assert set(source_paths(both)) == {store.resolve(), (d / "outer.zarr/img.zarr").resolve()}
    tiff = zarr.open(tifffile.imread(d / "img.tif", aszarr=True), mode="r")
    assert source_paths(tiff) == [(d / "img.tif").resolve()]
    assert source_paths(np.load(d / "a" / "x.npy", mmap_mode="r")) == [(d / "a/x.npy").resolve()]
    assert source_paths(np.zeros(3)) == [] and source_paths(da.zeros(5)) == []


@pytest.mark.parametrize(
    "out, inputs, pattern",
    [
        ("in.ome.zarr", ["in.ome.zarr"], "is the input"),
        ("in.ome.zarr/0", ["in.ome.zarr"], "lies inside the input"),
        ("outer.zarr", ["outer.zarr/img.zarr"], "contains the input"),
        ("new/deeper/x.tif", ["new"], "lies inside the input"),  # nothing exists yet
        ("hard.tif", ["img.tif"], "is the input"),
    ],
    ids=["is", "inside", "contains", "not-yet-existing", "hard-link"],
)
def test_check_output_refuses(d, out, inputs, pattern):
    before = snapshot(d)
    with pytest.raises(ValueError, match=pattern) as info:
        check_output(d / out, [d / p for p in inputs])
    assert str(d / out) in str(info.value) and str(d / inputs[0]) in str(info.value)
    assert snapshot(d) == before


def test_check_output_accepts_neighbours_and_arrays(d):
    import dask.array as da

    check_output(d / "img_labels.tif", [d / "img.tif", d / "m.npz"])
    check_output(d / "in.ome.zarr.labels", d / "in.ome.zarr")  # a sibling with a longer name
    check_output(d / "out.ome.zarr", [np.zeros(3), da.zeros(4)])  # in-memory: no source
    group = zarr.open_group(str(d / "in.ome.zarr"), mode="r")
    with pytest.raises(ValueError, match="is the input"):
        check_output(d / "in.ome.zarr", [da.from_zarr(group["0"])])


def test_check_distinct():
    check_distinct([("a/x.tif", "out/x_labels.tif"), ("b/y.tif", "out/y_labels.tif")])
    with pytest.raises(ValueError, match=r"inputs a/x\.tif and b/x\.tif would both be written"):
        check_distinct([("a/x.tif", "out/x_labels.tif"), ("b/x.tif", "out/./x_labels.tif")])


def test_check_store_target_allows_new_empty_and_own_stores(d):
    check_store_target(d / "does-not-exist.ome.zarr")
    (d / "empty.zarr").mkdir()
    check_store_target(d / "empty.zarr")
    own = zarr.open_group(str(d / "own.ome.zarr"), mode="w")
    own.attrs["convpaint"] = {"complete": False}
    check_store_target(d / "own.ome.zarr")
    v2 = zarr.open_group(str(d / "v2.zarr"), mode="w", zarr_format=2)
    v2.attrs["convpaint"] = {"complete": True}
    check_store_target(d / "v2.zarr")


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("folder.zarr", "not a Convpaint result store"),
        ("other.ome.zarr", "not a Convpaint result store"),
        ("in.ome.zarr", "not a Convpaint result store"),
        ("file.zarr", "a file, not a zarr store"),
        ("a", "not a Convpaint result store"),
    ],
)
def test_check_store_target_refuses_and_deletes_nothing(d, name, pattern):
    before = snapshot(d)
    with pytest.raises(FileExistsError, match=pattern) as info:
        check_store_target(d / name)
    assert str(d / name) in str(info.value)
    assert snapshot(d) == before


def test_check_store_target_refuses_a_convpaint_array_store(d):
    """A zarr *array* (not group) with a convpaint attribute is not a result store."""
    arr = zarr.create_array(str(d / "arr.zarr"), shape=(4,), dtype="u1")
    arr.attrs["convpaint"] = {}
    with pytest.raises(FileExistsError, match="not a Convpaint result store"):
        check_store_target(d / "arr.zarr")


# -- reading: crafted files and memory (io.py) ----------------------------------------------
def test_read_image_refuses_a_crafted_tiff_without_reading_pixels(d):
    with pytest.raises(ValueError, match=r"crafted\.tif: cannot read image .*60000 x 60000"):
        io.read_image(d / "crafted.tif")
    with pytest.raises(ValueError, match=r"truncated\.tif: cannot read image"):
        io.read_image(d / "truncated.tif")


@pytest.mark.parametrize("name", ["img.tif", "a/x.npy"])
def test_read_image_refuses_what_does_not_fit_in_memory(d, monkeypatch, name):
    monkeypatch.setattr(memory, "available_bytes", lambda: 1000)
    with pytest.raises(convpaint.InsufficientMemoryError, match=r"cannot read image.*available"):
        io.read_image(d / name)


# -- write errors: disk full ----------------------------------------------------------------
def _disk_full_after_some_bytes(target_arg=0):
    def fake(*args, **kwargs):
        with open(args[target_arg], "wb") as f:
            f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    return fake


@pytest.mark.parametrize("suffix", [".tif", ".npy", ".png"])
def test_write_image_disk_full_names_the_file_and_leaves_nothing(tmp_path, monkeypatch, suffix):
    import imageio.v3 as iio

    target = tmp_path / f"labels{suffix}"
    target.write_bytes(b"the previous result")
    before = snapshot(tmp_path)
    fake = _disk_full_after_some_bytes()
    monkeypatch.setattr(tifffile, "imwrite", fake)
    monkeypatch.setattr(np, "save", fake)
    monkeypatch.setattr(iio, "imwrite", fake)
    with pytest.raises(OSError, match=rf"cannot write {re.escape(str(target))}: No space") as info:
        io.write_image(target, np.ones((8, 8), np.uint8))
    assert info.value.errno == errno.ENOSPC
    assert snapshot(tmp_path) == before, "partial or temporary file left, or the old one changed"


def test_short_write_without_errno_says_disk_full(tmp_path, monkeypatch):
    def fake(path, data):
        raise OSError("116352 requested and 65280 written")

    monkeypatch.setattr(tifffile, "imwrite", fake)
    with pytest.raises(OSError, match=r"cannot write .*x\.tif: 116352 .* is the disk full"):
        io.write_image(tmp_path / "x.tif", np.ones((8, 8), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_cli_segment_disk_full(d, capsys, monkeypatch):
    monkeypatch.setattr(tifffile, "imwrite", _disk_full_after_some_bytes())
    before = snapshot(d)
    code = main(["segment", str(d / "m.npz"), str(d / "img.tif"), "-o", str(d / "o.tif"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert re.search(r"cannot write .*o\.tif: No space left", err), err
    assert snapshot(d) == before


def test_cli_train_disk_full(d, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full)
    before = snapshot(d)
    argv = ["train", str(d / "img.tif"), "-a", str(d / "ann.tif"), "-o", str(d / "m2.npz")]
    code = main([*argv, "-e", "raw", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert re.search(r"cannot write .*m2\.npz: No space left", err), err
    assert snapshot(d) == before


def test_cli_zarr_output_disk_full_names_the_store(d, capsys, monkeypatch):
    from zarr.storage import LocalStore

    async def full(self, key, value, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LocalStore, "set", full)
    inputs = {p: v for p, v in snapshot(d).items()}
    out = d / "res.ome.zarr"
    code = main(["segment", str(d / "m.npz"), str(d / "img.tif"), "-o", str(out), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert str(out) in err and "No space left" in err, err
    after = snapshot(d)
    assert {p: after[p] for p in inputs} == inputs  # the store itself may hold a resumable start


# -- no traceback, but a way to see one -----------------------------------------------------
def test_unexpected_errors_are_one_line_unless_debugging(d, capsys, monkeypatch):
    def broken(self, *args, **kwargs):
        raise KeyError("tile (3, 4)")

    monkeypatch.setattr(convpaint.ConvpaintModel, "segment", broken)
    argv = ["segment", str(d / "m.npz"), str(d / "img.tif"), "-o", str(d / "o.tif"), "-q"]
    monkeypatch.delenv("CONVPAINT_DEBUG", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and re.search(r"img\.tif -> .*o\.tif failed: KeyError: .*tile", err)
    assert "CONVPAINT_DEBUG=1" in err
    monkeypatch.setenv("CONVPAINT_DEBUG", "1")
    with pytest.raises(KeyError, match="tile"):
        main(argv)
    assert not (d / "o.tif").exists()
