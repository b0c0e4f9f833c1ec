"""cond_gemv against the NumPy reference and the scalar kernel, on every ISA."""

import numpy as np
import pytest

from ccinfer import kernels, reference

from .conftest import ODD_SIZES, integer_matrix


def _rows(rng, m, density):
    n = {0.0: 0, "one": 1}.get(density, None)
    n = round(density * m) if n is None else n
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


# ---- mask form, scalar parity, threads, properties, binding contract -------------------------

EXACT_SIZES = (1, 7, 15, 16, 17, 257, 1023)


@pytest.mark.parametrize("m", EXACT_SIZES)
@pytest.mark.parametrize("density", [0.0, "one", 0.1, 0.5, 0.95, 1.0])
@pytest.mark.parametrize("mask_dtype", [bool, np.uint8])
def test_mask_form_equals_rows_form(isa, rng, m, density, mask_dtype):
    k = 33
    W = integer_matrix(rng, (m, k))
    x = integer_matrix(rng, (k,))
    bias = integer_matrix(rng, (m,))
    rows = _rows(rng, m, density)
    mask = np.zeros(m, mask_dtype)
    mask[rows] = 7 if mask_dtype is np.uint8 else True  # any non-zero byte is active
    out = np.full(m, np.nan, np.float32)
    kernels.cond_gemv(W, x, bias=bias, out=out, mask=mask)
    expected = reference.cond_gemv(W, x, rows, bias, np.full(m, np.nan, np.float32))
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("shape", [(257, 1023), (1023, 17), (16, 257)])
@pytest.mark.parametrize("density", ["one", 0.1, 0.5, 0.95, 1.0])
def test_every_isa_equals_scalar_on_integers(rng, shape, density):
    import ccinfer

    m, k = shape
    W = integer_matrix(rng, (m, k))
    x = integer_matrix(rng, (k,))
    rows = _rows(rng, m, density)
    previous = ccinfer.get_isa()
    try:
        ccinfer.set_isa("scalar")
        expected = kernels.cond_gemv(W, x, rows, out=np.full(m, np.nan, np.float32))
        for isa in ccinfer.available_isas():
            ccinfer.set_isa(isa)
            got = kernels.cond_gemv(W, x, rows, out=np.full(m, np.nan, np.float32))
            np.testing.assert_array_equal(got, expected, err_msg=isa)
    finally:
        ccinfer.set_isa(previous)


@pytest.mark.parametrize("density", [0.1, 0.5, 0.95, 1.0])  # 0.95 and 1.0: the dense switch
def test_one_and_two_threads_identical(isa, rng, density):
    import ccinfer

    m, k = 1031, 515
    W = rng.standard_normal((m, k), dtype=np.float32)
    x = rng.standard_normal(k, dtype=np.float32)
    bias = rng.standard_normal(m, dtype=np.float32)
    rows = _rows(rng, m, density)
    previous = ccinfer.get_num_threads()
    try:
        results = []
        for n in (1, 2):
            ccinfer.set_num_threads(n)
            results.append(kernels.cond_gemv(W, x, rows, bias))
    finally:
        ccinfer.set_num_threads(previous)
    np.testing.assert_array_equal(results[0], results[1])
    ref = reference.cond_gemv(W, x, rows, bias)
    np.testing.assert_allclose(results[0], ref, rtol=0, atol=1e-5 * np.sqrt(k) * 4)


def test_hypothesis_property_rows_of_full_product():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @st.composite
    def problems(draw):
        m = draw(st.integers(1, 70))
        k = draw(st.integers(1, 70))
        seed = draw(st.integers(0, 2**32 - 1))
        g = np.random.default_rng(seed)
        W = integer_matrix(g, (m, k))
        x = integer_matrix(g, (k,))
        rows = np.flatnonzero(g.random(m) < draw(st.floats(0, 1))).astype(np.int32)
        return W, x, rows

    @settings(max_examples=150, deadline=None)
    @given(problems())
    def prop(problem):
        W, x, rows = problem
        full = (W.astype(np.float64) @ x.astype(np.float64)).astype(np.float32)
        np.testing.assert_array_equal(kernels.cond_gemv(W, x, rows)[rows], full[rows])

    assert hypothesis is not None
    prop()


_W = np.ones((8, 4), np.float32)
_x = np.ones(4, np.float32)
_r = np.array([1, 5], np.int32)


def _read_only(a):
    a = a.copy()
    a.setflags(write=False)
    return a


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda: kernels.cond_gemv(_W.astype(np.float64), _x, _r),
            r"cond_gemv: W must be float32 of shape \(\*, \*\), got float64 \(8, 4\)",
        ),
        (lambda: kernels.cond_gemv(_W, _x.astype(np.float16), _r), r"x must be float32"),
        (
            lambda: kernels.cond_gemv(_W, np.ones(5, np.float32), _r),
            r"x must be float32 of shape \(4,\), got float32 \(5,\)",
        ),
        (lambda: kernels.cond_gemv(_W[:, ::2], _x[:2], _r), r"W must be C-contiguous"),
        (lambda: kernels.cond_gemv(_W, np.ones(8, np.float32)[::2], _r), r"x must be C-contiguous"),
        (
            lambda: kernels.cond_gemv(_W, _x, np.array([0, 2, 4, 6], np.int32)[::2]),
            r"rows must be C-contiguous",
        ),
        (lambda: kernels.cond_gemv(_W, _x, _r[None, :]), r"rows must be int32 of shape \(\*,\)"),
        (
            lambda: kernels.cond_gemv(_W, _x, _r, bias=np.ones(7, np.float32)),
            r"bias must be float32 of shape \(8,\)",
        ),
        (
            lambda: kernels.cond_gemv(_W, _x, _r, out=np.ones(8, np.float64)),
            r"out must be float32 of shape \(8,\), got float64",
        ),
        (
            lambda: kernels.cond_gemv(_W, _x, _r, out=_read_only(np.ones(8, np.float32))),
            r"out must be writeable",
        ),
        (
            lambda: kernels.cond_gemv(
                _W.reshape(4, 8), np.ones(8, np.float32), _r[:1], out=_W.reshape(4, 8)[1, :4]
            ),
            r"out must not share memory",
        ),
        (lambda: kernels.cond_gemv(_W, _x), r"give exactly one of rows and mask"),
        (
            lambda: kernels.cond_gemv(_W, _x, _r, mask=np.ones(8, bool)),
            r"give exactly one of rows and mask",
        ),
        (
            lambda: kernels.cond_gemv(_W, _x, mask=np.ones(8, np.int32)),
            r"mask must be bool or uint8 of shape \(8,\), got int32 \(8,\)",
        ),
        (
            lambda: kernels.cond_gemv(_W, _x, mask=np.ones(7, bool)),
            r"mask must be bool of shape \(8,\), got bool \(7,\)",
        ),
        (
            lambda: kernels.cond_gemv(_W, _x, mask=np.ones(16, np.uint8)[::2]),
            r"mask must be C-contiguous",
        ),
    ],
)
def test_binding_contract(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_aliased_out_with_bias_rejected():
    buf = np.ones(16, np.float32)
    with pytest.raises(ValueError, match="cond_gemv: out must not share memory"):
        kernels.cond_gemv(_W, _x, _r, bias=buf[:8], out=buf[4:12])
