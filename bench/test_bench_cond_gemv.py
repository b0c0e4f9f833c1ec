"""Benchmarks of the unstructured conditional kernels against dense OpenBLAS.

Groups, each at 1 and 2 threads, with the dense baseline on the same weights in the same run:
- cond_gemv, shapes 1024x1024 and 3072x1051 (L3-resident) and 4096x4096 (DRAM), row
  densities 0.05 0.1 0.25 0.5 1.0, against OpenBLAS sgemv (``kernels.dense_gemv``);
- sparse_input_gemv (zero inputs skipped, transposed weights), same shapes, input densities
  as above, against OpenBLAS sgemv on W;
- cond_gemv_batch, n = 64, 1024x1024 and 3072x1051, pair densities as above, against
  OpenBLAS sgemm on the whole batch and against a Python loop of cond_gemv;
- a memory-bandwidth probe (OpenBLAS sdot over two 64 MB vectors).
Every conditional case takes a new mask per call from a pool of 64.
"""

from __future__ import annotations

import numpy as np
import pytest

from ccinfer import kernels, reference

from .conftest import (
    assert_close,
    mask_pool,
    record,
    rotating,
    row_pool,
)

SHAPES = [(1024, 1024), (3072, 1051), (4096, 4096)]
DENSITIES = [0.05, 0.1, 0.25, 0.5, 1.0]
BATCH = 64
BATCH_SHAPES = [(1024, 1024), (3072, 1051)]

_weights: dict = {}


def weights(m, k):
    """One random (m, k) float32 matrix per shape, shared by every case of its groups."""
    if (m, k) not in _weights:
        rng = np.random.default_rng(m * 7919 + k)
        W = rng.standard_normal((m, k), dtype=np.float32)
        _weights[(m, k)] = (W, np.ascontiguousarray(W.T))
    return _weights[(m, k)]


def cond_gemv_target(m, k, density):
    """The target speed-up over dense sgemv (None where it sets none)."""
    if density == 1.0:
        return 0.95
    if density in (0.1, 0.25, 0.5):
        return (0.8 if (m, k) == (4096, 4096) else 0.6) / density
    return None


def _label(density):
    return "dense OpenBLAS" if density is None else f"a={density:.2f}"


# ---- cond_gemv -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("density", [None, *DENSITIES], ids=_label)
def test_cond_gemv(benchmark, bench_threads, shape, density):
    m, k = shape
    W, _ = weights(m, k)
    x = np.random.default_rng(1).standard_normal(k, dtype=np.float32)
    out = np.zeros(m, np.float32)
    group = f"cond_gemv {m}x{k} t{bench_threads}"
    if density is None:
        assert_close(kernels.dense_gemv(W, x, out=out), W.astype(np.float64) @ x, k)
        record(
            benchmark,
            group=group,
            case=_label(None),
            role="dense",
            density=1.0,
            useful_flops=2 * m * k,
            dense_flops=2 * m * k,
            bytes_read=4 * m * k,
            weight_bytes=4 * m * k,
        )
        benchmark(kernels.dense_gemv, W, x, out)
        return
    pool = row_pool(hash((m, k, density)) & 0xFFFF, m, density)
    assert_close(kernels.cond_gemv(W, x, pool[0]), reference.cond_gemv(W, x, pool[0]), k)
    nrows = len(pool[0])
    record(
        benchmark,
        group=group,
        case=_label(density),
        role="cond",
        density=density,
        useful_flops=2 * nrows * k,
        dense_flops=2 * m * k,
        bytes_read=4 * nrows * k,
        weight_bytes=4 * m * k,
        target=cond_gemv_target(m, k, density),
        pool=len(pool),
    )
    masks = rotating(pool)
    benchmark(lambda: kernels.cond_gemv(W, x, next(masks), out=out))


