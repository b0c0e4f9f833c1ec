"""The GRU step's own tanh (cpp/include/ccinfer/gate_math.h) against float64 numpy."""

import numpy as np
import pytest

from ccinfer import _core


def ulps(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got - exact| in units of the float32 spacing at the exact value."""
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def test_within_three_ulps():
    grid = np.linspace(-20, 20, 2_000_001, dtype=np.float32)
    # Every float32 near 0 and around the switch between the series and the exp form.
    small = np.arange(0, 0x3E900000, 97, dtype=np.uint32).view(np.float32)  # 0 .. 0.28
    x = np.concatenate([grid, small, -small])
    err = ulps(_core._gate_tanh(x), np.tanh(x.astype(np.float64)))
    assert err.max() <= 3.0, x[np.argmax(err)]


def test_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 9.0, -9.0, 1e-30], np.float32)
    y = _core._gate_tanh(x)
    assert np.isnan(y[0])
    np.testing.assert_array_equal(y[1:], np.array([1, -1, 0, 0, 1, -1, 1e-30], np.float32))
    assert np.signbit(y[4])  # tanh(-0) = -0


def test_checks_its_input():
    with pytest.raises(ValueError, match="float32"):
        _core._gate_tanh(np.zeros(3))
