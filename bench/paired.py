"""Speed-ups per interleaved round pair, beside pytest-benchmark's back-to-back medians.

pytest-benchmark runs each case's rounds one after another, so a group's speed-up is a ratio
of medians taken minutes apart. With ``--paired-rounds=N`` the suites keep the callable each
case hands to ``benchmark``; at the end of the session, before the JSON is written, every
conditional case that carries a target is timed again interleaved with its group's dense case
(``ccinfer.timing.compare``: round by round, rounds of at least 0.25 s at 2 threads, see
docs/performance/threads.md), at the group's thread count, and the per-round ratios go into
the case's ``extra_info["paired"]``: median, quartiles, rounds, and both medians in us.

Off by default (``--benchmark-disable`` smoke runs and single-suite runs pay nothing);
``ccinfer bench`` turns it on. The hooks are registered by bench/conftest.py.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import ccinfer
from ccinfer.timing import (
    compare,
    load_warnings,
    note,
    paired_speedup,
    series_warnings,
    summarize,
    system_load,
)

_captured: list[tuple[BenchmarkFixture, object]] = []
ROUND_SECONDS_T1 = 0.02  # one round at 1 thread: enough calls for a stable median
# ... and at least this many calls: a round's value is its median call, and the first call of
# a round finds the caches full of the other candidates' weights. A batch-64 step of the
# 27-1024-1024-27 models takes 2-10 ms, so 0.02 s held only 2 calls and that cold call was
# half of the round's value; with 3 it cannot be the median. Measured effect: small (batch 64,
# block z = 0.1, 1 thread: 6.0x paired with 2 calls, 6.2-6.4x with 3, 7.3-8.5x back to back):
# most of the gap is the later calls of a round still refilling the caches
# (docs/performance/threads.md).
MIN_CALLS_T1 = 3


class _Capturing(BenchmarkFixture):
    """The benchmark fixture, keeping the callable it times for the paired re-run."""

    def __call__(self, function_to_benchmark, *args, **kwargs):
        _captured.append((self, lambda: function_to_benchmark(*args, **kwargs)))
        return super().__call__(function_to_benchmark, *args, **kwargs)


def pytest_addoption(parser):
    parser.addoption(
        "--paired-rounds",
        type=int,
        default=0,
        help="after the timed runs, re-time each conditional case with a target interleaved "
        "with its group's dense case for this many rounds (at most 15 at 2 threads) and store "
        "the per-round-pair speed-up in extra_info['paired'] (0: off)",
    )


@pytest.fixture(autouse=True)
def _capture_for_pairing(request):
    """Swap the class of the benchmark fixture for one that remembers the timed callable."""
    if request.config.getoption("paired_rounds") > 0 and "benchmark" in request.fixturenames:
        fixture = request.getfixturevalue("benchmark")
        if type(fixture) is BenchmarkFixture and fixture.enabled:
            fixture.__class__ = _Capturing
    yield


def window(fixture, reset, measure) -> None:
    """Give a case's re-run statistics of its own: `reset()` is called before the interleaved
    rounds and `measure()` after them, and the dict it returns (e.g. ``flop_bound_speedup``
    and ``target`` from the masks of those calls) goes into ``extra_info["paired"]``, where
    it decides PASS/FAIL with the paired median. For a trained model stepping through real
    text the gate density drifts along the text, so a target taken from the earlier
    back-to-back calls need not be the one of the calls the paired ratio comes from."""
    fixture.paired_window = (reset, measure)


def pairs(captured) -> dict[str, tuple[tuple, list[tuple]]]:
    """group -> ((dense fixture, fn), [(cond fixture, fn), ...]) for the groups that have a
    dense case and at least one conditional case with a target."""
    groups: dict[str, list] = defaultdict(list)
    for fixture, fn in captured:
        groups[fixture.group].append((fixture, fn))
    out = {}
    for group, cases in groups.items():
        dense = next((c for c in cases if c[0].extra_info.get("role") == "dense"), None)
        conds = [
            c
            for c in cases
            if c[0].extra_info.get("role") == "cond" and c[0].extra_info.get("target") is not None
        ]
        if dense and conds:
            out[group] = (dense, conds)
    return out


def run_pairs(rounds: int, write_line) -> None:
    """Time every group of :func:`pairs` interleaved and fill ``extra_info["paired"]``."""
    todo = pairs(_captured)
    previous = ccinfer.get_num_threads()
    try:
        for i, (group, (dense, conds)) in enumerate(sorted(todo.items()), 1):
            threads = int(dense[0].extra_info.get("threads") or previous)
            ccinfer.set_num_threads(threads)
            fns = {"dense": dense[1]} | {f"c{j}": fn for j, (_, fn) in enumerate(conds)}
            median_call = dense[0].stats.stats.median if dense[0].stats else 1e-3
            calls = max(MIN_CALLS_T1, int(ROUND_SECONDS_T1 / max(median_call, 1e-9)))
            windows = [getattr(fixture, "paired_window", None) for fixture, _ in conds]
            for w in filter(None, windows):
                w[0]()
            # The load around the rounds goes with them: summarize.py will not pass a target
            # measured while other work shared the cores.
            load0, cores = system_load()
            times = compare({k: (lambda _i, f=f: f()) for k, f in fns.items()}, rounds, calls)
            load1, _ = system_load()
            load = None if load0 is None or load1 is None else max(load0, load1)
            for j, (fixture, _) in enumerate(conds):
                ratios = times["dense"] / times[f"c{j}"]
                fixture.extra_info["paired"] = {
                    **paired_speedup(times["dense"], times[f"c{j}"]),
                    "rounds": len(times["dense"]),
                    "load": load,
                    "cores": cores,
                    "warnings": series_warnings("ratio", ratios),
                    "dense_median_us": summarize(times["dense"])["median_us"],
                    "median_us": summarize(times[f"c{j}"])["median_us"],
                    **(windows[j][1]() if windows[j] else {}),
                }
            ratios = ", ".join(
                f"{f.extra_info.get('case')} {f.extra_info['paired']['median']:.2f}x"
                + note(f.extra_info["paired"]["warnings"] + load_warnings(load, cores))
                for f, _ in conds
            )
            write_line(f"[paired {i}/{len(todo)}] {group}: {ratios}")
    finally:
        ccinfer.set_num_threads(previous)
        _captured.clear()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    """Run the pairs before pytest-benchmark writes its JSON (its own hook wrapper does that
    before yielding; ``tryfirst`` puts this one outside it)."""
    rounds = session.config.getoption("paired_rounds")
    if rounds > 0 and _captured and exitstatus == 0:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        write = reporter.write_line if reporter else print
        write(f"interleaved round pairs ({rounds} rounds, at most 15 at 2 threads) ...")
        run_pairs(rounds, write)
    _captured.clear()
    yield
