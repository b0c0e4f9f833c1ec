"""ccinfer.timing's trust checks on synthetic timings, and bench/summarize.py refusing to pass
a target on a measurement they flag."""

import numpy as np
import pytest

from bench.summarize import target_rows, targets_table, unstable
from ccinfer import timing

rng = np.random.default_rng(0)


def steady(n=30, us=100.0, noise=0.03):
    """Per-round times of a quiet machine: a few percent of jitter."""
    return us * 1e-6 * (1 + noise * rng.standard_normal(n))


def test_steady_series_is_trusted():
    assert timing.series_warnings("dense", steady()) == []
    assert len(timing.outlier_rounds(steady())) == 0


def test_a_time_slice_is_an_outlier_far_from_its_neighbours():
    t = steady()
    t[7] *= 40  # a scheduler time slice caught inside one round
    assert timing.outlier_rounds(t).tolist() == [7]
    (reason,) = timing.series_warnings("dense", t)
    assert "1 of 30 rounds" in reason
    # A faster round is as suspicious as a slower one.
    t = steady()
    t[3] /= 5
    assert timing.outlier_rounds(t).tolist() == [3]


def test_round_to_round_spread():
    t = 1e-4 * np.array([1.0, 1.5, 0.8, 1.9, 1.2, 0.7, 1.6, 1.0])
    assert timing.relative_spread(t) > timing.SPREAD_LIMIT
    assert any("spread" in r for r in timing.series_warnings("dense", t))
    assert timing.relative_spread(steady()) < timing.SPREAD_LIMIT


def test_too_few_rounds_have_no_outliers():
    assert len(timing.outlier_rounds([1.0, 50.0])) == 0


def test_load_above_the_core_count():
    assert timing.load_warnings(3.0, 2) == ["load average 3.0 on 2 cores"]
    assert timing.load_warnings(2.0, 2) == []
    assert timing.load_warnings(None, 2) == []  # an OS without a load average


def test_speedup_beyond_its_flop_bound():
    # The case: 609x printed against a flop bound of 3.49x.
    assert "flop bound 3.49x" in timing.bound_warnings(609.0, 3.49)[0]
    # Caches may beat the bound a little (bench/RESULTS.md: up to about 1.6x of it).
    assert timing.bound_warnings(1.6 * 3.49, 3.49) == []
    assert timing.bound_warnings(5.0, None) == []


def test_measurement_notes_a_poisoned_baseline():
    dense, cond = steady(), steady(us=40.0)
    dense[2:9] *= 200  # the dense rounds caught time slices: huge, wrong speed-ups
    m = timing.Measurement({"dense": dense, "conditional": cond}, load=0.5, cores=2)
    s = m.speedup("dense", "conditional", flop_bound=3.49)
    assert s["warnings"] and s["note"].startswith("  [UNSTABLE: ")
    assert "dense" in s["note"]


def test_measurement_of_a_quiet_run_is_clean():
    m = timing.Measurement({"dense": steady(), "conditional": steady(us=40.0)}, 0.3, 2)
    s = m.speedup("dense", "conditional", flop_bound=3.49)
    assert s["warnings"] == [] and s["note"] == ""
    assert 2.2 < s["median"] < 2.8


def test_measure_samples_the_load(monkeypatch):
    monkeypatch.setattr(timing, "system_load", lambda: (7.5, 2))
    monkeypatch.setattr(timing, "compare", lambda c, *a: {k: steady() for k in c})
    m = timing.measure({"a": lambda i: None, "b": lambda i: None}, rounds=30)
    assert "load average 7.5 on 2 cores" in m.warnings
    assert "load average" in m.speedup("a", "b")["note"]


# ---- the benchmark report: no PASS from a flagged measurement ----------------------------------


def bench_case(role, median, paired=None, target=None, bound=4.0, iqr=0.05):
    info = {"role": role, "case": role, "target": target}
    info |= {"dense_flops": 4.0, "useful_flops": 4.0 / bound}
    if paired:
        info["paired"] = paired
    return {
        "group": "g",
        "name": role,
        "extra_info": info,
        "stats": {"median": median, "iqr": iqr * median, "rounds": 50},
    }


def paired(median, q1, q3, load=None):
    return {"median": median, "q1": q1, "q3": q3, "rounds": 12, "load": load, "cores": 2}


@pytest.mark.parametrize(
    ("p", "why"),
    [
        (paired(1105.0, 1000.0, 1200.0), "flop bound"),  # the old 1105x PASS
        (paired(3.0, 2.0, 4.5), "spread"),
        (paired(3.0, 2.95, 3.05, load=9.0), "load average 9.0"),
    ],
)
def test_flagged_measurement_never_passes(p, why):
    dense = bench_case("dense", 1e-3)
    cond = bench_case("cond", 1e-3 / p["median"], paired=p, target=2.4)
    reasons = unstable(cond, dense)
    assert reasons and why in "; ".join(reasons)
    (row,) = target_rows({"benchmarks": [dense, cond]})
    assert not row["ok"] and not row["missed"]
    table = targets_table([row])
    assert table.startswith("0 targets met, 0 missed. 1 unstable")
    assert "| PASS |" not in table and "UNSTABLE (" in table


def test_trusted_measurement_still_passes_and_fails():
    dense = bench_case("dense", 1e-3)
    good = bench_case("cond", 1e-3 / 3.0, paired=paired(3.0, 2.95, 3.05, load=1.0), target=2.4)
    bad = bench_case("cond", 1e-3 / 2.0, paired=paired(2.0, 1.95, 2.05, load=1.0), target=2.4)
    rows = target_rows({"benchmarks": [dense, good]}) + target_rows({"benchmarks": [dense, bad]})
    assert [r["ok"] for r in rows] == [True, False] and [r["missed"] for r in rows] == [False, True]
    assert targets_table(rows).startswith("1 targets met, 1 missed.\n")


def test_back_to_back_spread_is_checked_without_a_paired_run():
    dense = bench_case("dense", 1e-3, iqr=0.6)
    cond = bench_case("cond", 1e-3 / 3.0, target=2.4)
    assert any("dense IQR" in r for r in unstable(cond, dense))


def test_report_headline_lists_unstable_cases_apart(monkeypatch):
    pytest.importorskip("matplotlib")
    from pathlib import Path

    # report.py runs as a script beside summarize.py and imports it by that name.
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    from bench.report import headline

    dense = bench_case("dense", 1e-3)
    flagged = bench_case("cond", 1e-3 / 1105, paired=paired(1105.0, 1000.0, 1200.0), target=2.4)
    text = "\n".join(headline(target_rows({"benchmarks": [dense, flagged]})))
    assert "| kernels | 1 | 0 | 0 | 1 |" in text
    assert "No shortfalls." in text
    assert "**Unstable, neither met nor missed (1):**" in text
    assert "1105.00x against 2.40x" in text