# ---- sparse_input_gemv ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("density", [None, *DENSITIES], ids=_label)
def test_sparse_input_gemv(benchmark, bench_threads, shape, density):
    m, k = shape
    W, Wt = weights(m, k)
    rng = np.random.default_rng(2)
    out = np.zeros(m, np.float32)
    group = f"sparse_input_gemv {m}x{k} t{bench_threads}"
    if density is None:
        x = rng.standard_normal(k, dtype=np.float32)
        record(
            benchmark,
            group=group,
            case=_label(None),
            role="dense",
            density=1.0,
            useful_flops=2 * m * k,
            dense_flops=2 * m * k,
            bytes_read=4 * m * k,
            weight_bytes=4 * m * k,
        )
        benchmark(kernels.dense_gemv, W, x, out)
        return
    # inputs: a ReLU-like vector with a fresh random zero pattern per call
    pool = [
        np.where(keep, np.abs(rng.standard_normal(k)), 0).astype(np.float32)
        for keep in mask_pool(hash((k, density)) & 0xFFFF, k, density)
    ]
    assert_close(
        kernels.sparse_input_gemv(Wt, pool[0]), reference.sparse_input_gemv(Wt, pool[0]), k
    )
    nnz = float(np.mean([np.count_nonzero(v) for v in pool]))
    record(
        benchmark,
        group=group,
        case=_label(density),
        role="cond",
        density=density,
        useful_flops=2 * nnz * m,
        dense_flops=2 * m * k,
        bytes_read=4 * nnz * m,
        weight_bytes=4 * m * k,
        pool=len(pool),
    )
    inputs = rotating(pool)
    benchmark(lambda: kernels.sparse_input_gemv(Wt, next(inputs), out=out))


# ---- cond_gemv_batch -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", BATCH_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("density", [None, *DENSITIES], ids=_label)
@pytest.mark.parametrize("impl", ["batch", "loop"])
def test_cond_gemv_batch(benchmark, bench_threads, shape, density, impl):
    m, k = shape
    n = BATCH
    W, _ = weights(m, k)
    X = np.random.default_rng(3).standard_normal((n, k), dtype=np.float32)
    out = np.zeros((n, m), np.float32)
    group = f"cond_gemv_batch n={n} {m}x{k} t{bench_threads}"
    if density is None:
        if impl == "loop":
            pytest.skip("one dense baseline per group")
        record(
            benchmark,
            group=group,
            case=_label(None),
            role="dense",
            density=1.0,
            useful_flops=2 * n * m * k,
            dense_flops=2 * n * m * k,
            bytes_read=4 * m * k,
            weight_bytes=4 * m * k,
        )
        benchmark(kernels.dense_gemm, W, X, out)
        return
    pool = mask_pool(hash((m, k, density)) & 0xFFFF, (n, m), density)
    pairs = float(np.mean([p.sum() for p in pool]))
    rows_read = float(np.mean([p.any(axis=0).sum() for p in pool]))
    common = dict(
        density=density,
        useful_flops=2 * pairs * k,
        dense_flops=2 * n * m * k,
        weight_bytes=4 * m * k,
        pool=len(pool),
    )
    masks = rotating(pool)
    if impl == "batch":
        assert_close(
            kernels.cond_gemv_batch(W, X, pool[0]), reference.cond_gemv_batch(W, X, pool[0]), k
        )
        record(
            benchmark,
            group=group,
            case=_label(density),
            role="cond",
            bytes_read=4 * rows_read * k,
            baseline=f"loop {_label(density)}",
            **common,
        )
        benchmark(lambda: kernels.cond_gemv_batch(W, X, next(masks), out=out))
    else:
        row_lists = [[np.flatnonzero(r).astype(np.int32) for r in p] for p in pool]
        lists = rotating(row_lists)

        def loop():
            for s, rows in enumerate(next(lists)):
                kernels.cond_gemv(W, X[s], rows, out=out[s])

        record(
            benchmark,
            group=group,
            case=f"loop {_label(density)}",
            role="other",
            bytes_read=4 * pairs * k,
            **common,
        )
        benchmark(loop)


# ---- memory bandwidth ------------------------------------------------------------------------


def test_memory_bandwidth(benchmark, bench_threads):
    """OpenBLAS sdot over two 64 MB vectors: a streaming read to put the DRAM cases beside."""
    n = 16 << 20
    a = np.ones(n, np.float32)
    b = np.ones(n, np.float32)
    record(
        benchmark,
        group=f"memory bandwidth t{bench_threads}",
        case="sdot 2x64 MB",
        role="other",
        density=None,
        useful_flops=2 * n,
        dense_flops=2 * n,
        bytes_read=8 * n,
        weight_bytes=8 * n,
    )
    benchmark(np.dot, a, b)
