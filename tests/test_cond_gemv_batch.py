"""cond_gemv_batch (per-sample row sets over a batch) against the NumPy reference and the
scalar kernel, on every ISA."""

import numpy as np
import pytest

import ccinfer
from ccinfer import kernels, reference

from .conftest import integer_matrix

SIZES = (1, 7, 15, 16, 17, 257, 1023)


def _mask(rng, n, m, density):
    if density == "one":
        mask = np.zeros((n, m), bool)
        mask[np.arange(n), rng.integers(0, m, n)] = True
        return mask
    return rng.random((n, m)) < density


def _csr(mask):
    indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int32)
    indices = np.flatnonzero(mask.ravel()) % mask.shape[1]
    return indptr, indices.astype(np.int32)


@pytest.mark.parametrize("m", SIZES)
@pytest.mark.parametrize("k", (1, 17, 257))
@pytest.mark.parametrize("density", [0.0, "one", 0.1, 0.5, 1.0])
def test_exact_on_integers_mask_and_csr(isa, rng, m, k, density):
    n = 9
    W = integer_matrix(rng, (m, k))
    X = integer_matrix(rng, (n, k))
    bias = integer_matrix(rng, (m,))
    mask = _mask(rng, n, m, density)
    expected = reference.cond_gemv_batch(W, X, mask, bias, np.full((n, m), np.nan, np.float32))
    out = np.full((n, m), np.nan, np.float32)  # NaN: must stay where inactive
    kernels.cond_gemv_batch(W, X, mask, bias, out)
    np.testing.assert_array_equal(out, expected)
    out = np.full((n, m), np.nan, np.float32)
    indptr, indices = _csr(mask)
    kernels.cond_gemv_batch(W, X, bias=bias, out=out, indptr=indptr, indices=indices)
    np.testing.assert_array_equal(out, expected)
    new = kernels.cond_gemv_batch(W, X, mask.astype(np.uint8))
    np.testing.assert_array_equal(new, np.where(mask, expected - bias, 0))


@pytest.mark.parametrize("n", [1, 63, 64, 65, 130])  # across the 64-sample words of the bit sets
def test_batch_sizes(isa, rng, n):
    m, k = 40, 23
    W = integer_matrix(rng, (m, k))
    X = integer_matrix(rng, (n, k))
    mask = _mask(rng, n, m, 0.3)
    out = kernels.cond_gemv_batch(W, X, mask)
    np.testing.assert_array_equal(out, reference.cond_gemv_batch(W, X, mask))


@pytest.mark.parametrize("density", [0.05, 0.3, 0.6])  # 0.6: the dense (block GEMM) switch
def test_every_isa_equals_scalar_and_threads_identical(rng, density):
    n, m, k = 64, 257, 1023
    W = integer_matrix(rng, (m, k))
    X = integer_matrix(rng, (n, k))
    mask = _mask(rng, n, m, density)
    prev_isa, prev_threads = ccinfer.get_isa(), ccinfer.get_num_threads()
    try:
        ccinfer.set_isa("scalar")
        expected = kernels.cond_gemv_batch(W, X, mask)
        for isa in ccinfer.available_isas():
            ccinfer.set_isa(isa)
            np.testing.assert_array_equal(kernels.cond_gemv_batch(W, X, mask), expected)
            # random data: 1 and 2 threads bit-identical, close to the reference
            Wr = rng.standard_normal((m, k), dtype=np.float32)
            Xr = rng.standard_normal((n, k), dtype=np.float32)
            results = []
            for t in (1, 2):
                ccinfer.set_num_threads(t)
                results.append(kernels.cond_gemv_batch(Wr, Xr, mask))
            np.testing.assert_array_equal(results[0], results[1])
            np.testing.assert_allclose(
                results[0],
                reference.cond_gemv_batch(Wr, Xr, mask),
                rtol=0,
                atol=1e-5 * np.sqrt(k) * 4,
            )
    finally:
        ccinfer.set_isa(prev_isa)
        ccinfer.set_num_threads(prev_threads)


def test_rows_match_cond_gemv_per_sample(rng):
    n, m, k = 16, 300, 129
    W = rng.standard_normal((m, k), dtype=np.float32)
    X = rng.standard_normal((n, k), dtype=np.float32)
    mask = _mask(rng, n, m, 0.2)
    out = kernels.cond_gemv_batch(W, X, mask)
    for s in range(n):
        np.testing.assert_allclose(
            out[s], kernels.cond_gemv(W, X[s], mask=mask[s]), rtol=0, atol=1e-5 * np.sqrt(k)
        )


