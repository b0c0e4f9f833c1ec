"""cond_gemv against the NumPy reference and the scalar kernel, on every ISA."""

import numpy as np
import pytest

from ccinfer import kernels, reference

from .conftest import ODD_SIZES, integer_matrix


def _rows(rng, m, density):
    n = {0.0: 0, "one": 1}.get(density, None)
    n = int(round(density * m)) if n is None else n
    return np.sort(rng.choice(m, n, replace=False)).astype(np.int32)


@pytest.mark.parametrize("m", ODD_SIZES)
@pytest.mark.parametrize("k", ODD_SIZES)
@pytest.mark.parametrize("density", [0.0, "one", 0.1, 0.5, 1.0])
def test_exact_on_integers(isa, rng, m, k, density):
    W = integer_matrix(rng, (m, k))
    x = integer_matrix(rng, (k,))
    bias = integer_matrix(rng, (m,))
    rows = _rows(rng, m, density)
    out = np.full(m, np.nan, np.float32)
    kernels.cond_gemv(W, x, rows, bias=bias, out=out)
    expected = np.full(m, np.nan, np.float32)
    reference.cond_gemv(W, x, rows, bias=bias, out=expected)
    np.testing.assert_array_equal(out, expected)  # NaN where untouched, exact elsewhere


def test_new_out_is_zero_outside_rows(rng):
    W = rng.standard_normal((50, 20), dtype=np.float32)
    x = rng.standard_normal(20, dtype=np.float32)
    rows = np.array([3, 10, 49], np.int32)
    out = kernels.cond_gemv(W, x, rows)
    mask = np.zeros(50, bool)
    mask[rows] = True
    assert (out[~mask] == 0).all()
    np.testing.assert_allclose(out[rows], W[rows] @ x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(1024, 1024), (3072, 1051)])
def test_random_within_sqrt_k_tolerance_and_thread_invariant(isa, rng, shape):
    import ccinfer

    m, k = shape
    W = rng.standard_normal((m, k), dtype=np.float32)
    x = rng.standard_normal(k, dtype=np.float32)
    rows = _rows(rng, m, 0.25)
    ref = reference.cond_gemv(W, x, rows)
    results = []
    previous = ccinfer.get_num_threads()
    try:
        for n in (1, 2):
            ccinfer.set_num_threads(n)
            results.append(kernels.cond_gemv(W, x, rows))
    finally:
        ccinfer.set_num_threads(previous)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_allclose(results[0], ref, rtol=0, atol=2e-6 * np.sqrt(k) * 4)


@pytest.mark.parametrize(
    "rows,match",
    [
        (np.array([1, 8], np.int32), r"cond_gemv: rows\[1\] = 8 is out of range \[0, 8\)"),
        (np.array([-1], np.int32), r"rows\[0\] = -1 is out of range"),
        (np.array([3, 3], np.int32), r"rows must be strictly increasing"),
        (np.array([4, 2], np.int32), r"rows must be strictly increasing"),
        (np.array([1, 2], np.int64), r"rows must be int32 of shape \(\*,\), got int64"),
    ],
)
def test_bad_rows(rows, match):
    W = np.ones((8, 4), np.float32)
    with pytest.raises(ValueError, match=match):
        kernels.cond_gemv(W, np.ones(4, np.float32), rows)
