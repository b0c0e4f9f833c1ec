"""The loader fuzz test (tests/loader_fuzz.py): mutated model files of every kind are either
refused with a ValueError or load and run; anything else, a crash included, fails.

``CCINFER_FUZZ_CASES`` sets the number of cases (default 1500, about 20 s on one core) and
``CCINFER_FUZZ_SEED`` the seed; a long run is ``python -m tests.loader_fuzz --cases N``.
"""

import os

from . import loader_fuzz

CASES = int(os.environ.get("CCINFER_FUZZ_CASES", "1500"))
SEED = int(os.environ.get("CCINFER_FUZZ_SEED", "16"))


def test_mutated_model_files_are_refused_or_load_and_run():
    result = loader_fuzz.run(CASES, SEED, batch=CASES, timeout=600)
    assert not result["failures"], loader_fuzz.summarize(result)
    counts = result["counts"]
    assert sum(counts.values()) == CASES
    # Not vacuous: every mutation kind ran, and both outcomes occur.
    kinds = {key.partition("/")[0] for key in counts}
    assert kinds == set(loader_fuzz.KINDS)
    assert sum(n for key, n in counts.items() if key.endswith("/loaded")) > 0
    assert sum(n for key, n in counts.items() if key.endswith("/valueerror")) > CASES // 2


def test_every_seed_kind_is_covered(tmp_path):
    seeds = loader_fuzz.SHIPPED + loader_fuzz._extra_seeds(tmp_path)
    models = {loader_fuzz.Seed(p).header["__metadata__"]["model"] for p in seeds}
    assert models == {"CondMLP", "GRUStack", "TreeGated", "Sequential"}
    stored = set()
    for p in seeds:
        stored |= {e["dtype"] for k, e in loader_fuzz.Seed(p).header.items() if k != "__metadata__"}
    assert stored == {"F32", "F16"}


def test_cases_are_reproducible(tmp_path):
    seeds = [loader_fuzz.Seed(p) for p in loader_fuzz._extra_seeds(tmp_path)]
    for case in range(50):
        a = loader_fuzz.case_plan(SEED, case, len(seeds))
        b = loader_fuzz.case_plan(SEED, case, len(seeds))
        first = b"".join(loader_fuzz.mutate(seeds[a[0]], a[1], a[2]))
        assert first == b"".join(loader_fuzz.mutate(seeds[b[0]], b[1], b[2]))


def test_a_crash_is_a_failure_naming_the_case(monkeypatch):
    # A child that dies (here: aborts at case 7) is reported with its case, and the run goes
    # on: the other cases are still counted.
    monkeypatch.setenv("CCINFER_FUZZ_ABORT_AT", "7")
    result = loader_fuzz.run(12, SEED, batch=12, timeout=120)
    assert [f["case"] for f in result["failures"]] == [7]
    assert "child process died" in result["failures"][0]["error"]
    assert result["counts"]["crash"] == 1
    assert sum(result["counts"].values()) == 12
