"""Fuzzed model files: loading succeeds or raises ModelFileError -- never another exception,
never a hang (hypothesis deadline), never an allocation far beyond the file's size."""

import io
import json
import tempfile
import tracemalloc
import zipfile
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convpaint
from convpaint.model_file import ModelFileError

FUZZ = settings(
    max_examples=200,
    deadline=2000,  # ms per example: a hang fails the test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,  # the same examples on every run (CI)
    database=None,
)


@cache
def valid_file() -> bytes:
    rng = np.random.default_rng(0)
    image = rng.random((40, 40), dtype=np.float32)
    scribbles = np.zeros((40, 40), np.uint8)
    scribbles[3, 3:30], scribbles[30, 5:35], scribbles[20, 10:20] = 1, 2, 3
    model = convpaint.ConvpaintModel("raw", n_estimators=3, max_depth=4).train(image, scribbles)
    with tempfile.TemporaryDirectory() as tmp:
        return model.save(Path(tmp) / "valid.npz").read_bytes()


def arrays() -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(valid_file()), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def check_load(data: bytes, tmp_path) -> None:
    path = tmp_path / "fuzzed.npz"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        try:
            model = convpaint.load_model(path)
        except ModelFileError as exc:
            assert str(path) in str(exc) or "model" in str(exc)
        else:
            assert model.classes_ is not None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    bound = 64 * 2**20 + 100 * len(data)
    assert peak < bound, f"loading a {len(data)}-byte file allocated {peak / 2**20:.0f} MiB"


def test_valid_file_loads(tmp_path):
    check_load(valid_file(), tmp_path)
    assert isinstance(convpaint.load_model(tmp_path / "fuzzed.npz"), convpaint.ConvpaintModel)


# -- byte-level mutations of the archive ---------------------------------------------------
edits = st.lists(
    st.tuples(
        st.integers(0, 2**31),
        st.sampled_from(["flip", "set", "delete", "insert"]),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=8,
)


@FUZZ
@given(edits=edits, cut=st.one_of(st.none(), st.integers(0, 2**31)))
def test_byte_mutations(tmp_path, edits, cut):
    data = bytearray(valid_file())
    for pos, op, value in edits:
        i = pos % max(1, len(data))
        if op == "flip":
            data[i] ^= 1 << (value % 8)
        elif op == "set":
            data[i] = value
        elif op == "delete":
            del data[i]
        else:
            data.insert(i, value)
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    check_load(bytes(data), tmp_path)


# -- array- and metadata-level mutations (a well-formed archive with crafted content) --------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
META_KEYS = [
    ("classes",),
    ("n_features",),
    ("n_channels",),
    ("axes",),
    ("normalize",),
    ("scalings",),
    ("tile_size",),
    ("volumetric",),
    ("projections",),
    ("z_scale",),
    ("convpaint_version",),
    ("coarse_to_fine",),
    ("version",),
    ("extractor", "names"),
    ("extractor", "options"),
    ("extractor", "packages"),
    ("classifier", "kind"),
    ("classifier", "params"),
    ("classifier", "n_features"),
    ("classifier", "classes"),
    ("classifier", "tree_classes"),
    ("classifier", "depths"),
    ("classifier", "n_trees"),
]


def _meta(data):
    return json.loads(data["meta"].tobytes())


def _set_meta(data, meta):
    data["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)


def mutate_meta(data, draw):
    meta = _meta(data)
    keys = draw(st.sampled_from(META_KEYS))
    node = meta
    for k in keys[:-1]:
        node = node[k]
    if draw(st.booleans()):
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = draw(json_values)
    _set_meta(data, meta)


def mutate_array(data, draw):
    name = draw(st.sampled_from(sorted(k for k in data if k != "meta")))
    arr = data[name]
    how = draw(st.sampled_from(["dtype", "shape", "value", "drop", "empty", "raw"]))
    if how == "drop":
        del data[name]
    elif how == "empty":
        data[name] = arr[:0]
    elif how == "dtype":
        data[name] = arr.view(np.uint8) if draw(st.booleans()) else np.zeros(arr.shape, np.int64)
    elif how == "shape":
        data[name] = arr.reshape(-1)[: draw(st.integers(0, arr.size))]
    elif how == "raw":
        data[name] = np.frombuffer(draw(st.binary(max_size=64)), np.uint8)
    else:
        flat = arr.copy().reshape(-1)
        i = draw(st.integers(0, max(0, flat.size - 1)))
        if flat.dtype.names:
            field = draw(st.sampled_from(flat.dtype.names))
            kind = flat.dtype[field].kind
            value = draw(st.integers(-(2**31), 2**31) if kind in "iu" else st.floats(width=32))
            with np.errstate(all="ignore"):
                flat[field][i] = np.array(value).astype(flat.dtype[field])
        elif flat.size:
            with np.errstate(all="ignore"):
                value = draw(st.floats(width=32) | st.integers(-(2**31), 2**31))
                flat[i] = np.array(value).astype(flat.dtype)
        data[name] = flat.reshape(arr.shape)


@FUZZ
@given(data=st.data(), compressed=st.booleans())
def test_array_and_metadata_mutations(tmp_path, data, compressed):
    arrays_ = arrays()
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.booleans()):
            mutate_meta(arrays_, data.draw)
        else:
            mutate_array(arrays_, data.draw)
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays_)
    check_load(buf.getvalue(), tmp_path)


@FUZZ
@given(data=st.data())
def test_rewired_trees(tmp_path, data):
    """Children pointed anywhere (shared, cyclic, out of range, unreachable): a clean
    ModelFileError, or a forest that is still a tree and predicts at once."""
    arrays_ = arrays()
    nodes = arrays_["tree_0_nodes"].copy()
    n = nodes.shape[0]
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, n - 1))
        field = data.draw(st.sampled_from(["left_child", "right_child"]))
        nodes[field][i] = data.draw(st.integers(-2, n + 1))
    arrays_["tree_0_nodes"] = nodes
    buf = io.BytesIO()
    np.savez(buf, **arrays_)
    check_load(buf.getvalue(), tmp_path)
    try:
        model = convpaint.load_model(tmp_path / "fuzzed.npz")
    except ModelFileError:
        return
    from convpaint.classifier import predict_proba_features

    x = np.zeros((model.classifier.n_features_in_, 16), np.float32)
    assert predict_proba_features(model.classifier, x).shape == (model.classes_.size, 16)


def _npy_header(shape, descr="<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


@pytest.mark.parametrize(
    "member",
    [
        _npy_header((10**12,)),  # 8 TB claimed by a 100-byte member
        _npy_header((2**40, 2**40)),
        _npy_header((10**6,)) + b"\0" * 64,  # shorter than claimed
    ],
    ids=["huge-1d", "overflowing-2d", "truncated"],
)
def test_lying_array_headers_refused_before_allocating(tmp_path, member):
    buf = io.BytesIO()
    np.savez(buf, **arrays())
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("tree_0_values.npy", member)
    check_load(buf.getvalue(), tmp_path)
    with pytest.raises(ModelFileError):
        convpaint.load_model(tmp_path / "fuzzed.npz")


def test_decompression_bomb_refused(tmp_path):
    data = arrays()
    data["tree_0_values"] = np.zeros((2**26,), np.float64)  # 512 MiB of zeros, ~0.5 MiB deflated
    buf = io.BytesIO()
    np.savez_compressed(buf, **data)
    assert len(buf.getvalue()) < 2 * 2**20
    check_load(buf.getvalue(), tmp_path)
    with pytest.raises(ModelFileError, match="uncompress"):
        convpaint.load_model(tmp_path / "fuzzed.npz")
