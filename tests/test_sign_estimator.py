"""SignEstimator against the NumPy reference and the scalar kernel, on every ISA."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ccinfer
from ccinfer import kernels, reference

from .conftest import integer_matrix

SignEstimator = kernels.SignEstimator


def _integer_estimator(rng, m, r, k, tau=0.0):
    A = integer_matrix(rng, (m, r), -3, 4)
    B = integer_matrix(rng, (r, k), -3, 4)
    bias = integer_matrix(rng, (m,), -20, 21)
    return A, B, bias, SignEstimator(A, B, bias, tau)


@pytest.mark.parametrize("m", [1, 7, 15, 16, 17, 63, 64, 65, 257])
@pytest.mark.parametrize("r", [1, 5, 16, 17, 50])
@pytest.mark.parametrize("k", [1, 7, 16, 17, 257])
def test_exact_on_integers(isa, rng, m, r, k):
    A, B, bias, est = _integer_estimator(rng, m, r, k)
    X = integer_matrix(rng, (7, k), -2, 3)
    for x in X:
        np.testing.assert_array_equal(est.predict(x), reference.sign_estimate(A, B, bias, x))
    np.testing.assert_array_equal(est.predict_batch(X), reference.sign_estimate(A, B, bias, X))


@pytest.mark.parametrize("tau", [-1e9, -5.0, 0.0, 3.5, 1e9])
def test_thresholds_and_extremes(isa, rng, tau):
    A, B, bias, est = _integer_estimator(rng, 100, 8, 30, tau)
    x = integer_matrix(rng, (30,), -2, 3)
    rows = est.predict(x)
    assert rows.dtype == np.int32
    np.testing.assert_array_equal(rows, reference.sign_estimate(A, B, bias, x, tau))
    if tau == -1e9:
        np.testing.assert_array_equal(rows, np.arange(100, dtype=np.int32))  # all rows
    if tau == 1e9:
        assert rows.size == 0  # none


def test_predict_batch_mask_matches_predict_and_threads(rng):
    _A, _B, _bias, est = _integer_estimator(rng, 1000, 50, 784)
    X = rng.standard_normal((64, 784), dtype=np.float32)
    masks, rows = [], []
    previous = ccinfer.get_num_threads()
    try:
        for nth in (1, 2):
            ccinfer.set_num_threads(nth)
            masks.append(est.predict_batch(X))
            rows.append([est.predict(x) for x in X])
    finally:
        ccinfer.set_num_threads(previous)
    assert masks[0].dtype == np.bool_ and masks[0].shape == (64, 1000)
    np.testing.assert_array_equal(masks[0], masks[1])
    for one, two in zip(*rows, strict=True):
        np.testing.assert_array_equal(one, two)
    for x, mask in zip(X, masks[0], strict=True):
        np.testing.assert_array_equal(est.predict(x), np.flatnonzero(mask))


def test_predict_batch_into_out(rng):
    A, B, bias, est = _integer_estimator(rng, 33, 4, 9)
    X = integer_matrix(rng, (5, 9), -2, 3)
    out = np.ones((5, 33), bool)
    assert est.predict_batch(X, out=out) is out
    np.testing.assert_array_equal(out, reference.sign_estimate(A, B, bias, X))


@pytest.mark.parametrize("other", ["scalar", "avx2"])
def test_simd_matches_scalar_kernel(rng, other):
    if other not in ccinfer.available_isas():
        pytest.skip(f"{other} not available")
    _A, _B, _bias, est = _integer_estimator(rng, 257, 17, 65)
    X = integer_matrix(rng, (9, 65), -2, 3)
    results = {}
    previous = ccinfer.get_isa()
    try:
        for name in {other, ccinfer.available_isas()[-1]}:
            ccinfer.set_isa(name)
            results[name] = ([est.predict(x) for x in X], est.predict_batch(X))
    finally:
        ccinfer.set_isa(previous)
    for rows, mask in results.values():
        for a, b in zip(rows, results[other][0], strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(mask, results[other][1])


def test_properties_round_trip(rng):
    A, B, bias, est = _integer_estimator(rng, 70, 6, 11, tau=0.25)
    assert (est.m, est.rank, est.k, est.tau) == (70, 6, 11, 0.25)
    np.testing.assert_array_equal(est.A, A)
    np.testing.assert_array_equal(est.B, B)
    np.testing.assert_array_equal(est.bias, bias)
    est.tau = 2.0
    assert est.tau == 2.0
    no_bias = SignEstimator(A, B)
    np.testing.assert_array_equal(no_bias.bias, np.zeros(70, np.float32))


def test_from_weights_truncated_svd(rng):
    W = rng.standard_normal((40, 30)).astype(np.float32)
    bias = rng.standard_normal(40).astype(np.float32)
    est = kernels.SignEstimator.from_weights(W, bias, rank=5, tau=0.1)
    assert isinstance(est, SignEstimator) and (est.rank, est.tau) == (5, pytest.approx(0.1))
    U, S, Vt = np.linalg.svd(W.astype(np.float64), full_matrices=False)
    np.testing.assert_allclose(est.A @ est.B, (U[:, :5] * S[:5]) @ Vt[:5], atol=1e-5)
    for rank in (0, 31, 2.5):
        with pytest.raises(ValueError, match=r"from_weights: rank must be an int in \[1, 30\]"):
            kernels.SignEstimator.from_weights(W, bias, rank)


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 80),
    k=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_full_rank_gives_sign_of_layer(m, k, seed):
    """A full-rank estimator predicts sign(W x + b) wherever |W x + b| is not tiny."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, k)).astype(np.float32)
    bias = rng.standard_normal(m).astype(np.float32)
    x = rng.standard_normal(k).astype(np.float32)
    est = SignEstimator.from_weights(W, bias, rank=min(m, k))
    z = W.astype(np.float64) @ x + bias
    clear = np.abs(z) > 1e-3 * (1 + np.abs(W) @ np.abs(x))
    predicted = np.zeros(m, bool)
    predicted[est.predict(x)] = True
    np.testing.assert_array_equal(predicted[clear], (z > 0)[clear])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    taus=st.lists(st.floats(-5, 5, allow_nan=False, width=32), min_size=2, max_size=5),
)
def test_raising_tau_never_adds_rows(seed, taus):
    rng = np.random.default_rng(seed)
    est = SignEstimator.from_weights(
        rng.standard_normal((90, 20)).astype(np.float32),
        rng.standard_normal(90).astype(np.float32),
        rank=6,
    )
    x = rng.standard_normal(20).astype(np.float32)
    X = rng.standard_normal((3, 20)).astype(np.float32)
    previous_rows, previous_mask = None, None
    for tau in sorted(taus):
        est.tau = tau
        rows, mask = set(est.predict(x).tolist()), est.predict_batch(X)
        if previous_rows is not None:
            assert rows <= previous_rows
            assert not (mask & ~previous_mask).any()
        previous_rows, previous_mask = rows, mask


