"""The ``ccinfer`` command: ``ccinfer demo`` (the main job) and ``ccinfer info``."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import ccinfer
from ccinfer import kernels


def _median_us(fn, calls: int) -> float:
    times = []
    for i in range(calls):
        t0 = time.perf_counter_ns()
        fn(i)
        times.append(time.perf_counter_ns() - t0)
    return float(np.median(times)) / 1e3


def _kernel_demo(m: int = 1024, k: int = 1024, density: float = 0.1, calls: int = 400) -> None:
    """Dense OpenBLAS sgemv beside cond_gemv on the same weights, masks rotating (DESIGN.md 4)."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((m, k), dtype=np.float32)
    x = rng.standard_normal(k, dtype=np.float32)
    pool = [np.sort(rng.choice(m, int(density * m), replace=False)).astype(np.int32)
            for _ in range(64)]
    out = np.zeros(m, np.float32)
    ref = kernels.dense_gemv(W, x)
    kernels.cond_gemv(W, x, pool[0], out=out)
    np.testing.assert_allclose(out[pool[0]], ref[pool[0]], rtol=1e-4, atol=1e-3)
    dense_us = _median_us(lambda i: kernels.dense_gemv(W, x), calls)
    cond_us = _median_us(lambda i: kernels.cond_gemv(W, x, pool[i % 64], out=out), calls)
    print(f"  dense OpenBLAS sgemv {m}x{k}: {dense_us:8.1f} us")
    print(f"  cond_gemv {density:.0%} rows:       {cond_us:8.1f} us   "
          f"({dense_us / cond_us:.2f}x dense, flop bound {1 / density:.1f}x)")


def demo(args: argparse.Namespace) -> int:
    info = ccinfer.build_info()
    print(f"ccinfer {info['version']}  ISA {info['active_isa']} "
          f"(available {', '.join(info['available_isas'])})  threads {info['omp_max_threads']}")
    print(f"OpenBLAS {info['openblas_corename']}: {info['openblas_library']}")
    for threads in (1, ccinfer.get_num_threads()) if ccinfer.get_num_threads() > 1 else (1,):
        ccinfer.set_num_threads(threads)
        print(f"kernels, {threads} thread(s):")
        _kernel_demo()
    return 0


def info(args: argparse.Namespace) -> int:
    print(json.dumps(ccinfer.build_info(), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ccinfer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the shipped models dense and conditional").set_defaults(
        func=demo)
    sub.add_parser("info", help="print build_info() as JSON").set_defaults(func=info)
    args = parser.parse_args(argv)
    return args.func(args)
