"""The shipped models give, bit for bit, the outputs recorded before the kernel and model
redesign (tests/golden/models.npz, written by tools/record_golden.py from the build of commit
e31207d), on every ISA this machine has: one-sample and batch calls, every CondMLP layer plan
with the estimators on and off, the tree model, and every char GRU stepped one token at a time,
run whole and stepped as a batch, in float32 and float16 weights, at 1 and 2 threads; plus the
statistics the models count. tests/golden/cases.py defines the cases.

No case is exempt: where this build legitimately differed from the recorded one, the case
would be listed here with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest

import ccinfer

from .golden import cases

GOLDEN = cases.REPO / "tests" / "golden" / "models.npz"
SOURCE, RECORDED = cases.load(GOLDEN)
RECORDED_ISAS = sorted({k.split("|", 1)[0] for k in RECORDED})


def test_golden_file_covers_every_case_on_every_isa_it_was_recorded_for():
    names = {name for name, _ in cases.cases(ccinfer)}
    for isa in RECORDED_ISAS:
        assert {k.split("|", 1)[1] for k in RECORDED if k.startswith(isa + "|")} == names


@pytest.mark.parametrize("name", [name for name, _ in cases.cases(ccinfer)])
def test_shipped_model_outputs_match_golden(name, isa):
    key = f"{isa}|{name}"
    if key not in RECORDED:
        pytest.skip(f"{isa} was not recorded (recorded: {RECORDED_ISAS})")
    want_digests, want_heads, want_stats = RECORDED[key]
    run = dict(cases.cases(ccinfer))[name]
    previous = ccinfer.get_num_threads()
    try:
        arrays, stats = run()
    except ValueError:
        arrays, stats = None, ""
    finally:
        ccinfer.set_num_threads(previous)
    if arrays is None or want_digests == ["ValueError"]:
        got = "ValueError" if arrays is None else "outputs"
        want = "ValueError" if want_digests == ["ValueError"] else "outputs"
        assert got == want, f"{key}: recorded {want}, this build gives {got}"
        return
    assert len(arrays) == len(want_digests)
    for i, (a, d, h) in enumerate(zip(arrays, want_digests, want_heads, strict=True)):
        if cases.digest(a) != d:
            np.testing.assert_array_equal(cases.head(a), h, err_msg=f"{key}: output {i} head")
            pytest.fail(f"{key}: output {i} differs from the recorded bits (head equal)")
    assert stats == want_stats, f"{key}: statistics differ"
