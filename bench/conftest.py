"""Shared helpers for the pytest-benchmark suites (docs/design.md section 4, "Measuring honestly").

- Masks rotate: every conditional case draws its row set from a pool of >= 64 distinct masks,
  one per call, so the rows a call reads are not the ones the previous call left in cache.
- Each group holds the conditional cases and the dense OpenBLAS baseline on the same weights,
  measured in the same run at the same thread count.
- ``record`` writes what a reader needs into ``extra_info``: useful and dense-equivalent
  FLOPs, bytes of weights read, density, ISA, threads, the cache regime, the role of the case
  and, where the project sets one, the target speed-up. ``bench/summarize.py`` turns the JSON
  into markdown tables (``bench/RESULTS-kernels.md``, the tables of ``bench/RESULTS.md``).

Run one suite at a time on a quiet machine, for example::

    python -m pytest bench/test_bench_cond_gemv.py --benchmark-only \\
        --benchmark-json=bench/results/cond_gemv.json
    python bench/summarize.py bench/results/cond_gemv.json   # markdown tables on stdout
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ccinfer

# Hooks for `ccinfer bench`: the machine and its memory bandwidth in the JSON, and speed-ups
# per interleaved round pair (--paired-rounds).
from .machine import pytest_benchmark_update_machine_info  # noqa: F401
from .paired import _capture_for_pairing, pytest_addoption, pytest_sessionfinish  # noqa: F401

LLC_BYTES = 32 << 20  # last-level cache of the 2-core Zen 4 these numbers come from
POOL_SIZE = 64  # masks per density: at least 64 (docs/design.md section 4)


def cache_regime(weight_bytes: int) -> str:
    """ "L3-resident" if the weights fit the last-level cache, else "DRAM"."""
    return "L3-resident" if weight_bytes <= LLC_BYTES else "DRAM"


def row_pool(seed: int, m: int, density: float, count: int = POOL_SIZE) -> list[np.ndarray]:
    """``count`` distinct random row sets of ``round(density * m)`` rows (at least one),
    int32, strictly increasing (the cond_gemv contract)."""
    rng = np.random.default_rng(seed)
    nrows = max(1, round(density * m))
    pool, seen = [], set()
    while len(pool) < count:
        rows = np.sort(rng.choice(m, nrows, replace=False)).astype(np.int32)
        key = rows.tobytes()
        if key in seen and nrows < m:
            continue
        seen.add(key)
        pool.append(rows)
    return pool


def mask_pool(seed: int, shape, density: float, count: int = POOL_SIZE) -> list[np.ndarray]:
    """``count`` random bool masks of ``shape`` (a row set per sample when 2-D), each entry
    on with probability ``density``."""
    rng = np.random.default_rng(seed)
    return [rng.random(shape) < density for _ in range(count)]


def rotating(pool):
    """An endless iterator over the pool, one entry per call."""
    return itertools.cycle(pool)


def record(
    benchmark,
    *,
    group: str,
    case: str,
    role: str,
    density: float | None,
    useful_flops: float,
    dense_flops: float,
    bytes_read: float,
    weight_bytes: int,
    target: float | None = None,
    baseline: str | None = None,
    **extra,
) -> None:
    """Name the case and fill ``extra_info``.

    Parameters
    ----------
    group : str
        The pytest-benchmark group: one kernel, shape and thread count.
    case : str
        The case's name inside the group ("a=0.10", "dense OpenBLAS", ...).
    role : {"cond", "dense", "other"}
        "dense" marks the baseline every speed-up in the group is taken against.
    target : float, optional
        The speed-up over the dense case the project aims at (PASS/FAIL in the summary).
    baseline : str, optional
        A further case of the group this one is also compared with (e.g. a Python loop).
    """
    benchmark.group = group
    benchmark.name = case  # shown by pytest-benchmark's own table
    benchmark.extra_info.update(
        case=case,
        role=role,
        density=density,
        useful_flops=useful_flops,
        dense_flops=dense_flops,
        bytes_read=bytes_read,
        weight_bytes=weight_bytes,
        regime=cache_regime(weight_bytes),
        isa=ccinfer.get_isa(),
        threads=ccinfer.get_num_threads(),
        target=target,
        baseline=baseline,
        **extra,
    )


@pytest.fixture(params=[1, 2], ids=["t1", "t2"])
def bench_threads(request):
    """Run the benchmark at 1 and 2 threads (ccinfer and OpenBLAS together), then restore."""
    previous = ccinfer.get_num_threads()
    ccinfer.set_num_threads(request.param)
    yield request.param
    ccinfer.set_num_threads(previous)


def assert_close(got, expected, k):
    """Verify a kernel before timing it: float32 sums within a sqrt(k)-scaled tolerance."""
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-5 * np.sqrt(k) * 4)
