"""Interleaved timing: the rule of docs/design.md section 4 in one place.

Candidates are timed round-robin in one process, call by call, on inputs that rotate through a
pool, so a noisy neighbour or a cache warmed by one candidate hurts all of them alike, and the
speed-up of each round is a ratio of two timings taken moments apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np


def interleaved(
    candidates: Mapping[str, Callable[[int], object]],
    rounds: int,
    calls_per_round: int = 1,
    min_round_seconds: float = 0.0,
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
    return out


def compare(
    candidates: Mapping[str, Callable[[int], object]], rounds: int, calls_per_round: int = 1
) -> dict[str, np.ndarray]:
    """:func:`interleaved` with round lengths suited to the current thread count: at one
    thread, short rounds; at more, at most 15 rounds of at least 0.25 s each, long enough that
    the idle spinning of the other library's thread pool (OpenBLAS vs ccinfer's OpenMP) after
    a candidate's round does not decide the next round's median (docs/performance/threads.md)."""
    from . import get_num_threads

    if get_num_threads() == 1:
        return interleaved(candidates, rounds, calls_per_round)
    return interleaved(candidates, min(rounds, 15), calls_per_round, min_round_seconds=0.25)


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
