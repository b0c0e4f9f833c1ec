"""``ccinfer convert`` in a subprocess, on small files made here: every input format, told apart
by content; ranks and calibration; what it prints and what it refuses."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import ccinfer
from ccinfer import CondMLP

SIZES = [6, 16, 12, 3]


def convert(*args, ok=True):
    out = subprocess.run(
        [sys.executable, "-m", "ccinfer", "convert", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (out.returncode == 0) == ok, out.stdout + out.stderr
    return out.stdout + out.stderr


@pytest.fixture
def arrays(rng):
    return {
        key: rng.normal(size=shape).astype(np.float32)
        for i in range(len(SIZES) - 1)
        for key, shape in (
            (f"layers.{i}.weight", (SIZES[i + 1], SIZES[i])),
            (f"layers.{i}.bias", (SIZES[i + 1],)),
        )
    }


def reference(arrays, x):
    for i in range(len(SIZES) - 1):
        x = x @ arrays[f"layers.{i}.weight"].T + arrays[f"layers.{i}.bias"]
        x = np.maximum(x, 0) if i + 2 < len(SIZES) else x
    return x


def test_safetensors_arrays_with_ranks(tmp_path, rng, arrays):
    from safetensors.numpy import save_file

    src = tmp_path / "weights.bin"  # no telling extension: the content decides
    save_file(arrays, str(src))
    out = convert(
        src, "-o", tmp_path / "m.safetensors", "--activation", "relu", "--ranks", "4,none"
    )
    assert "safetensors arrays" in out and "layer 0: rank 4" in out and "layer 1: dense" in out
    model = ccinfer.load(tmp_path / "m.safetensors")
    assert model.estimators[0].rank == 4 and model.estimators[1] is None
    x = rng.normal(size=(5, 6)).astype(np.float32)
    model.estimators_enabled = False
    np.testing.assert_allclose(model(x), reference(arrays, x), atol=1e-5)
    assert "weights.bin" in model.card["converted_from"]


def test_arrays_need_a_stated_activation(tmp_path, arrays):
    np.savez(tmp_path / "w.npz", **arrays)
    out = convert(tmp_path / "w.npz", "-o", tmp_path / "m.safetensors", ok=False)
    assert "--activation relu" in out
    assert not (tmp_path / "m.safetensors").exists()


def test_npz_with_calibration_prints_its_choices(tmp_path, rng, arrays):
    np.savez(tmp_path / "w.npz", **arrays)
    X = rng.normal(size=(400, 6)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", reference(arrays, X).argmax(axis=1))
    out = convert(
        tmp_path / "w.npz", "-o", tmp_path / "m.safetensors", "--activation", "relu",
        "--calibrate", tmp_path / "X.npy", tmp_path / "y.npy", "--max-accuracy-drop", "0.01",
    )  # fmt: skip
    assert "npz arrays" in out and "calibrated on 400 samples" in out
    assert "flop-bound speed-up" in out and "layer 1:" in out
    model = CondMLP.load(tmp_path / "m.safetensors")
    accuracy = float((model.predict(X) == reference(arrays, X).argmax(axis=1)).mean())
    assert accuracy >= 0.99 - 1e-9  # the bound holds on the calibration data
    out = convert(
        tmp_path / "w.npz",
        "-o",
        tmp_path / "n.safetensors",
        "--activation",
        "relu",
        "--calibrate",
        tmp_path / "X.npy",
        tmp_path / "y.npy",
        ok=False,
    )
    assert "--max-accuracy-drop" in out


def test_torch_state_dict(tmp_path, rng):
    from ._torch import require_torch

    torch = require_torch()
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    torch.save(net.state_dict(), tmp_path / "sd.pt")
    out = convert(tmp_path / "sd.pt", "-o", tmp_path / "m.safetensors", "--activation", "relu")
    assert "PyTorch state_dict" in out
    x = rng.normal(size=(4, 6)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ccinfer.load(tmp_path / "m.safetensors")(x), expected, atol=1e-5)
    torch.save(net, tmp_path / "module.pt")  # a pickled module: weights_only refuses it
    out = convert(tmp_path / "module.pt", "-o", tmp_path / "x.safetensors", "--activation",
                  "relu", ok=False)  # fmt: skip
    assert "cannot read it as a state_dict" in out


def test_onnx_mlp_and_gru(tmp_path, rng):
    from ._optional import require

    onnx = require("onnx", "CCINFER_REQUIRE_ONNX")
    helper = onnx.helper
    W = rng.normal(size=(6, 5)).astype(np.float32)
    W2 = rng.normal(size=(5, 2)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "W2"], ["z"]),
            helper.make_node("Softmax", ["z"], ["y"], axis=-1),
        ],
        "m",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 6])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(W, "W"), onnx.numpy_helper.from_array(W2, "W2")],
    )
    onnx.save(helper.make_model(graph), str(tmp_path / "m.onnx"))
    out = convert(tmp_path / "m.onnx", "-o", tmp_path / "m.safetensors", "--ranks", "3")
    assert "(ONNX)" in out and "softmax" in out and "layer 0: rank 3" in out
    model = ccinfer.load(tmp_path / "m.safetensors")
    x = rng.normal(size=(3, 6)).astype(np.float32)
    model.estimators_enabled = False
    z = np.maximum(x @ W, 0) @ W2
    np.testing.assert_allclose(model.outputs(x), np.exp(z) / np.exp(z).sum(1, keepdims=True),
                               atol=1e-5)  # fmt: skip


def test_refusals(tmp_path, rng):
    np.save(tmp_path / "x.npy", np.zeros(3))
    out = convert(tmp_path / "x.npy", "-o", tmp_path / "m.safetensors", ok=False)
    assert "numpy .npy array" in out and "supported inputs" in out
    out = convert(tmp_path / "missing.onnx", "-o", tmp_path / "m.safetensors", ok=False)
    assert "no such file" in out
    gru = ccinfer.GRUStack(
        [{"kind": "dense", "W_ih": np.zeros((6, 3), np.float32),
          "W_hh": np.zeros((6, 2), np.float32), "b_ih": np.zeros(6, np.float32),
          "b_hh": np.zeros(6, np.float32)}],
        (np.zeros((3, 2), np.float32), np.zeros(3, np.float32)),
        token_input=True,
    )  # fmt: skip
    gru.save(tmp_path / "g.safetensors")
    out = convert(tmp_path / "g.safetensors", "-o", tmp_path / "h.safetensors", "--ranks", "2",
                  ok=False)  # fmt: skip
    assert "for MLPs" in out and "GRUStack" in out