A4 = np.ones((8, 2), np.float32)
B4 = np.ones((2, 4), np.float32)


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda: SignEstimator(A4.astype(np.float64), B4),
            r"SignEstimator: A must be float32 of shape \(\*, \*\), got float64 \(8, 2\)",
        ),
        (
            lambda: SignEstimator(A4, np.ones((3, 4), np.float32)),
            r"SignEstimator: B must be float32 of shape \(2, \*\), got float32 \(3, 4\)",
        ),
        (
            lambda: SignEstimator(A4, B4, np.ones(7, np.float32)),
            r"SignEstimator: bias must be float32 of shape \(8,\), got float32 \(7,\)",
        ),
        (
            lambda: SignEstimator(np.ones((8, 4), np.float32)[:, ::2], B4),
            r"SignEstimator: A must be C-contiguous",
        ),
        (
            lambda: SignEstimator(np.ones((0, 2), np.float32), B4),
            r"SignEstimator: A \(m, r\) and B \(r, k\) must not be empty",
        ),
        (
            lambda: SignEstimator(A4, B4).predict(np.ones(5, np.float32)),
            r"SignEstimator.predict: x must be float32 of shape \(4,\), got float32 \(5,\)",
        ),
        (
            lambda: SignEstimator(A4, B4).predict(np.ones(4, np.float64)),
            r"SignEstimator.predict: x must be float32 of shape \(4,\), got float64",
        ),
        (
            lambda: SignEstimator(A4, B4).predict(np.ones(8, np.float32)[::2]),
            r"SignEstimator.predict: x must be C-contiguous",
        ),
        (
            lambda: SignEstimator(A4, B4).predict_batch(np.ones((3, 5), np.float32)),
            r"SignEstimator.predict_batch: X must be float32 of shape \(\*, 4\)",
        ),
        (
            lambda: SignEstimator(A4, B4).predict_batch(
                np.ones((3, 4), np.float32), out=np.ones((3, 8), np.uint8)
            ),
            r"SignEstimator.predict_batch: out must be bool of shape \(3, 8\), got uint8",
        ),
    ],
)
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_read_only_and_aliased_out_rejected():
    est = SignEstimator(A4, B4)
    X = np.ones((3, 4), np.float32)
    out = np.zeros((3, 8), bool)
    out.setflags(write=False)
    with pytest.raises(ValueError, match="predict_batch: out must be writeable"):
        est.predict_batch(X, out=out)
    buf = np.zeros(200, np.float32)
    with pytest.raises(ValueError, match="predict_batch: out must not share memory"):
        est.predict_batch(buf[:12].reshape(3, 4), out=buf[:6].view(bool).reshape(3, 8))
