"""Benchmarks of the shipped conditional MNIST MLP against dense OpenBLAS.

Groups at 1 and 2 threads, batch 1 and batch 64, each with
- ``dense OpenBLAS``: the same weights, every layer one OpenBLAS sgemv/sgemm (the baseline);
- ``conditional``: the shipped 50-35-25 estimators, plan chosen by ``autotune``;
- ``PyTorch 2.13`` (batch 1 only, when torch is installed): the dense network as an
  ``nn.Sequential``, a further column.
Inputs rotate through the 10,000 MNIST test digits, so every call has the masks of a real
digit (docs/design.md section 4). Targets: batch 1 at least max(3, 0.8 x the flop-bound
speed-up measured from the masks of the test digits) over dense and 5x over PyTorch; batch 64
at least 1.3x over dense sgemm.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import ccinfer
from ccinfer import reference
from ccinfer.datasets import load_mnist

from .conftest import record

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "mnist" / "mnist-50-35-25.safetensors"
DATA = Path(os.environ.get("CCINFER_DATA") or ROOT / "data")

_cache: dict = {}


def _setup():
    if not MODEL.exists() or not (DATA / "mnist").exists():
        pytest.skip(f"needs models/mnist/mnist-50-35-25.safetensors and {DATA / 'mnist'}")
    if not _cache:
        model = ccinfer.load(MODEL)
        X, _ = load_mnist(DATA, "test")
        model.reset_stats()
        model(X)
        flop_bound = model.stats["flop_bound_speedup"]
        dense = ccinfer.CondMLP(model.weights, model.biases)
        _cache.update(model=model, dense=dense, X=X, flop_bound=flop_bound, plans={})
    # The best kernels depend on the thread count: tune once per count, then reuse.
    model, threads = _cache["model"], ccinfer.get_num_threads()
    if threads not in _cache["plans"]:
        model.autotune(np.ascontiguousarray(_cache["X"][:256]), repeats=5)
        _cache["plans"][threads] = (model.plan, model.single_sample_threads)
    model.plan, model.single_sample_threads = _cache["plans"][threads]
    return _cache


def _flops(model, batch):
    return 2 * batch * sum(W.size for W in model.weights)


@pytest.mark.parametrize("batch", [1, 64], ids=["batch1", "batch64"])
@pytest.mark.parametrize("case", ["dense OpenBLAS", "conditional", "PyTorch 2.13"])
def test_mlp(benchmark, bench_threads, batch, case):
    c = _setup()
    model, dense, X = c["model"], c["dense"], c["X"]
    if batch == 1:
        inputs = [np.ascontiguousarray(x) for x in X[:4096]]
    else:
        inputs = [np.ascontiguousarray(X[i : i + batch]) for i in range(0, len(X) - batch, batch)]
    weight_bytes = 4 * sum(W.size for W in model.weights)
    group = f"mlp 784-1000-600-400-10 batch {batch} t{bench_threads}"
    common = dict(
        group=group,
        case=case,
        useful_flops=_flops(model, batch),
        dense_flops=_flops(model, batch),
        bytes_read=weight_bytes,
        weight_bytes=weight_bytes,
        flop_bound=c["flop_bound"],
    )
    # Verify before timing: the engine against the NumPy reference.
    ref = reference.cond_mlp(model.weights, model.biases, [None] * 4, X[:256])
    np.testing.assert_allclose(dense(X[:256]), ref, rtol=1e-3, atol=1e-3)
    it = iter(range(1 << 62))
    if case == "dense OpenBLAS":
        record(benchmark, role="dense", density=1.0, **common)
        benchmark(lambda: dense(inputs[next(it) % len(inputs)]))
    elif case == "conditional":
        ref = reference.cond_mlp(model.weights, model.biases, model.estimators, X[:2000])
        agree = np.mean(np.argmax(model(X[:2000]), 1) == np.argmax(ref, 1))
        assert agree > 0.999, f"engine and reference disagree on {1 - agree:.2%} of digits"
        target = max(3.0, 0.8 * c["flop_bound"]) if batch == 1 else 1.3
        common["useful_flops"] = common["dense_flops"] / c["flop_bound"]  # from real masks
        record(
            benchmark,
            role="cond",
            density=None,
            target=target,
            baseline="PyTorch 2.13" if batch == 1 else None,
            plan=model.plan,
            single_sample_threads=model.single_sample_threads,
            **common,
        )
        benchmark(lambda: model(inputs[next(it) % len(inputs)]))
    else:
        if batch != 1:
            pytest.skip("PyTorch is a further column at batch 1")
        torch = pytest.importorskip("torch")
        torch.set_num_threads(bench_threads)
        net = torch.nn.Sequential()
        for i, (W, b) in enumerate(zip(model.weights, model.biases, strict=True)):
            layer = torch.nn.Linear(W.shape[1], W.shape[0])
            layer.weight.data = torch.from_numpy(W.copy())
            layer.bias.data = torch.from_numpy(b.copy())
            net.append(layer)
            if i + 1 < len(model.weights):
                net.append(torch.nn.ReLU())
        tensors = [torch.from_numpy(x) for x in inputs]
        with torch.inference_mode():
            np.testing.assert_allclose(
                net(tensors[0]).numpy(), dense(inputs[0]), rtol=1e-4, atol=1e-4
            )
            record(benchmark, role="other", density=1.0, **common)
            benchmark(lambda: net(tensors[next(it) % len(tensors)]))
