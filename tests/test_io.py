"""The model file: round trips, and every malformed or hostile file is a ValueError."""

import json
import struct

import numpy as np
import pytest
from safetensors.numpy import save_file

import ccinfer
from ccinfer.io import FORMAT_VERSION


def _tiny_model(rng):
    sizes = [6, 5, 4, 3]
    W = [rng.standard_normal((sizes[i + 1], sizes[i]), dtype=np.float32) for i in range(3)]
    b = [rng.standard_normal(sizes[i + 1], dtype=np.float32) for i in range(3)]
    return ccinfer.CondMLP.from_dense(W, b, ranks=[3, 2], tau=0.1)


def _write_raw(path, tensors, metadata):
    save_file(tensors, str(path), metadata=metadata)


def _good_file(tmp_path, rng):
    path = tmp_path / "m.safetensors"
    _tiny_model(rng).save(path)
    return path


def read_header(path):
    """The metadata and tensor entries as the safetensors library reads them (to edit a file)."""
    header = json.loads(path.read_bytes()[8 : 8 + struct.unpack("<Q", path.read_bytes()[:8])[0]])
    return header.pop("__metadata__"), header


def test_saved_file_has_the_format_metadata(tmp_path, rng):
    meta, entries = read_header(_good_file(tmp_path, rng))
    assert meta["format"] == "ccinfer" and meta["format_version"] == str(FORMAT_VERSION)
    assert entries["layers.0.weight"]["shape"] == [5, 6]


def _rewrite_metadata(path, **changes):
    from safetensors.numpy import load_file

    meta, _ = read_header(path)
    tensors = load_file(str(path))
    meta.update(changes)
    meta = {k: v for k, v in meta.items() if v is not None}
    _write_raw(path, tensors, meta)


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"format": "other"}, r"not a ccinfer model"),
        ({"format": None}, r"not a ccinfer model"),
        ({"format_version": "99"}, r"format_version '99' is not supported"),
        ({"format_version": "one"}, r"format_version 'one' is not supported"),
        ({"model": "Transformer"}, r"unknown model kind 'Transformer'"),
        ({"config": "{not json"}, r"'config' is not valid JSON"),
        (
            {"config": json.dumps({"sizes": [6, 5, 4, 3], "estimators": [None, None]})},
            r"'estimators' must be a list of 3 entries",
        ),
        (
            {"config": json.dumps({"sizes": [6, 5, 4, 9], "estimators": [None] * 3})},
            r"tensor 'layers.2.weight' has shape \(3, 4\), the config needs \(9, 4\)",
        ),
        (
            {
                "config": json.dumps(
                    {"sizes": [6, 5, 4, 3], "estimators": [{"rank": 9, "tau": 0}, None, None]}
                )
            },
            r"estimator 0 'rank' must be an integer in \[1, 5\], got 9",
        ),
        (
            {"config": json.dumps({"sizes": [6, 5, 4, 3], "estimators": [None] * 3})},
            r"unexpected tensors",
        ),
        (
            {"config": json.dumps({"sizes": [6, 1 << 40], "estimators": [None]})},
            r"'sizes'\[1\] must be an integer in \[1, 1048576\]",
        ),
    ],
)
def test_bad_metadata(tmp_path, rng, changes, match):
    path = _good_file(tmp_path, rng)
    _rewrite_metadata(path, **changes)
    with pytest.raises(ValueError, match=match):
        ccinfer.load(path)


def test_missing_tensor(tmp_path, rng):
    path = _good_file(tmp_path, rng)
    from safetensors.numpy import load_file

    meta, _ = read_header(path)
    tensors = load_file(str(path))
    del tensors["layers.1.bias"]
    _write_raw(path, tensors, meta)
    with pytest.raises(ValueError, match=r"missing tensor 'layers.1.bias'"):
        ccinfer.load(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights(tmp_path, rng, bad):
    path = _good_file(tmp_path, rng)
    from safetensors.numpy import load_file

    meta, _ = read_header(path)
    tensors = load_file(str(path))
    tensors["layers.0.weight"][1, 2] = bad
    _write_raw(path, tensors, meta)
    with pytest.raises(ValueError, match=r"tensor 'layers.0.weight' contains NaN or Inf"):
        ccinfer.load(path)


@pytest.mark.parametrize("keep", [0, 5, 8, 40, -1])
def test_truncated(tmp_path, rng, keep):
    path = _good_file(tmp_path, rng)
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:-3])
    with pytest.raises(ValueError, match=r"too short|truncated|header"):
        ccinfer.load(path)


def test_huge_declared_header(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 1 << 60) + b"{}")
    with pytest.raises(ValueError, match=r"header declares \d+ bytes"):
        ccinfer.load(path)


def _handmade(path, header: dict, data: bytes):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


META = {
    "format": "ccinfer",
    "format_version": "1",
    "model": "CondMLP",
    "config": json.dumps({"sizes": [2, 2], "estimators": [None]}),
}


@pytest.mark.parametrize(
    "entry,match",
    [
        (
            {"dtype": "F32", "shape": [1 << 40, 1 << 20], "data_offsets": [0, 16]},
            r"needs \d+ bytes, header gives 16",
        ),
        (
            {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 1 << 50]},
            r"data ends at byte .*truncated",
        ),
        ({"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}, r"dtype 'I64' is not supported"),
        ({"dtype": "F32", "shape": [-2, 2], "data_offsets": [0, 16]}, r"bad shape"),
        ({"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 0]}, r"bad data_offsets"),
        ({"dtype": "F32", "shape": [2, 2]}, r"malformed header entry"),
    ],
)
def test_hostile_headers(tmp_path, entry, match):
    path = tmp_path / "h.safetensors"
    _handmade(path, {"__metadata__": META, "layers.0.weight": entry}, b"\0" * 16)
    with pytest.raises(ValueError, match=match):
        ccinfer.load(path)


def test_not_json_header(tmp_path):
    path = tmp_path / "j.safetensors"
    path.write_bytes(struct.pack("<Q", 4) + b"\xff\xfe{[")
    with pytest.raises(ValueError, match="not valid JSON"):
        ccinfer.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        ccinfer.load(tmp_path / "nope.safetensors")


def test_pickle_is_not_a_model(tmp_path):
    import pickle

    path = tmp_path / "p.safetensors"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError):
        ccinfer.load(path)
