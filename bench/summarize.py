"""Turn a pytest-benchmark JSON (--benchmark-json) into markdown speed-up tables.

Usage: python bench/summarize.py RESULTS.json [--title TITLE] > SUMMARY.md

Per group (one kernel, shape and thread count): each case's median and interquartile range,
its speed-up over the group's dense case (role "dense" in extra_info; ratio of medians from
the same run), the FLOP-bound speed-up (dense-equivalent / useful FLOPs), the target from
extra_info and PASS/FAIL against it, the ratio to a further baseline case where one is named
(e.g. a Python loop), and the effective bandwidth (bytes of weights read / median).
The cases are written by the suites through bench/conftest.py ``record``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def _fmt(x, spec=".2f", none="—"):
    return none if x is None else format(x, spec)


def summarize(data: dict, title: str | None = None) -> str:
    groups: dict[str, list[dict]] = defaultdict(list)
    for b in data["benchmarks"]:
        groups[b["group"] or b["name"]].append(b)
    mi = data.get("machine_info", {})
    cpu = mi.get("cpu", {})
    lines = []
    if title:
        lines += [f"# {title}", ""]
    lines += [
        f"- Machine: {cpu.get('brand_raw', '?')}, {cpu.get('count', '?')} logical CPUs, "
        f"Python {mi.get('python_version', '?')}",
        f"- Run: {data.get('datetime', '?')}, pytest-benchmark {data.get('version', '?')}",
        "- Speed-up = median of the dense case / median of the case, both from this run. "
        "Bandwidth = bytes of weights read / median.",
        "",
    ]
    for name in sorted(groups, key=_group_key):
        cases = groups[name]
        info0 = cases[0]["extra_info"]
        dense = next((c for c in cases if c["extra_info"].get("role") == "dense"), None)
        by_case = {c["extra_info"].get("case", c["name"]): c for c in cases}
        lines += [
            f"### {name}",
            "",
            f"{info0.get('regime', '?')}, weights {info0.get('weight_bytes', 0) / 2**20:.1f} "
            f"MiB, ISA {info0.get('isa', '?')}, {info0.get('threads', '?')} thread(s)",
            "",
        ]
        has_baseline = any(c["extra_info"].get("baseline") for c in cases)
        head = [
            "case",
            "median us",
            "IQR us",
            "speed-up vs dense",
            "FLOP bound",
            "target",
            "result",
        ]
        if has_baseline:
            head.append("vs baseline")
        head.append("GB/s")
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for c in sorted(cases, key=_case_key):
            e, st = c["extra_info"], c["stats"]
            med = st["median"]
            speed = dense["stats"]["median"] / med if dense else None
            bound = (e["dense_flops"] / e["useful_flops"]) if e.get("useful_flops") else None
            target = e.get("target")
            verdict = (
                "—" if target is None or speed is None else ("PASS" if speed >= target else "FAIL")
            )
            row = [
                e.get("case", c["name"]),
                _us(med),
                _us(st["iqr"]),
                _fmt(speed),
                _fmt(bound, ".1f"),
                _fmt(target),
                verdict,
            ]
            if has_baseline:
                base = by_case.get(e.get("baseline") or "")
                row.append(
                    _fmt(base["stats"]["median"] / med if base else None)
                    + (f" ({e['baseline']})" if base else "")
                )
            row.append(_fmt(e.get("bytes_read", 0) / med / 1e9, ".1f"))
            lines.append("| " + " | ".join(str(v) for v in row) + " |")
        lines.append("")
    return "\n".join(lines)


def targets(data: dict) -> str:
    """One line per case that has a target: where the kernels stand at a glance."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for b in data["benchmarks"]:
        groups[b["group"] or b["name"]].append(b)
    lines = ["| group | case | speed-up vs dense | target | result |", "|---|---|---|---|---|"]
    passed = failed = 0
    for name in sorted(groups, key=_group_key):
        dense = next((c for c in groups[name] if c["extra_info"].get("role") == "dense"), None)
        for c in sorted(groups[name], key=_case_key):
            target = c["extra_info"].get("target")
            if target is None or dense is None:
                continue
            speed = dense["stats"]["median"] / c["stats"]["median"]
            ok = speed >= target
            passed, failed = passed + ok, failed + (not ok)
            lines.append(
                f"| {name} | {c['extra_info'].get('case', c['name'])} | {speed:.2f} | "
                f"{target:.2f} | {'PASS' if ok else '**FAIL**'} |"
            )
    return "\n".join([f"{passed} targets met, {failed} missed.", "", *lines])


def _group_key(name: str):
    return name


def _case_key(c: dict):
    e = c["extra_info"]
    role_order = {"dense": 0, "cond": 1, "other": 2}.get(e.get("role"), 3)
    return (role_order, e.get("density") or 0.0, e.get("case", c["name"]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", help="pytest-benchmark --benchmark-json output")
    p.add_argument("--title", default=None)
    p.add_argument(
        "--targets", action="store_true", help="only the cases that have a target, one line each"
    )
    args = p.parse_args(argv)
    with open(args.json) as f:
        data = json.load(f)
    text = targets(data) if args.targets else summarize(data, args.title)
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
