"""Benchmarks: block_gated_gemm beside OpenBLAS sgemm on the same weights, in the same run.

One group per (shape, block, threads): the dense sgemm baseline and the conditional kernel at
block densities 0.1, 0.25, 0.5 and 1.0, batch 64. Gates rotate through a pool of 64 random
gate matrices per density (docs/design.md section 4: a fixed mask keeps its rows in cache). The
conditional path is pinned (dense_threshold=inf) so the kernel itself is measured; the
default threshold for the SIMD kernels is inf anyway (block_gated_gemm.h).

Run (one suite at a time, on a quiet machine):

    python -m pytest bench/test_bench_block_gated_gemm.py --benchmark-only \\
        --benchmark-json=bench/results/block_gated_gemm.json --benchmark-max-time=0.5
    python bench/summarize.py bench/results/block_gated_gemm.json

Targets: conditional / dense speed-up >= 0.6 / a for a in {0.25, 0.5} and >= 0.9 at
a = 1.0, block >= 16, 1 and 2 threads.
"""

from __future__ import annotations

import numpy as np
import pytest

from ccinfer import kernels, reference

from .conftest import assert_close, mask_pool, record, rotating

N = 64  # batch
SHAPES = [(1024, 1024), (3072, 1051), (4096, 4096)]
BLOCKS = [16, 32, 64]
DENSITIES = [0.1, 0.25, 0.5, 1.0]

_weights: dict = {}
_pools: dict = {}


def problem(m, k):
    """One random W (m, k) and X (64, k) per shape, shared by every case of its groups."""
    if (m, k) not in _weights:
        rng = np.random.default_rng(m * 7919 + k)
        _weights[(m, k)] = (
            rng.standard_normal((m, k), dtype=np.float32),
            rng.standard_normal((N, k), dtype=np.float32),
        )
    return _weights[(m, k)]


def gate_pool(m, block, density):
    """64 gate matrices (N, m / block) float32: 1 on, 0 off, each gate on with p = density."""
    key = (m, block, density)
    if key not in _pools:
        masks = mask_pool(m * 131 + block * 7 + int(density * 100), (N, m // block), density)
        _pools[key] = [g.astype(np.float32) for g in masks]
    return _pools[key]


def target(density):
    """The target speed-up over sgemm (block >= 16; None where it sets none)."""
    return 0.9 if density == 1.0 else (0.6 / density if density in (0.25, 0.5) else None)


@pytest.mark.parametrize(
    "density", [None, *DENSITIES], ids=lambda d: "dense" if d is None else f"a{d}"
)
@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_block_gated_gemm(benchmark, bench_threads, shape, block, density):
    m, k = shape
    W, X = problem(m, k)
    out = np.empty((N, m), np.float32)
    group = f"block_gated_gemm {m}x{k} n={N} block={block} t{bench_threads}"
    dense_flops = 2 * N * m * k
    if density is None:
        kernels.dense_gemm(W, X, out=out)
        assert_close(out, X.astype(np.float64) @ W.T.astype(np.float64), k)
        record(
            benchmark,
            group=group,
            case="dense OpenBLAS sgemm",
            role="dense",
            density=1.0,
            useful_flops=dense_flops,
            dense_flops=dense_flops,
            bytes_read=W.nbytes,
            weight_bytes=W.nbytes,
            block=block,
            n=N,
        )
        benchmark(kernels.dense_gemm, W, X, out=out)
        return

    pool = gate_pool(m, block, density)
    # Verified once before timing (the conditional path, as timed).
    got = kernels.block_gated_gemm(W, X, pool[0], block, dense_threshold=np.inf)
    assert_close(got, reference.block_gated_gemm(W, X, pool[0], block), k)
    on = np.stack([g > 0 for g in pool])  # (pool, n, nb)
    pairs = on.sum(axis=(1, 2)).mean()
    blocks_read = on.any(axis=1).sum(axis=1).mean()  # blocks with at least one sample on
    record(
        benchmark,
        group=group,
        case=f"a={density:.2f}",
        role="cond",
        density=float(on.mean()),
        useful_flops=float(2 * k * block * pairs),
        dense_flops=dense_flops,
        bytes_read=float(blocks_read * block * k * 4),
        weight_bytes=W.nbytes,
        target=target(density),
        block=block,
        n=N,
    )
    gates = rotating(pool)
    # dense_threshold=inf pins the conditional kernel (the SIMD default is inf as well).
    benchmark(
        lambda: kernels.block_gated_gemm(W, X, next(gates), block, out=out, dense_threshold=np.inf)
    )
