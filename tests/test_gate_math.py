"""The GRU step's gate maths (cpp/include/ccinfer/gate_math.h, kernels/gru_gates) against
float64 NumPy, and every ISA's kernels against the scalar reference bit for bit."""

import numpy as np
import pytest

import ccinfer
from ccinfer._core import _testing

from .conftest import ODD_SIZES


def ulps(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got - exact| in units of the float32 spacing at the exact value."""
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def sigmoid64(u):
    return 1.0 / (1.0 + np.exp(-np.asarray(u, np.float64)))


def on_scalar(fn, *args, **kwargs):
    """fn(*args, **kwargs) with the scalar kernels, restoring the active ISA."""
    previous = ccinfer.get_isa()
    ccinfer.set_isa("scalar")
    try:
        return fn(*args, **kwargs)
    finally:
        ccinfer.set_isa(previous)


def same_bits(a, b):
    np.testing.assert_array_equal(np.asarray(a).view(np.uint32), np.asarray(b).view(np.uint32))


def sigmoid_by_kernel(u):
    """sigmoid(u) through the dense unit: gates (0, u, 0), h = 1 give (1 - z) tanh(0) + z."""
    u = np.asarray(u, np.float32)
    gx = np.zeros((u.size, 3), np.float32)
    gx[:, 1] = u
    return _testing.gate_units(gx.ravel(), np.zeros(3 * u.size, np.float32), np.ones_like(u))


def test_tanh_within_three_ulps(isa):
    grid = np.linspace(-20, 20, 2_000_001, dtype=np.float32)
    # Every float32 near 0 and around the switch between the series and the exp form.
    small = np.arange(0, 0x3E900000, 97, dtype=np.uint32).view(np.float32)  # 0 .. 0.28
    x = np.concatenate([grid, small, -small])
    err = ulps(_testing.gate_tanh(x), np.tanh(x.astype(np.float64)))
    assert err.max() <= 3.0, x[np.argmax(err)]


def test_tanh_every_float_of_the_exp_form_matches_scalar(isa):
    """All 50 million float32 in [0.25, 9), where the vector exp does the work: the same bits
    as the scalar reference, within 3 ulps of the exact value."""
    lo, hi = np.float32(0.25).view(np.uint32), np.float32(9.0).view(np.uint32)
    x = np.arange(lo, hi, dtype=np.uint32).view(np.float32)
    got = _testing.gate_tanh(x)
    assert ulps(got, np.tanh(x.astype(np.float64))).max() <= 3.0
    same_bits(got, on_scalar(_testing.gate_tanh, x))
    same_bits(_testing.gate_tanh(-x), -got)


def test_tanh_special_values(isa):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 9.0, -9.0, 1e-30, 1e-45], np.float32)
    y = _testing.gate_tanh(x)
    assert np.isnan(y[0])
    np.testing.assert_array_equal(y[1:], np.array([1, -1, 0, 0, 1, -1, 1e-30, 1e-45], np.float32))
    assert np.signbit(y[4])  # tanh(-0) = -0


def test_sigmoid_within_three_ulps_and_saturates(isa):
    u = np.linspace(-80, 80, 1_600_001, dtype=np.float32)
    got = sigmoid_by_kernel(u)
    assert ulps(got, sigmoid64(u)).max() <= 3.0
    same_bits(got, on_scalar(sigmoid_by_kernel, u))
    # Beyond exp's range the argument is clamped: 1, or a subnormal below 1e-38; NaN stays.
    ends = sigmoid_by_kernel(np.array([-1e30, -np.inf, 1e30, np.inf, np.nan], np.float32))
    assert (ends[:2] >= 0).all() and (ends[:2] < 1e-38).all()
    np.testing.assert_array_equal(ends[2:4], [1.0, 1.0])
    assert np.isnan(ends[4])


@pytest.mark.parametrize("n", ODD_SIZES)
def test_clip_tanh(isa, rng, n):
    z = rng.normal(0, 2, n).astype(np.float32)
    z[::5] = 0.0
    if n > 3:
        z[3] = np.nan  # NaN counts as off
    out, units = _testing.gate_clip_tanh(z)
    on = z > 0
    np.testing.assert_array_equal(units, np.flatnonzero(on))
    np.testing.assert_array_equal(out[~on], 0.0)
    same_bits(out[on], _testing.gate_tanh(z[on]))
    out_s, units_s = on_scalar(_testing.gate_clip_tanh, z)
    same_bits(out, out_s)
    np.testing.assert_array_equal(units, units_s)


def cond_reference(gx, gh, z, h, units, bx, bh):
    gx = gx.astype(np.float64) + (0 if bx is None else bx)
    gh = gh.astype(np.float64) + (0 if bh is None else bh)
    r = sigmoid64(gx[0::2] + gh[0::2])
    c = np.tanh(gx[1::2] + r * gh[1::2])
    out = h.astype(np.float64).copy()
    idx = np.arange(h.size) if units is None else units
    out[idx] = ((1 - z) * h + z * c)[idx]
    return out


def dense_reference(gx, gh, h, bx, bh):
    gx = gx.astype(np.float64) + (0 if bx is None else bx)
    gh = gh.astype(np.float64) + (0 if bh is None else bh)
    r = sigmoid64(gx[0::3] + gh[0::3])
    z = sigmoid64(gx[1::3] + gh[1::3])
    c = np.tanh(gx[2::3] + r * gh[2::3])
    return (1 - z) * c + z * h


@pytest.mark.parametrize("n", ODD_SIZES)
@pytest.mark.parametrize("listed", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_cond_units(isa, rng, n, listed, bias):
    gx, gh = (rng.normal(0, 2, 2 * n).astype(np.float32) for _ in range(2))
    bx, bh = (rng.normal(0, 1, 2 * n).astype(np.float32) if bias else None for _ in range(2))
    z = rng.uniform(0.01, 1, n).astype(np.float32)
    h = rng.uniform(-1, 1, n).astype(np.float32)
    units = np.flatnonzero(rng.random(n) < 0.6).astype(np.int32) if listed else None
    got = _testing.gate_units(gx, gh, h, z=z, units=units, bx=bx, bh=bh)
    np.testing.assert_allclose(
        got, cond_reference(gx, gh, z, h, units, bx, bh), rtol=2e-6, atol=2e-7
    )
    if listed:  # units not listed keep their state
        np.testing.assert_array_equal(np.delete(got, units), np.delete(h, units))
    same_bits(got, on_scalar(_testing.gate_units, gx, gh, h, z=z, units=units, bx=bx, bh=bh))


@pytest.mark.parametrize("n", ODD_SIZES)
@pytest.mark.parametrize("bias", [False, True])
def test_dense_units(isa, rng, n, bias):
    gx, gh = (rng.normal(0, 2, 3 * n).astype(np.float32) for _ in range(2))
    bx, bh = (rng.normal(0, 1, 3 * n).astype(np.float32) if bias else None for _ in range(2))
    h = rng.uniform(-1, 1, n).astype(np.float32)
    got = _testing.gate_units(gx, gh, h, bx=bx, bh=bh)
    np.testing.assert_allclose(got, dense_reference(gx, gh, h, bx, bh), rtol=2e-6, atol=2e-7)
    same_bits(got, on_scalar(_testing.gate_units, gx, gh, h, bx=bx, bh=bh))


def test_checks_its_input():
    with pytest.raises(ValueError, match="float32"):
        _testing.gate_tanh(np.zeros(3))
    h = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="gx"):
        _testing.gate_units(np.zeros(8, np.float32), np.zeros(12, np.float32), h)
    with pytest.raises(ValueError, match="range"):
        _testing.gate_units(
            np.zeros(8, np.float32),
            np.zeros(8, np.float32),
            h,
            z=h,
            units=np.array([4], np.int32),
        )
