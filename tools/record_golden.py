"""Record the golden outputs of every shipped model (tests/golden/models.npz).

The golden file pins the outputs of the shipped models, bit for bit, on every ISA, as a build
of ccinfer computed them; tests/test_golden.py checks that this build still computes the same.
It is recorded from the build *before* a change that must not alter results, never from the
build under test, so run it against an older commit installed on its own:

    git worktree add /tmp/ccinfer-old <commit>
    pip install --no-build-isolation --no-deps --target /tmp/ccinfer-old-site /tmp/ccinfer-old
    python tools/record_golden.py --site /tmp/ccinfer-old-site --source "<commit> (<subject>)"

The cases (which models, inputs, plans, thread counts, float16) are defined once in
tests/golden/cases.py; the models and the data sample are read from this checkout.

The file in the repository was recorded from commit e31207d (the first parent of 82024eb,
the merge that began the kernel and model redesign), on a Xeon with AVX-512, for the ISAs
scalar, avx2 and avx512.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", help="import ccinfer from this directory (default: installed)")
    parser.add_argument("--source", required=True, help="the commit the imported ccinfer is")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "golden" / "models.npz")
    parser.add_argument("--isa", action="append", help="only these ISAs (default: all)")
    args = parser.parse_args()

    from build_site import import_ccinfer

    ccinfer = import_ccinfer(args.site)
    sys.path.insert(0, str(REPO))
    from tests.golden import cases

    isas = args.isa or ccinfer.available_isas()
    print(f"recording with ccinfer from {Path(ccinfer.__file__).parent} on {isas}", flush=True)
    start = time.perf_counter()
    recorded = cases.record(ccinfer, isas)
    cases.save(args.out, recorded, args.source)
    seconds = time.perf_counter() - start
    print(f"{len(recorded)} cases in {seconds:.0f} s -> {args.out} ({args.out.stat().st_size} B)")


if __name__ == "__main__":
    main()
