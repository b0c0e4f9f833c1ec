"""Time every benchmark case of bench/ on two builds of ccinfer, rounds alternating.

Two builds of the extension cannot live in one process (pybind11 shares one type registry
between modules, and both register the same C++ classes), so each build runs in a worker
process of its own and this driver asks them in turn: for every round, every case is timed on
one build and then on the other, the order swapping each round, while the other worker waits.
Both workers see the machine in the same state within a round, so the per-round ratio is
what to trust on a loaded machine, not either median alone.

The cases are those of bench/test_bench_*.py, collected and set up by pytest in each worker
(from one bench/ directory, so both builds run the same shapes and inputs); a case is the
callable its test hands to pytest-benchmark's ``benchmark``, timed at the thread count and
ISA it was set up with. A case that fails to set up on one build is listed as missing there.

Install each build on its own and point the workers at it:

    git worktree add /tmp/old <commit>
    pip install --no-build-isolation --no-deps --target /tmp/site-old /tmp/old
    pip install --no-build-isolation --no-deps --target /tmp/site-new .
    python tools/ab_compare.py --old /tmp/site-old --new /tmp/site-new > ab.md

The table: per case the median seconds per call of each build (the median over rounds of each
round's median call), new/old speed (the median over rounds of old / new time, > 1: new is
faster) with its quartiles, and a flag where the rounds disagree (quartiles of the ratio more
than --unstable apart, or one build's round medians spread more than that).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


# ---- worker ---------------------------------------------------------------------------------
def _collect(bench: Path, select: str | None) -> dict[str, tuple]:
    """Run bench/'s tests once with pytest-benchmark disabled, keeping each callable handed to
    ``benchmark`` with the ISA and thread count in effect when it was handed over."""
    import pytest
    from pytest_benchmark.fixture import BenchmarkFixture

    import ccinfer

    cases: dict[str, tuple] = {}

    class Capturing(BenchmarkFixture):
        def __call__(self, function, *args, **kwargs):
            cases[self._ab_nodeid] = (
                lambda: function(*args, **kwargs),
                ccinfer.get_isa(),
                ccinfer.get_num_threads(),
            )
            return super().__call__(function, *args, **kwargs)

    class Plugin:
        @pytest.fixture(autouse=True)
        def _ab_capture(self, request):
            if "benchmark" in request.fixturenames:
                fixture = request.getfixturevalue("benchmark")
                fixture.__class__ = Capturing
                fixture._ab_nodeid = request.node.nodeid
            yield

    _stub_missing_timing_helpers(bench)
    # No -x: a case that fails on one build must not stop the others.
    args = [str(bench), "-q", "--benchmark-disable", "-p", "no:cacheprovider"]
    if select:
        args += ["-k", select]
    pytest.main(args, plugins=[Plugin()])
    return cases


def _stub_missing_timing_helpers(bench: Path) -> None:
    """bench/ imports helpers of ccinfer.timing for its --paired-rounds re-runs, which this
    tool does not use; an older build may lack some. Those get stand-ins that refuse to run,
    so the same bench/ (the same shapes and inputs) sets up the cases of either build."""
    import ast

    import ccinfer.timing

    for path in bench.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "ccinfer.timing":
                for alias in node.names:
                    if not hasattr(ccinfer.timing, alias.name):

                        def missing(*args, _name=alias.name, **kwargs):
                            raise RuntimeError(f"ccinfer.timing.{_name}: not in this build")

                        setattr(ccinfer.timing, alias.name, missing)


def _time(case: tuple, min_seconds: float, min_calls: int) -> float:
    """One round: calls for at least ``min_seconds`` and ``min_calls``; its median call."""
    import ccinfer

    fn, isa, threads = case
    ccinfer.set_isa(isa)
    ccinfer.set_num_threads(threads)
    fn()  # the first call of a round finds the caches full of the other cases' data
    calls = []
    start = time.perf_counter()
    while len(calls) < min_calls or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        calls.append(time.perf_counter() - t0)
    return statistics.median(calls)


def worker(site: str, bench: Path, select: str | None) -> None:
    """Serve the driver on the original stdout (JSON lines); everything else goes to stderr."""
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    from build_site import import_ccinfer

    ccinfer = import_ccinfer(None if site == "-" else site)
    where = Path(ccinfer.__file__).resolve()
    sys.path.insert(1, str(REPO))  # bench/ is a package of the repository
    cases = _collect(bench, select)
    channel.write(json.dumps({"cases": sorted(cases), "ccinfer": str(where.parent)}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        if request["cmd"] == "quit":
            break
        seconds = _time(cases[request["case"]], request["min_seconds"], request["min_calls"])
        channel.write(json.dumps({"seconds": seconds}) + "\n")


# ---- driver ---------------------------------------------------------------------------------
class Worker:
    def __init__(self, site: str, bench: Path, select: str | None, log: Path):
        cmd = [sys.executable, __file__, "--worker", site, "--bench", str(bench)]
        if select:
            cmd += ["-k", select]
        env = dict(os.environ, PYTHONPATH="")
        # Older builds look for the data sets elsewhere by default; both get this checkout's.
        if (REPO / "data").is_dir():
            env.setdefault("CCINFER_DATA", str(REPO / "data"))
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            cwd=REPO,
            env=env,
        )
        self.cases: list[str] = []
        self.where = ""

    def ready(self) -> None:
        """Wait for the worker to have set up its cases (both workers set up at once)."""
        hello = self._read()
        self.cases, self.where = hello["cases"], hello["ccinfer"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"ab_compare: a worker died; see {self.log.name}")
        return json.loads(line)

    def time(self, case: str, min_seconds: float, min_calls: int) -> float:
        request = {"cmd": "time", "case": case, "min_seconds": min_seconds, "min_calls": min_calls}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._read()["seconds"]

    def close(self) -> None:
        self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
        self.proc.stdin.close()
        self.proc.wait()
        self.log.close()


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def spread(values: list[float]) -> float:
    q1, q2, q3 = quartiles(values)
    return (q3 - q1) / q2 if q2 else 0.0


def fmt_seconds(s: float) -> str:
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"
    except OSError:
        return "load average unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--old", help="directory holding the old build's ccinfer package ('-': the installed one)"
    )
    parser.add_argument(
        "--new", help="directory holding the new build's ccinfer package ('-': the installed one)"
    )
    parser.add_argument("--bench", type=Path, default=REPO / "bench", help="the cases to time")
    parser.add_argument("-k", dest="select", help="only the bench tests pytest -k selects")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--round-seconds", type=float, default=0.02)
    parser.add_argument("--min-calls", type=int, default=3)
    parser.add_argument("--unstable", type=float, default=0.10, help="relative spread flagged")
    parser.add_argument("--logs", type=Path, default=Path("."), help="the workers' stderr")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.bench, args.select)
        return
    if not args.old or not args.new:
        parser.error("--old and --new are required")

    started = time.perf_counter()
    load_before = load_average()
    old = Worker(args.old, args.bench, args.select, args.logs / "ab_old.log")
    new = Worker(args.new, args.bench, args.select, args.logs / "ab_new.log")
    old.ready()
    new.ready()
    both = [c for c in new.cases if c in set(old.cases)]
    times: dict[str, dict[str, list[float]]] = {c: {"old": [], "new": []} for c in both}
    for r in range(args.rounds):
        for case in both:
            order = [("old", old), ("new", new)] if r % 2 == 0 else [("new", new), ("old", old)]
            for label, w in order:
                times[case][label].append(w.time(case, args.round_seconds, args.min_calls))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    old.close()
    new.close()

    print(f"old: `{old.where}`  \nnew: `{new.where}`  ")
    print(
        f"{len(both)} cases, {args.rounds} rounds alternating (order swapped every round), "
        f"rounds of >= {args.round_seconds} s and >= {args.min_calls} calls; "
        f"{load_before} before, {load_average()} after; "
        f"{time.perf_counter() - started:.0f} s.\n"
    )
    print("| case | old median | new median | new/old speed | quartiles | note |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    slow = []
    for case in both:
        o, n = times[case]["old"], times[case]["new"]
        ratios = [a / b for a, b in zip(o, n, strict=True)]
        q1, q2, q3 = quartiles(ratios)
        notes = []
        if (q3 - q1) / q2 > args.unstable or max(spread(o), spread(n)) > args.unstable:
            notes.append("unstable")
        if q2 < 0.97:
            notes.append("slower")
            slow.append(case)
        name = case.split("::", 1)[1] if "::" in case else case
        print(
            f"| {name} | {fmt_seconds(statistics.median(o))} | {fmt_seconds(statistics.median(n))}"
            f" | {q2:.3f}x | {q1:.3f}-{q3:.3f} | {', '.join(notes)} |"
        )
    for label, missing in (
        ("old", set(new.cases) - set(old.cases)),
        ("new", set(old.cases) - set(new.cases)),
    ):
        for case in sorted(missing):
            print(f"| {case} | | | | | missing on {label} |")
    print(f"\n{len(slow)} of {len(both)} cases below 0.97x (median of the per-round ratios).")


if __name__ == "__main__":
    main()
