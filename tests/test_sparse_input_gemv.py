"""sparse_input_gemv (skip zero inputs over the transposed weights) against the NumPy
reference and the scalar kernel, on every ISA."""

import numpy as np
import pytest

import ccinfer
from ccinfer import kernels, reference

from .conftest import integer_matrix

SIZES = (1, 7, 15, 16, 17, 257, 1023)


def _sparse_x(rng, k, density):
    x = integer_matrix(rng, (k,), 1, 5) * rng.choice([-1, 1], k).astype(np.float32)
    if density == "one":
        keep = np.zeros(k, bool)
        keep[rng.integers(0, k)] = True
    else:
        keep = rng.random(k) < density
    return np.where(keep, x, 0).astype(np.float32)


def _rows(rng, m, density):
    n = {0.0: 0, "one": 1}.get(density)
    n = round(density * m) if n is None else n
    return np.sort(rng.choice(m, n, replace=False)).astype(np.int32)


@pytest.mark.parametrize("m", SIZES)
@pytest.mark.parametrize("k", SIZES)
@pytest.mark.parametrize("density", [0.0, "one", 0.1, 0.5, 1.0])
def test_exact_on_integers(isa, rng, m, k, density):
    Wt = integer_matrix(rng, (k, m))
    x = _sparse_x(rng, k, density)
    bias = integer_matrix(rng, (m,))
    out = kernels.sparse_input_gemv(Wt, x, bias=bias, out=np.full(m, np.nan, np.float32))
    np.testing.assert_array_equal(out, reference.sparse_input_gemv(Wt, x, bias=bias))
    np.testing.assert_array_equal(
        kernels.sparse_input_gemv(Wt, x), reference.sparse_input_gemv(Wt, x)
    )


@pytest.mark.parametrize("m", SIZES)
@pytest.mark.parametrize("row_density", [0.0, "one", 0.1, 0.5, 1.0])
def test_rows_exact_and_untouched_elsewhere(isa, rng, m, row_density):
    k = 37
    Wt = integer_matrix(rng, (k, m))
    x = _sparse_x(rng, k, 0.3)
    bias = integer_matrix(rng, (m,))
    rows = _rows(rng, m, row_density)
    out = np.full(m, np.nan, np.float32)
    kernels.sparse_input_gemv(Wt, x, rows, bias, out)
    expected = reference.sparse_input_gemv(Wt, x, rows, bias, np.full(m, np.nan, np.float32))
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("density", [0.05, 0.5, 1.0])
def test_every_isa_equals_scalar_threads_identical_rows_consistent(rng, density):
    k, m = 515, 1031
    Wt = integer_matrix(rng, (k, m))
    x = _sparse_x(rng, k, density)
    prev_isa, prev_threads = ccinfer.get_isa(), ccinfer.get_num_threads()
    try:
        ccinfer.set_isa("scalar")
        expected = kernels.sparse_input_gemv(Wt, x)
        for isa in ccinfer.available_isas():
            ccinfer.set_isa(isa)
            np.testing.assert_array_equal(kernels.sparse_input_gemv(Wt, x), expected)
            # random data: thread count and row restriction do not change a single bit
            Wr = rng.standard_normal((k, m), dtype=np.float32)
            xr = np.where(rng.random(k) < density, rng.standard_normal(k), 0).astype(np.float32)
            rows = _rows(rng, m, 0.2)
            results = []
            for t in (1, 2):
                ccinfer.set_num_threads(t)
                results.append(kernels.sparse_input_gemv(Wr, xr))
                np.testing.assert_array_equal(
                    kernels.sparse_input_gemv(Wr, xr, rows)[rows], results[-1][rows]
                )
            np.testing.assert_array_equal(results[0], results[1])
            np.testing.assert_allclose(
                results[0], reference.sparse_input_gemv(Wr, xr), rtol=0, atol=1e-5 * np.sqrt(k) * 4
            )
    finally:
        ccinfer.set_isa(prev_isa)
        ccinfer.set_num_threads(prev_threads)


def test_equals_dense_product_of_transpose(rng):
    W = rng.standard_normal((300, 200), dtype=np.float32)
    x = np.maximum(rng.standard_normal(200), 0).astype(np.float32)  # a ReLU output
    out = kernels.sparse_input_gemv(np.ascontiguousarray(W.T), x)
    np.testing.assert_allclose(out, W @ x, rtol=0, atol=1e-5 * np.sqrt(200) * 4)


def test_nan_input_propagates():
    Wt = np.ones((3, 4), np.float32)
    out = kernels.sparse_input_gemv(Wt, np.array([0, np.nan, 0], np.float32))
    assert np.isnan(out).all()


_Wt = np.ones((4, 8), np.float32)
_x = np.ones(4, np.float32)


def _read_only(a):
    a = a.copy()
    a.setflags(write=False)
    return a


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda: kernels.sparse_input_gemv(_Wt.astype(np.float64), _x),
            r"sparse_input_gemv: Wt must be float32 of shape \(\*, \*\), got float64 \(4, 8\)",
        ),
        (
            lambda: kernels.sparse_input_gemv(_Wt, np.ones(8, np.float32)),
            r"x must be float32 of shape \(4,\), got float32 \(8,\)",
        ),
        (
            lambda: kernels.sparse_input_gemv(_Wt.T, np.ones(8, np.float32)),
            r"Wt must be C-contiguous",
        ),
        (
            lambda: kernels.sparse_input_gemv(_Wt, np.ones(8, np.float32)[::2]),
            r"x must be C-contiguous",
        ),
        (
            lambda: kernels.sparse_input_gemv(_Wt, _x, np.array([1, 8], np.int32)),
            r"sparse_input_gemv: rows\[1\] = 8 is out of range \[0, 8\)",
        ),
        (
            lambda: kernels.sparse_input_gemv(_Wt, _x, np.array([3, 3], np.int32)),
            r"rows must be strictly increasing",
        ),
        (
            lambda: kernels.sparse_input_gemv(_Wt, _x, np.array([5, 2], np.int32)),
            r"rows must be strictly increasing",
        ),
        (
            lambda: kernels.sparse_input_gemv(_Wt, _x, np.array([1], np.int64)),
            r"rows must be int32",
        ),
        (
            lambda: kernels.sparse_input_gemv(_Wt, _x, bias=np.ones(4, np.float32)),
            r"bias must be float32 of shape \(8,\)",
        ),
        (
            lambda: kernels.sparse_input_gemv(_Wt, _x, out=np.ones(4, np.float32)),
            r"out must be float32 of shape \(8,\)",
        ),
        (
            lambda: kernels.sparse_input_gemv(_Wt, _x, out=_read_only(np.ones(8, np.float32))),
            r"out must be writeable",
        ),
        (lambda: kernels.sparse_input_gemv(_Wt, _x, out=_Wt[1]), r"out must not share memory"),
    ],
)
def test_binding_contract(call, match):
    with pytest.raises(ValueError, match=match):
        call()