_W = np.ones((8, 4), np.float32)
_X = np.ones((3, 4), np.float32)
_M = np.ones((3, 8), bool)
_P = np.array([0, 1, 1, 3], np.int32)
_I = np.array([2, 0, 7], np.int32)


def _read_only(a):
    a = a.copy()
    a.setflags(write=False)
    return a


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda: kernels.cond_gemv_batch(_W, _X.astype(np.float64), _M),
            r"cond_gemv_batch: X must be float32 of shape \(\*, 4\), got float64 \(3, 4\)",
        ),
        (
            lambda: kernels.cond_gemv_batch(_W, np.ones((3, 5), np.float32), _M),
            r"X must be float32 of shape \(\*, 4\), got float32 \(3, 5\)",
        ),
        (
            lambda: kernels.cond_gemv_batch(_W, np.ones((3, 8), np.float32)[:, ::2], _M),
            r"X must be C-contiguous",
        ),
        (
            lambda: kernels.cond_gemv_batch(_W, _X, np.ones((3, 7), bool)),
            r"mask must be bool of shape \(3, 8\), got bool \(3, 7\)",
        ),
        (
            lambda: kernels.cond_gemv_batch(_W, _X, np.ones((3, 8), np.float32)),
            r"mask must be bool or uint8 of shape \(3, 8\), got float32",
        ),
        (lambda: kernels.cond_gemv_batch(_W, _X), r"give exactly one of mask and"),
        (
            lambda: kernels.cond_gemv_batch(_W, _X, _M, indptr=_P, indices=_I),
            r"give exactly one of mask and",
        ),
        (lambda: kernels.cond_gemv_batch(_W, _X, indptr=_P), r"indptr and indices go together"),
        (
            lambda: kernels.cond_gemv_batch(_W, _X, indptr=_P[:3], indices=_I),
            r"indptr must be int32 of shape \(4,\)",
        ),
        (
            lambda: kernels.cond_gemv_batch(_W, _X, indptr=_P, indices=_I.astype(np.int64)),
            r"indices must be int32",
        ),
        (
            lambda: kernels.cond_gemv_batch(
                _W, _X, indptr=np.array([1, 1, 1, 3], np.int32), indices=_I
            ),
            r"indptr\[0\] must be 0",
        ),
        (
            lambda: kernels.cond_gemv_batch(
                _W,
                _X,
                indptr=np.array([0, 2, 1, 3], np.int32),
                indices=np.array([0, 2, 7], np.int32),
            ),
            r"indptr must be non-decreasing",
        ),
        (
            lambda: kernels.cond_gemv_batch(
                _W, _X, indptr=np.array([0, 1, 1, 2], np.int32), indices=_I
            ),
            r"indptr\[n\] must equal len\(indices\)",
        ),
        (
            lambda: kernels.cond_gemv_batch(
                _W, _X, indptr=_P, indices=np.array([2, 0, 8], np.int32)
            ),
            r"rows\[1\] = 8 is out of range \[0, 8\) \(rows of sample 2\)",
        ),
        (
            lambda: kernels.cond_gemv_batch(
                _W, _X, indptr=_P, indices=np.array([2, 5, 5], np.int32)
            ),
            r"rows must be strictly increasing .* \(rows of sample 2\)",
        ),
        (
            lambda: kernels.cond_gemv_batch(
                _W, _X, indptr=_P, indices=np.array([2, 6, 5], np.int32)
            ),
            r"rows must be strictly increasing",
        ),
        (
            lambda: kernels.cond_gemv_batch(_W, _X, _M, bias=np.ones(4, np.float32)),
            r"bias must be float32 of shape \(8,\)",
        ),
        (
            lambda: kernels.cond_gemv_batch(_W, _X, _M, out=np.ones((8, 3), np.float32)),
            r"out must be float32 of shape \(3, 8\)",
        ),
        (
            lambda: kernels.cond_gemv_batch(
                _W, _X, _M, out=_read_only(np.ones((3, 8), np.float32))
            ),
            r"out must be writeable",
        ),
        (
            lambda: kernels.cond_gemv_batch(_W, _X, _M, out=np.ones((8, 3), np.float32).T),
            r"out must be C-contiguous",
        ),
    ],
)
def test_binding_contract(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_aliased_out_rejected():
    buf = np.ones(40, np.float32)
    with pytest.raises(ValueError, match="cond_gemv_batch: out must not share memory"):
        kernels.cond_gemv_batch(
            buf[:32].reshape(8, 4), buf[:12].reshape(3, 4), _M, out=buf[16:40].reshape(3, 8)
        )
