"""Shared fixtures: every kernel test runs on every ISA this machine has (docs/design.md,
section 5)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import ccinfer

# The data sets (mnist/, text/): $CCINFER_DATA, else the repository's data/ (git ignores it);
# the tests that need them skip without them.
DATA_DIR = Path(os.environ.get("CCINFER_DATA") or Path(__file__).resolve().parents[1] / "data")

# Shapes off the SIMD tile grid.
ODD_SIZES = (1, 7, 15, 16, 17, 31, 257, 1023)


@pytest.fixture(params=ccinfer.available_isas())
def isa(request):
    """Run the test with the kernels of one ISA, then restore the previous level."""
    previous = ccinfer.get_isa()
    ccinfer.set_isa(request.param)
    yield request.param
    ccinfer.set_isa(previous)


@pytest.fixture(params=[1, 2])
def threads(request):
    """Run the test at 1 and 2 threads, then restore the previous count."""
    previous = ccinfer.get_num_threads()
    ccinfer.set_num_threads(request.param)
    yield request.param
    ccinfer.set_num_threads(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


def integer_matrix(rng, shape, low=-4, high=5):
    """Small integer-valued float32 data: every SIMD summation order gives the exact sum."""
    return rng.integers(low, high, size=shape).astype(np.float32)
