"""Turn a pytest-benchmark JSON (--benchmark-json) into markdown speed-up tables.

Usage: python bench/summarize.py RESULTS.json [--title TITLE] > SUMMARY.md

Per group (one kernel, shape and thread count): each case's median and interquartile range,
its speed-up over the group's dense case (role "dense" in extra_info; ratio of medians from
the same run), the FLOP-bound speed-up (dense-equivalent / useful FLOPs), the target from
extra_info and PASS/FAIL against it, the ratio to a further baseline case where one is named
(e.g. a Python loop), and the effective bandwidth (bytes of weights read / median).
Where the run measured per-round-pair speed-ups (``extra_info["paired"]``, bench/paired.py),
they are shown beside the back-to-back ratio and decide PASS/FAIL.
A deciding measurement that `ccinfer.timing` would not trust (a spread of more than
``SPREAD_LIMIT`` round to round, the load average above the core count while timing, a
speed-up over ``BOUND_MARGIN`` times its flop bound) never passes: its result is UNSTABLE with
the reason, counted apart from the targets met and missed.
The cases are written by the suites through bench/conftest.py ``record``; bench/report.py
builds RESULTS.md and the plots on these functions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

from ccinfer.timing import BOUND_MARGIN, SPREAD_LIMIT, bound_warnings, load_warnings


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def _fmt(x, spec=".2f", none="—"):
    return none if x is None else format(x, spec)


def groups_of(data: dict) -> dict[str, list[dict]]:
    """The benchmarks of a pytest-benchmark JSON by group."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for b in data["benchmarks"]:
        groups[b["group"] or b["name"]].append(b)
    return groups


def dense_case(cases: list[dict]) -> dict | None:
    """The case of a group every speed-up is taken against (role "dense")."""
    return next((c for c in cases if c["extra_info"].get("role") == "dense"), None)


def speedups(case: dict, dense: dict | None) -> tuple[float | None, dict | None, float | None]:
    """(back-to-back ratio of medians, per-round-pair summary or None, the ratio that decides
    PASS/FAIL: the paired median where measured, else the back-to-back ratio)."""
    b2b = dense["stats"]["median"] / case["stats"]["median"] if dense else None
    paired = case["extra_info"].get("paired")
    return b2b, paired, (paired["median"] if paired else b2b)


def target_of(case: dict) -> float | None:
    """The target the deciding ratio is held to: the paired re-run's own where it measured one
    (its calls' masks, bench/paired.py ``window``), else the one recorded with the case."""
    paired = case["extra_info"].get("paired") or {}
    return paired.get("target", case["extra_info"].get("target"))


def bound_of(case: dict) -> float | None:
    """The FLOP-bound speed-up of the calls that decide: the paired re-run's where measured."""
    e = case["extra_info"]
    paired = e.get("paired") or {}
    if "flop_bound_speedup" in paired:
        return paired["flop_bound_speedup"]
    return (e["dense_flops"] / e["useful_flops"]) if e.get("useful_flops") else None


def unstable(case: dict, dense: dict | None) -> list[str]:
    """Why the measurement that decides `case` is not to be trusted (empty: it is).

    Per round pair: the ratios' interquartile range over their median, and the load average
    recorded around the re-run (bench/paired.py). Back to back: the interquartile range over
    the median of the case and of its dense case. Either way: the deciding ratio against
    ``BOUND_MARGIN`` times the flop bound.
    """
    _, paired, decisive = speedups(case, dense)
    reasons = []
    if paired:
        spread = (paired["q3"] - paired["q1"]) / paired["median"]
        if spread > SPREAD_LIMIT:
            reasons.append(f"per-round ratios spread {spread:.0%}")
        if paired.get("load") is not None:
            reasons += load_warnings(paired["load"], paired.get("cores", 1))
    else:
        for who, c in (("case", case), ("dense", dense)):
            st = c["stats"] if c else None
            if st and st["median"] > 0 and st["iqr"] / st["median"] > SPREAD_LIMIT:
                reasons.append(f"{who} IQR {st['iqr'] / st['median']:.0%} of its median")
    if decisive is not None:
        reasons += bound_warnings(decisive, bound_of(case))
    return reasons


def verdict(decisive: float | None, target: float | None, reasons: list[str]) -> str:
    """PASS / FAIL, or UNSTABLE (with the reasons) when the measurement is not trusted."""
    if target is None or decisive is None:
        return "—"
    if reasons:
        return f"UNSTABLE ({'; '.join(reasons)})"
    return "PASS" if decisive >= target else "**FAIL**"


def fmt_paired(paired: dict | None) -> str:
    """ "2.31 (2.20-2.40, 15 r)": median and quartiles of the per-round ratios, rounds."""
    if not paired:
        return "—"
    return f"{paired['median']:.2f} ({paired['q1']:.2f}-{paired['q3']:.2f}, {paired['rounds']} r)"


