"""Dense OpenBLAS baselines against numpy, on every ISA (they must not depend on it)."""

import numpy as np
import pytest

from ccinfer import kernels

from .conftest import integer_matrix

SHAPES = [(1, 1), (7, 1), (1, 7), (17, 7), (257, 17), (1023, 257), (257, 1023)]


@pytest.mark.parametrize("m,k", SHAPES)
def test_dense_gemv_exact_on_integers(isa, threads, rng, m, k):
    W = integer_matrix(rng, (m, k))
    x = integer_matrix(rng, (k,))
    np.testing.assert_array_equal(kernels.dense_gemv(W, x), W @ x)


@pytest.mark.parametrize("m,k", SHAPES)
def test_dense_gemv_random(rng, m, k):
    W = rng.standard_normal((m, k), dtype=np.float32)
    x = rng.standard_normal(k, dtype=np.float32)
    ref = W.astype(np.float64) @ x.astype(np.float64)
    np.testing.assert_allclose(kernels.dense_gemv(W, x), ref, rtol=0, atol=1e-6 * np.sqrt(k) * 8)


@pytest.mark.parametrize("m,k", SHAPES)
@pytest.mark.parametrize("n", [1, 7, 64])
def test_dense_gemm_exact_on_integers(threads, rng, m, k, n):
    W = integer_matrix(rng, (m, k))
    X = integer_matrix(rng, (n, k))
    np.testing.assert_array_equal(kernels.dense_gemm(W, X), X @ W.T)


def test_dense_out_is_written(rng):
    W = rng.standard_normal((33, 9), dtype=np.float32)
    x = rng.standard_normal(9, dtype=np.float32)
    out = np.full(33, np.nan, np.float32)
    res = kernels.dense_gemv(W, x, out=out)
    assert res is out or np.shares_memory(res, out)
    assert np.isfinite(out).all()
    X = rng.standard_normal((5, 9), dtype=np.float32)
    outm = np.full((5, 33), np.nan, np.float32)
    kernels.dense_gemm(W, X, out=outm)
    np.testing.assert_allclose(outm, X @ W.T, rtol=1e-5, atol=1e-5)
