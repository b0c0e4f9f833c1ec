"""Interleaved timing: the rule of docs/design.md section 4 in one place.

Candidates are timed round-robin in one process, call by call, on inputs that rotate through a
pool, so a noisy neighbour or a cache warmed by one candidate hurts all of them alike, and the
speed-up of each round is a ratio of two timings taken moments apart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np


def interleaved(
    candidates: Mapping[str, Callable[[int], object]],
    rounds: int,
    calls_per_round: int = 1,
    min_round_seconds: float = 0.0,
    on_round: Callable[[], object] | None = None,
) -> dict[str, np.ndarray]:
    """Time every candidate ``rounds`` times, alternating between them each round.

    Parameters
    ----------
    candidates : name -> fn(i), where ``i`` counts calls so the function can rotate inputs.
    rounds : number of timed rounds per candidate.
    calls_per_round : calls per round (at least).
    min_round_seconds : keep calling within a round until this much time has passed. Each
        round's value is the median of its per-call times, so a round long enough to outlast a
        thread pool's idle spinning (OpenBLAS spins up to ~0.1 s after a call, see
        bench/probe_threads.py) measures the candidate's steady state at 2 threads.
    on_round : called after every round (a progress bar's update).

    Returns
    -------
    dict of name -> seconds per call, one entry per round (the median call of that round).
    """
    names = list(candidates)
    out = {name: np.empty(rounds) for name in names}
    counter = 0
    for name in names:  # one warm-up call each
        candidates[name](counter)
        counter += 1
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            fn = candidates[name]
            calls = []
            start = time.perf_counter_ns()
            while len(calls) < calls_per_round or (
                time.perf_counter_ns() - start < min_round_seconds * 1e9
            ):
                t0 = time.perf_counter_ns()
                fn(counter)
                calls.append(time.perf_counter_ns() - t0)
                counter += 1
            out[name][r] = float(np.median(calls)) / 1e9
        if on_round is not None:
            on_round()
    return out


def compare(
    candidates: Mapping[str, Callable[[int], object]],
    rounds: int,
    calls_per_round: int = 1,
    long_rounds: int = 15,
    on_round: Callable[[], object] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`interleaved` with round lengths suited to the current thread count: at one
    thread, short rounds; at more, at most `long_rounds` rounds of at least 0.25 s each, long
    enough that the idle spinning of the other library's thread pool (OpenBLAS vs ccinfer's
    OpenMP) after a candidate's round does not decide the next round's median
    (docs/performance/threads.md)."""
    from . import get_num_threads

    if get_num_threads() == 1:
        return interleaved(candidates, rounds, calls_per_round, on_round=on_round)
    return interleaved(
        candidates, min(rounds, long_rounds), calls_per_round, 0.25, on_round=on_round
    )


def summarize(seconds: np.ndarray) -> dict[str, float]:
    """Median and interquartile range of a timing series, in microseconds."""
    q1, med, q3 = np.percentile(seconds * 1e6, [25, 50, 75])
    return {"median_us": float(med), "iqr_us": float(q3 - q1), "rounds": len(seconds)}


def paired_speedup(baseline: np.ndarray, candidate: Sequence[float]) -> dict[str, float]:
    """Speed-up of ``candidate`` over ``baseline`` computed round by round (each ratio from two
    timings taken in the same round), summarised by its median and quartiles."""
    ratios = np.asarray(baseline) / np.asarray(candidate)
    q1, med, q3 = np.percentile(ratios, [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3)}


# ---- is a measurement to be trusted? ---------------------------------------------------------
# The checks pyperf makes, on the per-round series ccinfer.timing produces. A measurement that
# fails one is still printed, with the reason beside it, and never decides a benchmark target.

SPREAD_LIMIT = 0.25
"""Largest interquartile range of a series, relative to its median, still called stable."""
OUTLIER_FACTOR = 3.0
"""A round this many times slower or faster than the median of its neighbours is an outlier
(a scheduler time slice, a page fault storm, a frequency change)."""
NEIGHBOURS = 2
"""Rounds on each side a round is compared with."""
BOUND_MARGIN = 2.0
"""A speed-up more than this many times its flop bound is flagged. Caches can beat the bound
(a conditional kernel's few rows stay in cache while the dense one streams from memory): the
largest such factor in bench/RESULTS.md is about 1.6; beyond 2 it is the baseline's timing
that went wrong, not the kernel that got faster."""


def relative_spread(values: Sequence[float]) -> float:
    """Interquartile range / median of a series (0 for a single value)."""
    q1, med, q3 = np.percentile(np.asarray(values, dtype=np.float64), [25, 50, 75])
    return float((q3 - q1) / med) if med > 0 else float("inf")


def outlier_rounds(values: Sequence[float], factor: float = OUTLIER_FACTOR) -> np.ndarray:
    """Indices of the rounds more than `factor` times away (either way) from the median of up
    to `NEIGHBOURS` rounds on each side of them (needs at least 3 rounds; none before)."""
    v = np.asarray(values, dtype=np.float64)
    out = []
    if len(v) >= 3:
        for i in range(len(v)):
            around = np.concatenate([v[max(0, i - NEIGHBOURS) : i], v[i + 1 : i + 1 + NEIGHBOURS]])
            ref = float(np.median(around))
            if ref > 0 and not (ref / factor <= v[i] <= ref * factor):
                out.append(i)
    return np.asarray(out, dtype=np.intp)


def system_load() -> tuple[float | None, int]:
    """(1-minute load average or None where the OS has none, logical CPUs)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = None
    return load, os.cpu_count() or 1


def series_warnings(name: str, values: Sequence[float], spread_limit: float = SPREAD_LIMIT):
    """Why the series `values` (one value per round) of `name` is not to be trusted: a list of
    short reasons, empty when it is stable."""
    reasons = []
    spread = relative_spread(values)
    if spread > spread_limit:
        reasons.append(f"{name} spread {spread:.0%} round to round")
    bad = outlier_rounds(values)
    if len(bad):
        reasons.append(f"{name}: {len(bad)} of {len(values)} rounds over {OUTLIER_FACTOR:g}x off")
    return reasons


def load_warnings(load: float | None, cores: int) -> list[str]:
    """A load average above the core count: other work shared the CPUs while timing."""
    if load is not None and load > cores:
        return [f"load average {load:.1f} on {cores} cores"]
    return []


def bound_warnings(speedup: float, flop_bound: float | None, margin: float = BOUND_MARGIN):
    """A speed-up more than `margin` times its flop bound (see `BOUND_MARGIN`)."""
    if flop_bound and speedup > flop_bound * margin:
        return [f"{speedup:.2f}x is over {margin:g}x its flop bound {flop_bound:.2f}x"]
    return []


def note(reasons: Sequence[str]) -> str:
    """What goes beside a number: empty for a stable measurement, else the reasons."""
    return f"  [UNSTABLE: {'; '.join(reasons)}]" if reasons else ""


class Measurement:
    """The per-round times of `compare`, with what makes them doubtful.

    ``warnings`` holds the load average (sampled before and after, the larger kept) and the
    round-to-round spread and outliers of every candidate's series; `speedup` adds the spread
    of the per-round ratios and the flop-bound check of its median.
    """

    def __init__(self, times: dict[str, np.ndarray], load: float | None, cores: int):
        self.times = times
        self.load, self.cores = load, cores
        self.warnings = load_warnings(load, cores)
        for name, values in times.items():
            self.warnings += series_warnings(name, values)

    def summary(self, name: str) -> dict[str, float]:
        return summarize(self.times[name])

    def speedup(self, baseline: str, candidate: str, flop_bound: float | None = None) -> dict:
        """`paired_speedup` of two candidates, plus ``warnings`` (this measurement's and the
        ratio's own) and ``note``, the text to print beside the number."""
        out: dict = paired_speedup(self.times[baseline], self.times[candidate])
        ratios = np.asarray(self.times[baseline]) / np.asarray(self.times[candidate])
        reasons = [
            w for w in self.warnings if w.startswith((baseline, candidate, "load"))
        ] + series_warnings("speed-up", ratios)
        reasons += bound_warnings(out["median"], flop_bound)
        out["warnings"] = reasons
        out["note"] = note(reasons)
        return out


def measure(
    candidates: Mapping[str, Callable[[int], object]],
    rounds: int,
    calls_per_round: int = 1,
    long_rounds: int = 15,
    on_round: Callable[[], object] | None = None,
) -> Measurement:
    """`compare` with the system load sampled around it: a `Measurement`. At more than one
    thread, at most `long_rounds` rounds of 0.25 s (see `compare`)."""
    load0, cores = system_load()
    times = compare(candidates, rounds, calls_per_round, long_rounds, on_round)
    load1, _ = system_load()
    load = None if load0 is None or load1 is None else max(load0, load1)
    return Measurement(times, load, cores)
