"""Internal invariants (CCINFER_DCHECK, ccinfer/check.h): whether this build checks them, and
that a violated one stops the process naming the file and line of the check.

CI's sanitizer build turns them on and sets CCINFER_REQUIRE_DCHECK=1, so that a build which
silently lost the option fails here instead of passing with every check compiled out."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import ccinfer
from ccinfer import _core

DCHECKS = ccinfer.build_info()["dchecks"]
REPO = Path(__file__).resolve().parents[1]
# The precondition the hook breaks: the row list of the input-sparse row kernel is increasing.
KERNEL_HEADER = "cpp/src/kernels/sparse_input/sparse_input.h"


def test_build_reports_whether_dchecks_are_on():
    assert isinstance(DCHECKS, bool)
    if os.environ.get("CCINFER_REQUIRE_DCHECK") == "1":
        assert DCHECKS, (
            "CCINFER_REQUIRE_DCHECK=1, but this build does not check internal invariants "
            "(build with -Ccmake.define.CCINFER_DCHECK=ON)"
        )


@pytest.mark.skipif(DCHECKS, reason="with DCHECKs the hook aborts (tested in a subprocess)")
def test_without_dchecks_the_hook_runs_through_the_kernel():
    # W^T = [[1, 2, 3]], x = [1]: rows {2, 0} of W x are 3 and 1, whatever their order.
    assert _core._testing.violate_kernel_precondition() == 4.0


@pytest.mark.skipif(not DCHECKS, reason="built without CCINFER_DCHECK")
def test_violated_invariant_aborts_with_file_and_line():
    code = "import ccinfer; ccinfer._core._testing.violate_kernel_precondition()"
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert r.returncode == -signal.SIGABRT, (r.returncode, r.stderr[-2000:])
    found = re.search(r"internal invariant failed at (\S+):(\d+): (.+)", r.stderr)
    assert found, r.stderr[-2000:]
    path, line, condition = found.group(1), int(found.group(2)), found.group(3)
    assert path.replace(os.sep, "/").endswith(KERNEL_HEADER)
    source_line = (REPO / KERNEL_HEADER).read_text().splitlines()[line - 1]
    assert "CCINFER_DCHECK" in source_line
    assert "rows_increasing" in condition and "rows_increasing" in source_line