def summarize(
    data: dict,
    title: str | None = None,
    caption: str | None = None,
    bandwidth: dict[int, float] | None = None,
) -> str:
    """Markdown tables, one per group.

    Parameters
    ----------
    caption : str, optional
        A line put under every group's heading (the machine and date, in RESULTS.md).
    bandwidth : dict, optional
        threads -> measured memory bandwidth in GB/s: DRAM cases get a "% of bw" column.
    """
    groups = groups_of(data)
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
        dense = dense_case(cases)
        by_case = {c["extra_info"].get("case", c["name"]): c for c in cases}
        lines += [
            f"### {name}",
            "",
            f"{info0.get('regime', '?')}, weights {info0.get('weight_bytes', 0) / 2**20:.1f} "
            f"MiB, ISA {info0.get('isa', '?')}, {info0.get('threads', '?')} thread(s)",
            "",
            *([caption, ""] if caption else []),
        ]
        has_baseline = any(c["extra_info"].get("baseline") for c in cases)
        has_paired = any(c["extra_info"].get("paired") for c in cases)
        limit = (bandwidth or {}).get(info0.get("threads"))
        has_dram = limit is not None and any(c["extra_info"].get("regime") == "DRAM" for c in cases)
        head = [
            "case",
            "median us",
            "IQR us",
            "rounds",
            "speed-up vs dense",
            *(["paired (IQR, rounds)"] if has_paired else []),
            "FLOP bound",
            "target",
            "result",
        ]
        if has_baseline:
            head.append("vs baseline")
        head.append("GB/s")
        if has_dram:
            head.append("% of bw")
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for c in sorted(cases, key=_case_key):
            e, st = c["extra_info"], c["stats"]
            med = st["median"]
            speed, paired, decisive = speedups(c, dense)
            bound, target = bound_of(c), target_of(c)
            result = verdict(decisive, target, unstable(c, dense))
            row = [
                e.get("case", c["name"]),
                _us(med),
                _us(st["iqr"]),
                st.get("rounds", "?"),
                _fmt(speed),
                *([fmt_paired(paired)] if has_paired else []),
                _fmt(bound, ".1f"),
                _fmt(target),
                result,
            ]
            if has_baseline:
                base = by_case.get(e.get("baseline") or "")
                row.append(
                    _fmt(base["stats"]["median"] / med if base else None)
                    + (f" ({e['baseline']})" if base else "")
                )
            row.append(_fmt(e.get("bytes_read", 0) / med / 1e9, ".1f"))
            if has_dram:
                dram = e.get("regime") == "DRAM"
                row.append(f"{e.get('bytes_read', 0) / med / 1e9 / limit:.0%}" if dram else "—")
            lines.append("| " + " | ".join(str(v) for v in row) + " |")
        lines.append("")
    return "\n".join(lines)


def targets(data: dict) -> str:
    """One line per case that has a target: where the kernels stand at a glance."""
    return targets_table(target_rows(data))


def target_rows(data: dict) -> list[dict]:
    """Every case that has a target: group, case, back-to-back and paired speed-ups, target,
    and whether the deciding ratio (paired where measured) meets it."""
    rows = []
    groups = groups_of(data)
    for name in sorted(groups, key=_group_key):
        dense = dense_case(groups[name])
        for c in sorted(groups[name], key=_case_key):
            target = target_of(c)
            if target is None or dense is None:
                continue
            b2b, paired, decisive = speedups(c, dense)
            reasons = unstable(c, dense)
            rows.append(
                dict(
                    group=name,
                    case=c["extra_info"].get("case", c["name"]),
                    b2b=b2b,
                    paired=paired,
                    target=target,
                    decisive=decisive,
                    unstable=reasons,
                    ok=decisive >= target and not reasons,
                    missed=decisive < target and not reasons,
                )
            )
    return rows


def targets_table(rows: list[dict]) -> str:
    """The rows of :func:`target_rows` as a count and a markdown table."""
    passed = sum(r["ok"] for r in rows)
    missed = sum(r["missed"] for r in rows)
    doubtful = len(rows) - passed - missed
    has_paired = any(r["paired"] for r in rows)
    head = ["group", "case", "speed-up vs dense"]
    head += ["paired (IQR, rounds)"] if has_paired else []
    head += ["target", "result"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["group"], r["case"], f"{r['b2b']:.2f}"]
        cells += [fmt_paired(r["paired"])] if has_paired else []
        cells += [f"{r['target']:.2f}", verdict(r["decisive"], r["target"], r["unstable"])]
        lines.append("| " + " | ".join(cells) + " |")
    count = f"{passed} targets met, {missed} missed."
    if doubtful:
        count += (
            f" {doubtful} unstable: measured, but not trusted (spread over {SPREAD_LIMIT:.0%}, "
            f"load above the core count, or over {BOUND_MARGIN:g}x the flop bound), so "
            "counted neither way; re-run them on a quiet machine."
        )
    return "\n".join([count, "", *lines])


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
