"""``ccinfer bench``: run the benchmark suites, then write bench/RESULTS.md and its plots.

The suites (``bench/test_bench_*.py``) and the report generator (``bench/report.py``) live in
the source checkout, not in the installed package, so this command needs one: an editable
install finds it by itself, otherwise pass ``--bench-dir``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import ccinfer

from . import timing


def find_bench_dir(given: str | None) -> Path:
    """The checkout's ``bench/`` directory: ``given``, else beside the package's source (an
    editable install), else ``./bench``. ValueError if none holds the suites and report.py."""
    candidates = (
        [Path(given)]
        if given
        else [Path(ccinfer.__file__).resolve().parents[2] / "bench", Path.cwd() / "bench"]
    )
    for path in candidates:
        if (path / "report.py").is_file() and any(path.glob("test_bench_*.py")):
            return path.resolve()
    raise ValueError(
        "needs a source checkout of ccinfer (bench/test_bench_*.py and bench/report.py), "
        f"looked in {', '.join(str(p) for p in candidates)}; run it from the checkout or pass "
        "--bench-dir"
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``ccinfer bench``."""
    p.add_argument("--bench-dir", default=None, help="the checkout's bench/ (default: found)")
    p.add_argument(
        "--out-dir", default=None, help="where RESULTS.md and plots/ go (default: the bench dir)"
    )
    p.add_argument(
        "--json",
        default=None,
        help="pytest-benchmark JSON to write (default: <bench dir>/results/bench.json)",
    )
    p.add_argument(
        "--max-time", type=float, default=0.5, help="seconds of timed rounds per case (0.5)"
    )
    p.add_argument(
        "--paired-rounds",
        type=int,
        default=12,
        help="interleaved rounds per conditional case with a target, beside its dense case "
        "(at most 15 at 2 threads; 0: none)",
    )
    p.add_argument("-k", dest="keyword", default=None, help="pytest -k expression (a subset)")
    p.add_argument(
        "--report-only", action="store_true", help="skip the suites, report on an existing --json"
    )


def run(args: argparse.Namespace) -> int:
    """Run the suites (progress on the terminal), then the report; return an exit code."""
    bench = find_bench_dir(args.bench_dir)
    out_dir = Path(args.out_dir) if args.out_dir else bench
    json_path = Path(args.json) if args.json else bench / "results" / "bench.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if not args.report_only:
        load, cores = timing.system_load()
        for warning in timing.load_warnings(load, cores):
            print(
                f"ccinfer bench: {warning}: other work shares the CPUs; the paired re-runs "
                "will be marked UNSTABLE and pass no target",
                flush=True,
            )
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            str(bench),
            "--benchmark-only",
            f"--benchmark-json={json_path}",
            f"--benchmark-max-time={args.max_time}",
            f"--paired-rounds={args.paired_rounds}",
            "--benchmark-quiet",
            "-v",
            "-rs",
            "-p",
            "no:cacheprovider",
        ]
        if args.keyword:
            cmd += ["-k", args.keyword]
        print(f"[1/2] suites: {' '.join(cmd[1:])}", flush=True)
        code = subprocess.run(cmd, cwd=bench.parent).returncode
        print(f"[1/2] suites done in {time.perf_counter() - start:.0f} s (exit {code})", flush=True)
        if code != 0:
            return code
    elif not json_path.is_file():
        raise FileNotFoundError(f"--report-only: no JSON at {json_path}")
    print(f"[2/2] report on {json_path}", flush=True)
    code = subprocess.run(
        [sys.executable, str(bench / "report.py"), str(json_path), "--out-dir", str(out_dir)]
    ).returncode
    print(f"ccinfer bench: {time.perf_counter() - start:.0f} s in all", flush=True)
    return code
