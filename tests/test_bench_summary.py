"""bench/summarize.py: which target and flop bound decide a case (the paired re-run's own,
bench/paired.py ``window``, where it measured them)."""

from bench.summarize import bound_of, target_of


def case(paired=None):
    info = {"target": 3.0, "dense_flops": 40.0, "useful_flops": 10.0}
    if paired is not None:
        info["paired"] = paired
    return {"extra_info": info}


def test_recorded_target_and_bound_without_a_paired_window():
    assert target_of(case()) == 3.0
    assert bound_of(case()) == 4.0
    assert target_of(case({"median": 2.5})) == 3.0  # paired, but no stats of its own


def test_paired_window_decides():
    c = case({"median": 2.5, "target": 2.4, "flop_bound_speedup": 3.0})
    assert target_of(c) == 2.4
    assert bound_of(c) == 3.0
