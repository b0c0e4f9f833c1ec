"""The memory-bandwidth probe: positive finite rates, arguments checked."""

from __future__ import annotations

import math

import pytest

import ccinfer
from ccinfer import kernels


@pytest.mark.parametrize("threads", [1, 2, None])
def test_rates_positive_and_finite(threads):
    r = kernels.memory_bandwidth(mb=1.0, threads=threads, repeats=2)
    rates = ("copy_gbs", "copy_gbs_median", "triad_gbs", "triad_gbs_median", "read_gbs")
    for key in rates:
        assert math.isfinite(r[key]) and r[key] > 0, (key, r[key])
    for kind in ("copy", "triad", "read"):
        assert r[f"{kind}_gbs"] >= r[f"{kind}_gbs_median"]
    assert r["threads"] == (ccinfer.get_num_threads() if threads is None else threads)
    assert r["repeats"] == 2
    assert r["mb_per_array"] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(mb=0.0),
        dict(mb=-1.0),
        dict(mb=float("nan")),
        dict(mb=float("inf")),
        dict(mb=1.0, threads=0),
        dict(mb=1.0, repeats=0),
    ],
)
def test_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError, match="memory_bandwidth"):
        kernels.memory_bandwidth(**kwargs)
