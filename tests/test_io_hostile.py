"""Malformed model files that once escaped as something other than a ValueError (TypeError,
RecursionError, OverflowError) or loaded as something they were not. Each is written as raw
header text, since most of them cannot be produced by json.dumps."""

import json
import re
import struct

import numpy as np
import pytest

import ccinfer
from ccinfer.io import MAX_JSON_DEPTH

from .capi import BAD_MODEL, CError
from .capi import Model as CModel


def _tree(rng) -> ccinfer.TreeGatedLinear:
    return ccinfer.TreeGatedLinear(
        rng.standard_normal((6, 3, 2), dtype=np.float32),
        gate_units=[1, 4],
        tau=0.5,
        activation="relu",
    )


def _mlp(rng) -> ccinfer.CondMLP:
    W = [rng.standard_normal((5, 6), dtype=np.float32), rng.standard_normal((3, 5), np.float32)]
    b = [rng.standard_normal(5, dtype=np.float32), rng.standard_normal(3, dtype=np.float32)]
    return ccinfer.CondMLP.from_dense(W, b, ranks=[2], tau=0.25)


def _rewrite(path, model, edit):
    """Save ``model`` to ``path``, then replace its header by ``edit(header_text)``."""
    model.save(path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = edit(raw[8 : 8 + n].decode())
    body = header.encode("utf-8", "surrogatepass")
    path.write_bytes(struct.pack("<Q", len(body)) + body + raw[8 + n :])
    return path


def _config_edit(old: str, new: str):
    """An edit of the config text inside the header (escaped once, as it is stored)."""
    esc = lambda s: json.dumps(s)[1:-1]  # noqa: E731

    def edit(header: str) -> str:
        assert esc(old) in header, (old, header)
        return header.replace(esc(old), esc(new), 1)

    return edit


def _refused(path, match: str):
    with pytest.raises(ValueError, match=match) as info:
        ccinfer.load(path)
    # Every refusal names the file.
    assert str(path) in str(info.value)
    # The C API runs the same reader: the same refusal, from the file and from memory.
    with pytest.raises(CError, match=match) as c_info:
        CModel(path=path)
    assert c_info.value.status == BAD_MODEL and c_info.value.message == str(info.value)
    with pytest.raises(CError, match=match) as c_info:
        CModel(data=path.read_bytes())
    assert c_info.value.status == BAD_MODEL
    assert c_info.value.message == str(info.value).replace(str(path), "<memory>", 1)
    return info.value


@pytest.mark.parametrize("dtype", ['["F32"]', '{"F32": 1}', "32", "null", "true"])
def test_tensor_dtype_not_a_string(tmp_path, rng, dtype):
    path = _rewrite(tmp_path / "m.safetensors", _mlp(rng), lambda h: h.replace('"F32"', dtype, 1))
    _refused(path, r"dtype .* is not supported \(expected one of F32, F16\)")


@pytest.mark.parametrize("objects", [False, True])
def test_deep_json_in_header(tmp_path, rng, objects):
    deep = '{"a":' * 2000 + "1" + "}" * 2000 if objects else "[" * 2000 + "1" + "]" * 2000
    path = _rewrite(
        tmp_path / "m.safetensors", _mlp(rng), lambda h: h.replace("{", '{"x": ' + deep + ",", 1)
    )
    _refused(path, rf"header nests 200\d levels deep \(at most {MAX_JSON_DEPTH}\)")


def test_deep_json_in_config(tmp_path, rng):
    deep = "[" * 5000 + "]" * 5000
    path = _rewrite(
        tmp_path / "t.safetensors", _tree(rng), _config_edit('"tau": 0.5', f'"tau": {deep}')
    )
    _refused(path, r"metadata 'config' nests 5002 levels deep")


def test_depth_scan_ignores_brackets_in_strings(tmp_path, rng):
    model = _mlp(rng)
    model.save(tmp_path / "m.safetensors", card={"note": "[" * 1000 + "{" * 1000})
    assert ccinfer.load(tmp_path / "m.safetensors").card["note"].startswith("[[[")


@pytest.mark.parametrize(
    "old,new,match",
    [
        ('"tau": 0.5', '"tau": ' + "1" + "0" * 400, r"integer 1000.* is out of range"),
        ('"tau": 0.5', '"tau": 9223372036854775808', r"integer 9223372036854775808 is out of"),
        ('"tau": 0.5', '"tau": 1e400', r"number 1e400 is out of range of a float"),
        ('"tau": 0.5', '"tau": NaN', r"NaN is not a number the format allows"),
        ('"tau": 0.5', '"tau": -Infinity', r"-Infinity is not a number"),
        ('"tau": 0.5', '"tau": "0.5"', r"gates 'tau' must be a finite number, got '0.5'"),
        ('"tau": 0.5', '"tau": [0.5]', r"gates 'tau' must be a finite number"),
        (
            '"units": [1, 4]',
            '"units": [1, 9223372036854775807]',
            r"'units'\[1\] must be an integer in \[0, 5\]",
        ),
        ('"units": [1, 4]', '"units": [1, 4.0]', r"'units'\[1\] must be an integer"),
        ('"units": [1, 4]', '"units": [1, true]', r"'units'\[1\] must be an integer"),
        (
            '"in_features": 6',
            '"in_features": 9223372036854775807',
            r"'in_features' must be an integer in",
        ),
        (
            '"in_features": 6',
            '"in_features": -9223372036854775809',
            r"integer -9223372036854775809 is out",
        ),
        ('"depth": 1', '"depth": 1, "depth": 1', r"key 'depth' appears twice"),
    ],
)
def test_tree_config_numbers(tmp_path, rng, old, new, match):
    path = _rewrite(tmp_path / "t.safetensors", _tree(rng), _config_edit(old, new))
    _refused(path, match)


@pytest.mark.parametrize(
    "new,match",
    [
        ('"tau": 1e400', r"number 1e400 is out of range"),
        ('"tau": 123456789012345678901234567890', r"integer 1234.* is out of range"),
        ('"tau": {"v": 1}', r"CondMLP estimator 0 'tau' must be a finite number"),
        ('"tau": false', r"CondMLP estimator 0 'tau' must be a finite number, got False"),
    ],
)
def test_mlp_estimator_tau(tmp_path, rng, new, match):
    path = _rewrite(tmp_path / "m.safetensors", _mlp(rng), _config_edit('"tau": 0.25', new))
    _refused(path, match)


@pytest.mark.parametrize("kind", ['["CondMLP"]', '{"CondMLP": 1}', "1", "null", '"Sequential"'])
def test_sequential_stage_kind_not_a_known_string(tmp_path, rng, kind):
    model = ccinfer.Sequential(
        [
            _mlp(rng),
            "relu",
            ccinfer.CondMLP.from_dense(
                [rng.standard_normal((2, 3), dtype=np.float32)], [np.zeros(2, np.float32)]
            ),
        ]
    )
    path = _rewrite(
        tmp_path / "s.safetensors", model, _config_edit('"kind": "CondMLP"', f'"kind": {kind}')
    )
    _refused(path, r"Sequential stage 0 'kind' must be one of \['CondMLP', 'TreeGated'\]")


@pytest.mark.parametrize("version", ["１", "١", "²", "01x", " 1", "1.0", "9" * 40, ""])
def test_format_version_in_ascii_digits_only(tmp_path, rng, version):
    # "１" (full-width) passed str.isdigit() and int() read it as version 1.
    path = _rewrite(
        tmp_path / "m.safetensors",
        _mlp(rng),
        lambda h: h.replace('"format_version":"1"', f'"format_version":{json.dumps(version)}'),
    )
    err = _refused(path, r"format_version .* is not supported .*ASCII digits")
    assert re.search(r"format_version", str(err))


def test_format_version_must_be_a_string(tmp_path, rng):
    path = _rewrite(
        tmp_path / "m.safetensors",
        _mlp(rng),
        lambda h: h.replace('"format_version":"1"', '"format_version":1'),
    )
    _refused(path, r"__metadata__ must map strings to strings")


@pytest.mark.parametrize(
    "shape,match",
    [
        ("[true, 6]", r"bad shape"),
        ("[5.0, 6]", r"bad shape"),
        ("[" + "1," * 12 + "30]", r"bad shape"),
    ],
)
def test_shape_entries(tmp_path, rng, shape, match):
    path = _rewrite(
        tmp_path / "m.safetensors",
        _mlp(rng),
        lambda h: re.sub(r'"shape":\[5,6\]', f'"shape":{shape}', h, count=1),
    )
    _refused(path, match)


def test_header_in_utf16_is_refused(tmp_path, rng):
    # json.loads would guess UTF-16 from the bytes; safetensors headers are UTF-8.
    path = tmp_path / "m.safetensors"
    _mlp(rng).save(path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    body = raw[8 : 8 + n].decode().encode("utf-16")
    path.write_bytes(struct.pack("<Q", len(body)) + body + raw[8 + n :])
    _refused(path, r"header is not valid JSON \(not UTF-8")


def test_reader_errors_name_the_file(tmp_path, rng):
    # The config checks run without the path; load() adds it.
    path = _rewrite(
        tmp_path / "t.safetensors", _tree(rng), _config_edit('"path": "shared"', '"path": "x"')
    )
    err = _refused(path, r"TreeGated config 'path' must be one of \['shared', 'sliding'\]")
    assert str(err).startswith(f"ccinfer.load: {path}: TreeGated")


def test_sequential_stage_errors_name_the_stage(tmp_path, rng):
    model = ccinfer.Sequential([_mlp(rng), "relu", _tree_of_width(rng, 3)])
    path = _rewrite(tmp_path / "s.safetensors", model, _config_edit('"tau": 0.5', '"tau": "high"'))
    _refused(path, r"Sequential stage 1: TreeGated gates 'tau' must be a finite number")


def _tree_of_width(rng, p: int) -> ccinfer.TreeGatedLinear:
    return ccinfer.TreeGatedLinear(
        rng.standard_normal((p, 3, 2), dtype=np.float32), gate_units=[1], tau=0.5
    )
