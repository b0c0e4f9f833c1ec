"""Benchmarks: the low-rank sign estimator beside the dense layer it predicts for.

A 1000x784 ReLU layer (the first MNIST layer of docs/design.md section 1) at rank 50. One group per
thread count holds the dense OpenBLAS sgemv of the layer and SignEstimator.predict on the same
weights, in the same run; inputs rotate through a pool of 64 ReLU-like vectors. A second group
holds the batch form (64 samples): sgemm of the layer beside predict_batch.

Run (one suite at a time, on a quiet machine):

    python -m pytest bench/test_bench_sign_estimator.py --benchmark-only \\
        --benchmark-json=bench/results/sign_estimator.json --benchmark-max-time=0.5
    python bench/summarize.py bench/results/sign_estimator.json

Target: predict under 15% of the dense sgemv time of the layer, i.e. a "speed-up"
(dense time / predict time) of at least 1 / 0.15 = 6.67.
"""

from __future__ import annotations

import numpy as np
import pytest

from ccinfer import kernels, reference

from .conftest import record, rotating

M, K, RANK, N, POOL = 1000, 784, 50, 64, 64
_layer_cache: dict = {}


def layer():
    """W (1000, 784) with a decaying spectrum (as trained layers have, so rank 50 carries most
    of it), a small bias, 64 ReLU-like inputs, and the rank-50 estimator from W's SVD."""
    if not _layer_cache:
        rng = np.random.default_rng(784)
        U, _ = np.linalg.qr(rng.standard_normal((M, K)))
        V, _ = np.linalg.qr(rng.standard_normal((K, K)))
        W = ((U * (1.0 / (1 + np.arange(K)) ** 0.7)) @ V.T).astype(np.float32)
        bias = (0.01 * rng.standard_normal(M)).astype(np.float32)
        X = np.maximum(rng.standard_normal((POOL, K)), 0).astype(np.float32)
        _layer_cache["v"] = (W, bias, X, kernels.SignEstimator.from_weights(W, bias, RANK))
    return _layer_cache["v"]


def check_against_reference(est, bias, X, got_mask):
    """Equal to the float64 reference wherever the estimate is not within rounding of tau."""
    t = (X.astype(np.float64) @ est.B.T.astype(np.float64)) @ est.A.T.astype(np.float64) + bias
    clear = np.abs(t - est.tau) > 1e-4
    np.testing.assert_array_equal(
        got_mask[clear], reference.sign_estimate(est.A, est.B, bias, X)[clear]
    )


@pytest.mark.parametrize("path", ["dense", "predict"])
def test_single_sample(benchmark, bench_threads, path):
    W, bias, X, est = layer()
    group = f"sign_estimator {M}x{K} rank {RANK} single sample t{bench_threads}"
    est_bytes = est.A.nbytes + est.B.nbytes
    common = dict(group=group, dense_flops=2 * M * K, weight_bytes=W.nbytes, rank=RANK)
    xs = rotating(X)
    if path == "dense":
        out = np.empty(M, np.float32)
        kernels.dense_gemv(W, X[0], out=out)
        np.testing.assert_allclose(out, W @ X[0], rtol=1e-4, atol=1e-4)
        record(
            benchmark,
            case="dense OpenBLAS sgemv",
            role="dense",
            density=1.0,
            useful_flops=2 * M * K,
            bytes_read=W.nbytes,
            **common,
        )
        benchmark(lambda: kernels.dense_gemv(W, next(xs), out=out))
        return
    mask = np.zeros((POOL, M), bool)
    for s, x in enumerate(X):
        mask[s, est.predict(x)] = True
    check_against_reference(est, bias, X, mask)
    truth = (X.astype(np.float64) @ W.T.astype(np.float64) + bias) > 0
    record(
        benchmark,
        case="SignEstimator.predict",
        role="cond",
        density=float(mask.mean()),
        useful_flops=2 * RANK * (M + K),
        bytes_read=est_bytes,
        target=1 / 0.15,
        estimator_regime="L2-resident (A + B = 0.36 MiB)",
        recall=float((mask & truth).sum() / max(truth.sum(), 1)),
        precision=float((mask & truth).sum() / max(mask.sum(), 1)),
        **common,
    )
    benchmark(lambda: est.predict(next(xs)))


@pytest.mark.parametrize("path", ["dense", "predict_batch"])
def test_batch(benchmark, bench_threads, path):
    W, bias, X, est = layer()
    group = f"sign_estimator {M}x{K} rank {RANK} batch {N} t{bench_threads}"
    common = dict(group=group, dense_flops=2 * N * M * K, weight_bytes=W.nbytes, rank=RANK)
    if path == "dense":
        out = np.empty((N, M), np.float32)
        record(
            benchmark,
            case="dense OpenBLAS sgemm",
            role="dense",
            density=1.0,
            useful_flops=2 * N * M * K,
            bytes_read=W.nbytes,
            **common,
        )
        benchmark(kernels.dense_gemm, W, X, out=out)
        return
    out = np.empty((N, M), bool)
    est.predict_batch(X, out=out)
    check_against_reference(est, bias, X, out)
    record(
        benchmark,
        case="SignEstimator.predict_batch",
        role="cond",
        density=float(out.mean()),
        useful_flops=2 * N * RANK * (M + K),
        bytes_read=est.A.nbytes + est.B.nbytes,
        **common,
    )
    benchmark(est.predict_batch, X, out=out)
