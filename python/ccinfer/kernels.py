"""Kernels: the conditional products and the dense OpenBLAS baselines they are measured against.

Every function takes NumPy arrays that already have the documented dtype (float32 weights and
activations, int32 row indices), are C-contiguous and have the documented shape; anything else
raises ``ValueError``. Nothing is converted or copied. The GIL is released while computing.

The unstructured conditional products (outputs never requested are left untouched, or zero
in a new array; row lists are int32, strictly increasing: unsorted or repeated rows raise
``ValueError``, they are never sorted silently):

- ``cond_gemv(W, x, rows=None, bias=None, out=None, *, mask=None)``: ``out[rows] = W[rows] @ x
  (+ bias[rows])``, for one sample; ``mask`` (bool/uint8, length m) instead of ``rows``.
  At high density it runs OpenBLAS over all rows (threshold in ``cpp/include/ccinfer/
  cond_gemv.h``).
- ``cond_gemv_batch(W, X, mask=None, bias=None, out=None, *, indptr=None, indices=None)``:
  ``out[s, i] = X[s] @ W[i] (+ bias[i])`` where ``mask[s, i]`` (bool/uint8 (n, m)), or with
  the row lists of each sample in CSR form; each weight row is read once for all the
  samples that need it.
- ``sparse_input_gemv(Wt, x, rows=None, bias=None, out=None)``: ``Wt.T @ x (+ bias)`` over the
  non-zero entries of ``x`` only, from the transposed weight copy ``Wt`` (k, m); with
  ``rows`` only ``out[rows]``.

The batch (server) path and the estimator:

- ``block_gated_gemm(W, X, gates, block, out=None, dense_threshold=None)``: for every block of
  ``block`` output rows, ``X[s] @ W[block rows].T`` only for the samples whose gate
  ``gates[s, b] > 0``; other blocks zero (or untouched in ``out``). ``block`` must divide m.
  ``block_gated_gemm_dense_threshold()`` is the measured block density from which one
  OpenBLAS sgemm runs instead (inf for the SIMD kernels: they beat sgemm at full density).
  Speed: rows of ``W`` and ``X`` that start on 64-byte boundaries load whole cache lines;
  NumPy's large arrays start 16 bytes past one, which cost about 20% at batch 64 (3072 x 1024,
  density 0.4, Xeon Skylake-SP). The model classes keep their weights 64-byte aligned.
- ``panel_gemm(W, X, samples=None)``: ``X[s] @ W.T`` for the listed samples (all when None),
  other rows zero: the outer-product kernel of the GRU batch step, over ``W`` packed in panels
  of 32 rows stored column by column (packed on each call here; a model packs once, on its
  first batch step). Each sum is one fused multiply-add per term in order, so every ISA gives
  the same bits. About 1.3x the dot-product kernel of ``block_gated_gemm`` at batch 64
  (docs/performance/batch64.md).
- ``SignEstimator(A, B, bias=None, tau=0.0)`` and ``SignEstimator.from_weights(W, bias, rank)``:
  rows of a ReLU layer predicted active, ``A @ (B @ x) + bias > tau``; ``predict(x)`` gives
  int32 rows, ascending, ``predict_batch(X)`` an (n, m) bool mask.

The listing:

- ``kernel_list()``: the single-threaded kernels under the functions above and the models, as
  this build compiles them, in dispatch-table order, read from the one list of kernels in
  ``cpp/src/kernels/kernel_list.h``: per kernel a dict of ``name``, ``entry`` (where Python
  reaches it, relative to the ``ccinfer`` package), ``reference`` (the NumPy function every
  ISA's version is tested against) and ``code`` (per compiled ISA, the kernel set whose code
  it runs: its own, or the one it borrows where it has no port of its own).

For the benchmark report:

- ``memory_bandwidth(mb=64.0, threads=None, repeats=5)``: STREAM-style copy and triad over
  three float32 arrays of ``mb`` MB each (one OpenMP region, static split), a dict of GB/s
  (``copy_gbs``, ``triad_gbs``: best repeat; ``*_median``), ``threads``, ``mb_per_array``,
  ``repeats``. Arrays well above the last-level cache measure DRAM.
"""

from __future__ import annotations

from ._core.kernels import (
    block_gated_gemm,
    block_gated_gemm_dense_threshold,
    cond_gemv,
    cond_gemv_batch,
    dense_gemm,
    dense_gemv,
    kernel_list,
    memory_bandwidth,
    panel_gemm,
    sparse_input_gemv,
)
from .estimator import SignEstimator

__all__ = [
    "SignEstimator",
    "block_gated_gemm",
    "block_gated_gemm_dense_threshold",
    "cond_gemv",
    "cond_gemv_batch",
    "dense_gemm",
    "dense_gemv",
    "kernel_list",
    "memory_bandwidth",
    "panel_gemm",
    "sparse_input_gemv",
]
