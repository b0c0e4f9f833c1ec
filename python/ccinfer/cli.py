"""The ``ccinfer`` command: ``ccinfer demo`` (the main job), ``ccinfer info`` and
``ccinfer bench`` (the benchmark suites and their report, from a source checkout)."""

from __future__ import annotations

import argparse
import json

import ccinfer

from . import bench_cli


def demo(args: argparse.Namespace) -> int:
    from .demo import mnist_demo, text_demo

    info = ccinfer.build_info()
    print(
        f"ccinfer {info['version']}  ISA {info['active_isa']} "
        f"(available {', '.join(info['available_isas'])})  threads {info['omp_max_threads']}"
        f"  OpenBLAS {info['openblas_corename']}"
    )
    mnist_demo(args.data_dir, rounds=args.rounds)
    print()
    text_demo(args.data_dir, rounds=args.rounds)
    return 0


def info(args: argparse.Namespace) -> int:
    print(json.dumps(ccinfer.build_info(), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ccinfer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the shipped models dense and conditional")
    p.add_argument(
        "--data-dir",
        default=None,
        help="folder holding mnist/ and text/ (default: $CCINFER_DATA, else ./data)",
    )
    p.add_argument("--rounds", type=int, default=200, help="timed rounds per case")
    p.set_defaults(func=demo)
    sub.add_parser("info", help="print build_info() as JSON").set_defaults(func=info)
    p = sub.add_parser("bench", help="run bench/ and write bench/RESULTS.md with plots")
    bench_cli.add_arguments(p)
    p.set_defaults(func=bench_cli.run)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:
        parser.exit(2, f"ccinfer {args.command}: {e}\n")
