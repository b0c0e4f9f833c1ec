"""ONNX Runtime columns for the model groups: the same dense networks, exported from PyTorch.

- ``mlp 784-1000-600-400-10 batch 1``: the shipped MNIST MLP's weights as an ``nn.Sequential``,
  exported to ONNX, one digit per call rotating through the test set (joins the group of
  bench/test_bench_mlp.py, beside its dense OpenBLAS, conditional and PyTorch cases).
- ``gru step 1 stream``: a 27-1024-1024-27 ``nn.GRU`` + ``nn.Linear`` with random weights (as
  the PyTorch case of bench/test_bench_gru.py), one token step per call, the state fed back.

ONNX Runtime runs with ``intra_op_num_threads`` = the group's thread count. Each session is
checked against PyTorch before timing. Skipped when onnxruntime, onnx (the exporter's
dependency) or torch is missing: ``pip install .[bench,torch]``.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from .conftest import record
from .test_bench_gru import STEPS, H, V, tokens
from .test_bench_gru import _weight_bytes as gru_weight_bytes
from .test_bench_gru import dense_model as gru_dense_model
from .test_bench_mlp import _flops
from .test_bench_mlp import _setup as mlp_setup


def _session(module, args, names, threads):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            module, args, buf, dynamo=False, input_names=names[0], output_names=names[1]
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])
    return session, f"ONNX Runtime {ort.__version__}"


def test_mlp_onnxruntime(benchmark, bench_threads):
    torch = pytest.importorskip("torch")
    c = mlp_setup()
    model, X = c["model"], c["X"]
    net = torch.nn.Sequential()
    for i, (W, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        layer = torch.nn.Linear(W.shape[1], W.shape[0])
        layer.weight.data = torch.from_numpy(W.copy())
        layer.bias.data = torch.from_numpy(b.copy())
        net.append(layer)
        if i + 1 < len(model.weights):
            net.append(torch.nn.ReLU())
    session, case = _session(net, (torch.zeros(1, 784),), (["x"], ["y"]), bench_threads)
    inputs = [np.ascontiguousarray(x[None, :]) for x in X[:4096]]
    with torch.no_grad():
        expected = net(torch.from_numpy(inputs[0])).numpy()
    np.testing.assert_allclose(session.run(None, {"x": inputs[0]})[0], expected, atol=1e-4)
    weight_bytes = 4 * sum(W.size for W in model.weights)
    record(
        benchmark,
        group=f"mlp 784-1000-600-400-10 batch 1 t{bench_threads}",
        case=case,
        role="other",
        density=1.0,
        useful_flops=_flops(model, 1),
        dense_flops=_flops(model, 1),
        bytes_read=weight_bytes,
        weight_bytes=weight_bytes,
    )
    it = iter(range(1 << 62))
    benchmark(lambda: session.run(None, {"x": inputs[next(it) % len(inputs)]}))


def test_gru_step_onnxruntime(benchmark, bench_threads):
    torch = pytest.importorskip("torch")
    from torch import nn

    class Step(nn.Module):
        """One token step: one-hot (1, 1, V), state (2, 1, H) -> logits (V,), new state."""

        def __init__(self):
            super().__init__()
            self.gru, self.head = nn.GRU(V, H, num_layers=2), nn.Linear(H, V)

        def forward(self, x, h):
            out, h = self.gru(x, h)
            return self.head(out[0, 0]), h

    torch.manual_seed(0)
    step_module = Step().eval()
    onehot = np.eye(V, dtype=np.float32)[:, None, None, :]
    h0 = np.zeros((2, 1, H), np.float32)
    session, case = _session(
        step_module,
        (torch.from_numpy(onehot[0]), torch.from_numpy(h0)),
        (["x", "h"], ["logits", "h_new"]),
        bench_threads,
    )
    with torch.no_grad():
        want, _ = step_module(torch.from_numpy(onehot[3]), torch.from_numpy(h0))
    got = session.run(None, {"x": onehot[3], "h": h0})[0]
    np.testing.assert_allclose(got, want.numpy(), atol=1e-4)
    ids = tokens()
    state = {"h": h0, "t": 0}

    def step():
        t = state["t"] % STEPS
        state["t"] += 1
        logits, state["h"] = session.run(None, {"x": onehot[int(ids[t])], "h": state["h"]})
        return logits

    macs = 3 * H * H * 3 + V * H
    record(
        benchmark,
        group=f"gru step 1 stream, {bench_threads} thr",
        case=f"{case} nn.GRU",
        role="other",
        density=None,
        useful_flops=2 * macs,
        dense_flops=2 * macs,
        bytes_read=4 * macs,
        weight_bytes=gru_weight_bytes(gru_dense_model()),
    )
    benchmark(step)
