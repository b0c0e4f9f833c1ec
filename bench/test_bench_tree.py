"""Benchmarks of the tree-gated layer, one sample per call, 1 and 2 threads.

Groups:
- ``tree vs depth``: p = 512 inputs, q = 128 outputs, 25% of the inputs non-zero, depth k in
  {0, 1, 2, 4, 6, 8}: work grows as k + 1 row reads per non-zero input, the table as
  2^(k+1) - 1 (k = 6 is 33 MB, at the last-level cache; k = 8 is 134 MB, DRAM). The dense
  OpenBLAS sgemv 128 x 512 on the root nodes is the group's reference.
- ``tree k=4 vs axpys``: the same layer at k = 4 against (k + 1) sparse-input axpys of the
  same width and the same non-zero inputs (``kernels.sparse_input_gemv`` over k + 1 stacked
  (p, q) matrices, the inputs repeated): the same multiply-adds without the tree bookkeeping
  (gates, paths, row numbers). Target: the tree within 1.3x of the axpys, i.e. a
  speed-up of at least 1 / 1.3 over them.

Every call takes the next input from a pool of 64 (each with its own non-zero set and hence
its own gating bits and paths), so no call reads the rows the previous one left in cache.
"""

from __future__ import annotations

import numpy as np
import pytest

import ccinfer
from ccinfer import kernels, reference

from .conftest import POOL_SIZE, assert_close, record, rotating

P, Q, DENSITY, NBITS = 512, 128, 0.25, 16
DEPTHS = [0, 1, 2, 4, 6, 8]

_cache: dict = {}


def _inputs():
    """POOL_SIZE inputs (p,) with DENSITY non-zeros each, drawn once."""
    if ("inputs",) not in _cache:
        rng = np.random.default_rng(6)
        pool = []
        for _ in range(POOL_SIZE):
            x = np.zeros(P, np.float32)
            nz = rng.choice(P, int(DENSITY * P), replace=False)
            x[nz] = rng.random(len(nz), dtype=np.float32) + 0.1
            pool.append(x)
        _cache[("inputs",)] = pool
    return _cache[("inputs",)]


def _layer(depth):
    key = ("layer", depth)  # keys: ("layer", depth) and ("inputs",)
    if key not in _cache:
        for other in [k for k in _cache if k[0] == "layer"]:
            del _cache[other]  # one table (up to 134 MB, twice with the engine's copy) at a time
        rng = np.random.default_rng(depth)
        table = rng.standard_normal((P, (2 << depth) - 1, Q), dtype=np.float32)
        units = rng.choice(P, NBITS, replace=False).astype(np.int32)
        # Gate units that are non-zero about half the time in the pool: tau at their median.
        tau = float(np.median([x[units] for x in _inputs()]))
        layer = ccinfer.TreeGatedLinear(table, path="sliding", gate_units=units, tau=tau)
        _cache[key] = (layer, table, units, tau)
    return _cache[key]


def _row_reads(depth):
    return int(DENSITY * P) * (depth + 1)


@pytest.mark.parametrize("depth", [None, *DEPTHS], ids=lambda d: "sgemv" if d is None else f"k{d}")
def test_tree_vs_depth(benchmark, bench_threads, depth):
    inputs = _inputs()
    it = rotating(inputs)
    group = f"tree vs depth p={P} q={Q} density={DENSITY} t{bench_threads}"
    dense_flops = 2 * P * Q
    if depth is None:
        W = np.random.default_rng(0).standard_normal((Q, P), dtype=np.float32)
        record(
            benchmark,
            group=group,
            case="dense OpenBLAS sgemv (root only)",
            role="dense",
            density=1.0,
            useful_flops=dense_flops,
            dense_flops=dense_flops,
            bytes_read=W.nbytes,
            weight_bytes=W.nbytes,
        )
        benchmark(lambda: kernels.dense_gemv(W, next(it)))
        return
    layer, table, units, tau = _layer(depth)
    x = inputs[0]
    expected = reference.tree_gated(table, None, x, "sliding", gate_units=units, tau=tau)
    assert_close(layer(x), expected, _row_reads(depth))
    rows = _row_reads(depth)
    record(
        benchmark,
        group=group,
        case=f"tree k={depth}",
        role="cond",
        density=DENSITY,
        useful_flops=(depth + 2) * Q * DENSITY * P,
        dense_flops=dense_flops,
        bytes_read=rows * Q * 4,
        weight_bytes=table.nbytes,
        depth=depth,
        parameters=table.size,
        row_reads=rows,
    )
    benchmark(lambda: layer(next(it)))


@pytest.mark.parametrize("case", ["axpys", "tree"])
def test_tree_k4_vs_axpys(benchmark, bench_threads, case):
    depth = 4
    inputs = _inputs()
    it = rotating(inputs)
    rows = _row_reads(depth)
    group = f"tree k=4 vs {depth + 1} sparse-input axpys p={P} q={Q} t{bench_threads}"
    common = dict(
        group=group,
        density=DENSITY,
        useful_flops=2 * rows * Q,
        dense_flops=2 * rows * Q,
        bytes_read=rows * Q * 4,
    )
    if case == "axpys":
        rng = np.random.default_rng(1)
        Wt = rng.standard_normal(((depth + 1) * P, Q), dtype=np.float32)
        stacked = [np.tile(x, depth + 1) for x in inputs]
        assert_close(
            kernels.sparse_input_gemv(Wt, stacked[0]),
            reference.sparse_input_gemv(Wt, stacked[0]),
            rows,
        )
        sit = rotating(stacked)
        record(
            benchmark,
            case=f"{depth + 1} sparse-input axpys",
            role="dense",
            weight_bytes=Wt.nbytes,
            **common,
        )
        benchmark(lambda: kernels.sparse_input_gemv(Wt, next(sit)))
        return
    layer, table, units, tau = _layer(depth)
    expected = reference.tree_gated(table, None, inputs[1], "sliding", gate_units=units, tau=tau)
    assert_close(layer(inputs[1]), expected, rows)
    record(
        benchmark, case="tree k=4", role="cond", target=1 / 1.3, weight_bytes=table.nbytes, **common
    )
    benchmark(lambda: layer(next(it)))
