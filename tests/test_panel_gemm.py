"""panel_gemm (the GRU batch step's outer-product kernel) against NumPy, on every ISA."""

import numpy as np
import pytest

import ccinfer
from ccinfer import kernels, reference

from .conftest import integer_matrix


@pytest.mark.parametrize("m", [1, 15, 16, 17, 32, 33, 96])
@pytest.mark.parametrize("k", [1, 7, 64, 257])
@pytest.mark.parametrize("n", [1, 5, 13, 64])
def test_exact_on_integers(isa, rng, m, k, n):
    W = integer_matrix(rng, (m, k))
    X = integer_matrix(rng, (n, k))
    np.testing.assert_array_equal(kernels.panel_gemm(W, X), reference.panel_gemm(W, X))


@pytest.mark.parametrize("count", [0, 1, 7, 26, 40])
def test_listed_samples_only(isa, rng, count):
    W = integer_matrix(rng, (64, 100))
    X = integer_matrix(rng, (40, 100))
    samples = np.sort(rng.choice(40, count, replace=False)).astype(np.int32)
    expected = reference.panel_gemm(W, X, samples)
    assert not expected[np.setdiff1d(np.arange(40), samples)].any()
    np.testing.assert_array_equal(kernels.panel_gemm(W, X, samples), expected)


def test_same_bits_on_every_isa(rng):
    """One fused multiply-add per term, in order of k, on every ISA: the same floats."""
    W = rng.standard_normal((70, 301)).astype(np.float32)
    X = rng.standard_normal((19, 301)).astype(np.float32)
    samples = np.array([18, 0, 7, 3], np.int32)
    previous = ccinfer.get_isa()
    try:
        results = {}
        for name in ccinfer.available_isas():
            ccinfer.set_isa(name)
            results[name] = kernels.panel_gemm(W, X, samples)
    finally:
        ccinfer.set_isa(previous)
    for name, y in results.items():
        np.testing.assert_array_equal(y, results["scalar"], err_msg=name)
    np.testing.assert_allclose(
        results["scalar"], reference.panel_gemm(W, X, samples), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.ones((4, 3), np.float64), np.ones((2, 3), np.float32)), r"W must be .*float32"),
        ((np.ones((4, 3), np.float32), np.ones((2, 5), np.float32)), r"X must be"),
        (
            (np.ones((4, 3), np.float32), np.ones((2, 3), np.float32), np.array([2], np.int32)),
            r"samples\[0\] = 2 is out of range \[0, 2\)",
        ),
        (
            (np.ones((4, 3), np.float32), np.ones((2, 3), np.float32), np.array([0], np.int64)),
            r"samples must be .*int32",
        ),
    ],
)
def test_bad_input_is_a_value_error(args, message):
    with pytest.raises(ValueError, match=message):
        kernels.panel_gemm(*args)
