"""block_gated_gemm against the NumPy reference and the scalar kernel, on every ISA."""

import numpy as np
import pytest

import ccinfer
from ccinfer import kernels, reference

from .conftest import integer_matrix

NEVER_DENSE = 2.0  # dense_threshold that keeps the conditional kernel at every density
ALWAYS_DENSE = 0.0


def _gates(rng, n, nb, density):
    """Gates (n, nb) float32: > 0 on, <= 0 off (including exact zeros and a NaN)."""
    if density == "one":
        on = np.zeros((n, nb), bool)
        on[:, rng.integers(nb)] = True  # one block on, for every sample
    else:
        on = rng.random((n, nb)) < density
    g = np.where(on, rng.uniform(0.1, 2.0, (n, nb)), -rng.uniform(0.0, 2.0, (n, nb)))
    g[~on & (rng.random((n, nb)) < 0.3)] = 0.0  # zero is off
    if (~on).any():
        g[tuple(np.argwhere(~on)[0])] = np.nan  # NaN is off
    return g.astype(np.float32)


def _problem(rng, n, m, k, block, density):
    W = integer_matrix(rng, (m, k))
    X = integer_matrix(rng, (n, k))
    return W, X, _gates(rng, n, m // block, density)


@pytest.mark.parametrize("block", [8, 5])  # 16/32/64/128: test_dissertation_blocks
@pytest.mark.parametrize("mult", [1, 3, 17])
@pytest.mark.parametrize("k", [1, 7, 15, 16, 17, 257])
@pytest.mark.parametrize("n", [1, 7, 64])
@pytest.mark.parametrize("density", [0.0, "one", 0.1, 0.5, 1.0])
def test_exact_on_integers(isa, rng, block, mult, k, n, density):
    m = block * mult
    W, X, gates = _problem(rng, n, m, k, block, density)
    out = np.full((n, m), np.nan, np.float32)
    kernels.block_gated_gemm(W, X, gates, block, out=out, dense_threshold=NEVER_DENSE)
    expected = np.full((n, m), np.nan, np.float32)
    reference.block_gated_gemm(W, X, gates, block, out=expected)
    np.testing.assert_array_equal(out, expected)  # NaN where gated off, exact elsewhere


# The AVX-512 kernel runs rows in panels of 32 and samples in tiles of at most 6 of nearly
# equal size: blocks just under, at and over a panel (with 1-3 rows left past the groups of
# 4), and every sample count from 1 to 13 (the tile sizes and their splits).
@pytest.mark.parametrize("block", [3, 31, 32, 33, 37, 70])
@pytest.mark.parametrize("n", list(range(1, 14)))
def test_panel_and_tile_edges_exact(isa, rng, block, n):
    W, X, gates = _problem(rng, n, 2 * block, 37, block, 1.0)
    gates[n // 2, 1] = 0.0  # one sample off in the second block: an uneven sample list
    got = kernels.block_gated_gemm(W, X, gates, block, dense_threshold=NEVER_DENSE)
    np.testing.assert_array_equal(got, reference.block_gated_gemm(W, X, gates, block))


@pytest.mark.parametrize("block", [16, 32, 64, 128])
@pytest.mark.parametrize("density", [0.1, 0.5, 1.0])
def test_dissertation_blocks_fresh_out_zero(isa, rng, block, density):
    n, m, k = 64, block * 3, 33
    W, X, gates = _problem(rng, n, m, k, block, density)
    got = kernels.block_gated_gemm(W, X, gates, block, dense_threshold=NEVER_DENSE)
    np.testing.assert_array_equal(got, reference.block_gated_gemm(W, X, gates, block))


@pytest.mark.parametrize("density", [0.0, "one", 0.5, 1.0])
@pytest.mark.parametrize("fresh", [True, False])
def test_dense_path_matches_reference(rng, density, fresh):
    n, m, k, block = 7, 48, 19, 16
    W, X, gates = _problem(rng, n, m, k, block, density)
    expected = reference.block_gated_gemm(
        W, X, gates, block, out=None if fresh else np.full((n, m), np.nan, np.float32)
    )
    out = None if fresh else np.full((n, m), np.nan, np.float32)
    got = kernels.block_gated_gemm(W, X, gates, block, out=out, dense_threshold=ALWAYS_DENSE)
    np.testing.assert_array_equal(got, expected)


def test_default_threshold_per_isa(rng):
    # Measured: the SIMD kernels beat sgemm even at full density; the scalar one does not.
    assert kernels.block_gated_gemm_dense_threshold("avx2") == np.inf
    assert kernels.block_gated_gemm_dense_threshold("scalar") < 0.5
    previous = ccinfer.get_isa()
    try:
        ccinfer.set_isa("scalar")  # the default threshold sends density 1.0 to sgemm
        n, m, k, block = 64, 256, 64, 16
        W = rng.standard_normal((m, k), dtype=np.float32)
        X = rng.standard_normal((n, k), dtype=np.float32)
        gates = np.ones((n, m // block), np.float32)
        dense = kernels.block_gated_gemm(W, X, gates, block)
        cond = kernels.block_gated_gemm(W, X, gates, block, dense_threshold=NEVER_DENSE)
    finally:
        ccinfer.set_isa(previous)
    np.testing.assert_allclose(dense, cond, rtol=0, atol=1e-5 * np.sqrt(k) * 4)
    with pytest.raises(ValueError, match="dense_threshold must be a float or None, got str"):
        kernels.block_gated_gemm(W, X, gates, block, dense_threshold="0.5")


@pytest.mark.parametrize("other", ["scalar", "avx2"])
def test_simd_matches_scalar_kernel_on_integers(rng, other):
    if other not in ccinfer.available_isas():
        pytest.skip(f"{other} not available")
    n, m, k, block = 64, 96, 257, 32
    W, X, gates = _problem(rng, n, m, k, block, 0.5)
    results = {}
    previous = ccinfer.get_isa()
    try:
        for name in {other, ccinfer.available_isas()[-1]}:
            ccinfer.set_isa(name)
            results[name] = kernels.block_gated_gemm(
                W, X, gates, block, dense_threshold=NEVER_DENSE
            )
    finally:
        ccinfer.set_isa(previous)
    for got in results.values():
        np.testing.assert_array_equal(got, results[other])


@pytest.mark.parametrize("shape", [(1024, 1024), (3072, 1051)])
@pytest.mark.parametrize("density", [0.25, 1.0])
def test_random_within_sqrt_k_tolerance_and_thread_invariant(isa, rng, shape, density):
    m, k = shape
    n, block = 24, 64  # small batch keeps the scalar runs short
    W = rng.standard_normal((m, k), dtype=np.float32)
    X = rng.standard_normal((n, k), dtype=np.float32)
    gates = _gates(rng, n, m // block, density)
    ref = reference.block_gated_gemm(W, X, gates, block)
    results = []
    previous = ccinfer.get_num_threads()
    try:
        for nth in (1, 2):
            ccinfer.set_num_threads(nth)
            for threshold in (NEVER_DENSE, ALWAYS_DENSE):
                results.append(
                    kernels.block_gated_gemm(W, X, gates, block, dense_threshold=threshold)
                )
    finally:
        ccinfer.set_num_threads(previous)
    np.testing.assert_array_equal(results[0], results[2])  # conditional: 1 vs 2 threads
    # (OpenBLAS's own rounding may change with its thread count: the dense path is only close.)
    for got in results:
        np.testing.assert_allclose(got, ref, rtol=0, atol=2e-6 * np.sqrt(k) * 4)


def test_one_and_two_threads_identical_on_uneven_gates(rng):
    # Work concentrated in a few blocks: the split by work moves block boundaries around.
    n, m, k, block = 64, 40 * 16, 100, 16
    W = rng.standard_normal((m, k), dtype=np.float32)
    X = rng.standard_normal((n, k), dtype=np.float32)
    gates = _gates(rng, n, m // block, 0.05)
    gates[:, :3] = 1.0
    results = []
    previous = ccinfer.get_num_threads()
    try:
        for nth in (1, 2):
            ccinfer.set_num_threads(nth)
            out = np.full((n, m), np.nan, np.float32)
            kernels.block_gated_gemm(W, X, gates, block, out=out, dense_threshold=NEVER_DENSE)
            results.append(out)
    finally:
        ccinfer.set_num_threads(previous)
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("n,m,k", [(0, 16, 4), (3, 0, 4), (3, 16, 0)])
def test_empty_dimensions(n, m, k):
    W = np.ones((m, k), np.float32)
    X = np.ones((n, k), np.float32)
    gates = np.ones((n, m // 8), np.float32)
    got = kernels.block_gated_gemm(W, X, gates, 8)
    np.testing.assert_array_equal(got, np.zeros((n, m), np.float32))


W8 = np.ones((8, 4), np.float32)
X3 = np.ones((3, 4), np.float32)
G = np.ones((3, 2), np.float32)


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda: kernels.block_gated_gemm(W8.astype(np.float64), X3, G, 4),
            r"block_gated_gemm: W must be float32 of shape \(\*, \*\), got float64 \(8, 4\)",
        ),
        (
            lambda: kernels.block_gated_gemm(W8, X3.astype(np.float16), G, 4),
            r"block_gated_gemm: X must be float32",
        ),
        (
            lambda: kernels.block_gated_gemm(W8, np.ones((3, 5), np.float32), G, 4),
            r"X must be float32 of shape \(\*, 4\), got float32 \(3, 5\)",
        ),
        (
            lambda: kernels.block_gated_gemm(W8, X3, G.astype(np.int32), 4),
            r"gates must be float32 of shape \(3, 2\), got int32",
        ),
        (
            lambda: kernels.block_gated_gemm(W8, X3, np.ones((3, 4), np.float32), 4),
            r"gates must be float32 of shape \(3, 2\), got float32 \(3, 4\)",
        ),
        (
            lambda: kernels.block_gated_gemm(W8, X3, G, 3),
            r"block must be >= 1 and divide m = 8, got block = 3",
        ),
        (
            lambda: kernels.block_gated_gemm(W8, X3, G, 0),
            r"block must be >= 1 and divide m = 8, got block = 0",
        ),
        (
            lambda: kernels.block_gated_gemm(np.ones((8, 8), np.float32)[:, ::2], X3, G, 4),
            r"W must be C-contiguous",
        ),
        (
            lambda: kernels.block_gated_gemm(W8, np.asfortranarray(X3), G, 4),
            r"X must be C-contiguous",
        ),
        (
            lambda: kernels.block_gated_gemm(W8, X3, G, 4, out=np.ones((8, 3), np.float32)),
            r"out must be float32 of shape \(3, 8\), got float32 \(8, 3\)",
        ),
        (
            lambda: kernels.block_gated_gemm(W8, X3, G, 4, out=np.ones((3, 8), np.float64)),
            r"out must be float32 of shape \(3, 8\), got float64",
        ),
        (
            lambda: kernels.block_gated_gemm(W8.tolist(), X3, G, 4),
            r"W must be a numpy.ndarray.*got list",
        ),
    ],
)
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_read_only_out_rejected():
    out = np.zeros((3, 8), np.float32)
    out.setflags(write=False)
    with pytest.raises(ValueError, match="block_gated_gemm: out must be writeable"):
        kernels.block_gated_gemm(W8, X3, G, 4, out=out)


@pytest.mark.parametrize("which", ["W", "X", "gates"])
def test_aliased_out_rejected(which):
    buf = np.ones(200, np.float32)
    out = buf[:24].reshape(3, 8)
    args = {"W": W8, "X": X3, "gates": G}
    args[which] = {
        "W": buf[10:42].reshape(8, 4),
        "X": buf[20:32].reshape(3, 4),
        "gates": buf[23:29].reshape(3, 2),
    }[which]
    with pytest.raises(ValueError, match="block_gated_gemm: out must not share memory"):
        kernels.block_gated_gemm(args["W"], args["X"], args["gates"], 4, out=out)
