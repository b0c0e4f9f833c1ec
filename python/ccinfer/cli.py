"""The ``ccinfer`` command: ``ccinfer demo`` (the main job), ``ccinfer info``, ``ccinfer
convert`` (a model from another trainer into a model file) and ``ccinfer bench`` (the
benchmark suites and their report, from a source checkout)."""

from __future__ import annotations

import argparse
import json
import time

import ccinfer

from . import bench_cli, convert_cli, timing

MIN_SYMBOLS = 1000  # the demo warms streams on up to 500 held-out symbols before using them

DATA_LAYOUT = """\
--data-dir DIR evaluates on the full test sets instead of the shipped sample; DIR holds
  mnist/t10k-images.idx3-ubyte.gz, mnist/t10k-labels.idx1-ubyte.gz   (MNIST test set, idx)
  text/austen.txt.gz, text/kjv.txt.gz   (raw UTF-8 prose; the last 5% of both, cleaned, is
                                         the held-out text)
"""


def demo(args: argparse.Namespace) -> int:
    from .demo import mnist_demo, text_demo

    if args.rounds < 3:
        raise ValueError(f"--rounds must be at least 3, got {args.rounds}")
    if args.max_symbols is not None and args.max_symbols < MIN_SYMBOLS:
        raise ValueError(f"--max-symbols must be at least {MIN_SYMBOLS}, got {args.max_symbols}")
    info = ccinfer.build_info()
    print(
        f"ccinfer {info['version']}  ISA {info['active_isa']} "
        f"(available {', '.join(info['available_isas'])})  threads {info['omp_max_threads']}"
        f"  OpenBLAS {info['openblas_corename']}"
    )
    load, cores = timing.system_load()
    if load is not None and load > cores:
        print(
            f"note: load average {load:.1f} on {cores} cores: other work shares the CPUs, "
            "timings below will be marked UNSTABLE"
        )
    start = time.perf_counter()
    mnist_demo(args.data_dir, rounds=args.rounds)
    print()
    text_demo(args.data_dir, rounds=args.rounds, max_symbols=args.max_symbols)
    print(f"\ndemo done in {time.perf_counter() - start:.0f} s")
    return 0


def info(args: argparse.Namespace) -> int:
    print(json.dumps(ccinfer.build_info(), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ccinfer", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ccinfer {ccinfer.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "demo",
        help="run the shipped models dense and conditional",
        description="Run the shipped models, dense and conditional, on the data sample shipped "
        "in the package (1,000 MNIST test digits, 30,000 held-out symbols): accuracy, bits per "
        "character, sparsity and interleaved timings, each marked UNSTABLE where the "
        "measurement cannot be trusted.",
        epilog=DATA_LAYOUT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="the full data sets (layout below; default: the shipped sample)",
    )
    p.add_argument("--rounds", type=int, default=60, help="timed rounds per case at 1 thread")
    p.add_argument(
        "--max-symbols", type=int, default=None, help="read at most this many held-out symbols"
    )
    p.set_defaults(func=demo)
    sub.add_parser("info", help="print build_info() as JSON").set_defaults(func=info)
    p = sub.add_parser(
        "convert",
        help="convert an ONNX, PyTorch or array file into a ccinfer model file",
        description=convert_cli.DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    convert_cli.add_arguments(p)
    p.set_defaults(func=convert_cli.run)
    p = sub.add_parser("bench", help="run bench/ and write bench/RESULTS.md with plots")
    bench_cli.add_arguments(p)
    p.set_defaults(func=bench_cli.run)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, ImportError) as e:
        parser.exit(2, f"ccinfer {args.command}: {e}\n")
