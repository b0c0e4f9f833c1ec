"""Benchmark report: a pytest-benchmark JSON of the bench suites -> RESULTS.md and PNG plots.

Usage: python bench/report.py RESULTS.json [--out-dir bench]

Writes ``<out-dir>/RESULTS.md`` and ``<out-dir>/plots/*.png`` (matplotlib, Agg):
- where ccinfer stands against its speed-up targets, per area (kernels, the MLP model, the GRU
  models, the tree layer), shortfalls first;
- speed-up vs density of each kernel at each shape and thread count, with the FLOP bound;
- model latency: conditional vs dense OpenBLAS vs PyTorch (vs ONNX Runtime when a suite ran
  it);
- effective bandwidth of the DRAM cases against the memory bandwidth measured in the run;
- every group's table (bench/summarize.py).
Every table carries the machine and the date, read from the JSON (``machine_info["ccinfer"]``,
written by bench/machine.py); a JSON without them is described as "not recorded".
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from summarize import (  # bench/, the directory of this script, is on sys.path
    _case_key,
    bound_of,
    dense_case,
    fmt_paired,
    groups_of,
    speedups,
    summarize,
    target_of,
    target_rows,
    targets_table,
)

KERNELS = ["cond_gemv", "sparse_input_gemv", "cond_gemv_batch", "block_gated_gemm"]
THREADS_RE = re.compile(r"(,\s*(\d+) thr| t(\d+))$")
DPI = 72


def split_group(name: str) -> tuple[str, int | None]:
    """("cond_gemv 1024x1024", 2) from "cond_gemv 1024x1024 t2" or "..., 2 thr"."""
    m = THREADS_RE.search(name)
    if not m:
        return name, None
    return name[: m.start()], int(m.group(2) or m.group(3))


def machine(data: dict) -> dict:
    """The run's machine description (bench/machine.py), or placeholders."""
    mi = data.get("machine_info", {})
    info = dict(mi.get("ccinfer") or {})
    info.setdefault("cpu", mi.get("cpu", {}).get("brand_raw", "?"))
    info.setdefault("date", data.get("datetime", "?")[:16].replace("T", " ") + " UTC")
    return info


def caption(info: dict) -> str:
    """One line naming the machine, the build and the date."""
    openblas = info.get("openblas", "not recorded").split(" ")
    return (
        f"*{info.get('cpu', '?')}, {info.get('logical_cpus', '?')} logical CPUs; caches "
        f"{info.get('caches', 'not recorded')}; ISA {info.get('isa', '?')}; "
        f"{' '.join(openblas[:2])} (core {info.get('openblas_corename', '?')}); "
        f"{info.get('date', '?')}.*"
    )


def bandwidth_limits(info: dict) -> dict[int, float]:
    """threads -> the best read-only rate of the probe in the run, GB/s (weights are only
    read, so this is their limit; STREAM's triad also pays for writes)."""
    return {p["threads"]: p["read_gbs"] for p in info.get("memory_bandwidth", [])}


# ---- plots --------------------------------------------------------------------------------------


def plot_kernel(groups: dict, kernel: str, path: Path) -> bool:
    """Speed-up vs density, one panel per shape (and block), one line per thread count, the
    FLOP bound dashed, targets as crosses, per-round-pair medians as open circles."""
    panels: dict[str, dict[int, list]] = defaultdict(dict)
    for name, cases in groups.items():
        if name.split(" ")[0] != kernel:
            continue
        panel, threads = split_group(name)
        panels[panel][threads] = cases
    if not panels:
        return False
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(max(5.0, 3.6 * ncols), 2.9 * nrows + 0.4), squeeze=False
    )
    for ax, panel in zip(axes.flat, sorted(panels), strict=False):
        bound_drawn = False
        for threads, cases in sorted(panels[panel].items()):
            dense = dense_case(cases)
            conds = sorted(
                (c for c in cases if c["extra_info"].get("role") == "cond"), key=_case_key
            )
            if not dense or not conds:
                continue
            dens = [c["extra_info"]["density"] for c in conds]
            speeds = [speedups(c, dense)[0] for c in conds]
            (line,) = ax.plot(dens, speeds, "o-", label=f"{threads} thr", ms=4)
            paired = [(d, speedups(c, dense)[1]) for d, c in zip(dens, conds, strict=True)]
            paired = [(d, p["median"]) for d, p in paired if p]
            if paired:
                ax.plot(*zip(*paired, strict=True), "o", mfc="none", color=line.get_color(), ms=7)
            targets = [
                (d, target_of(c))
                for d, c in zip(dens, conds, strict=True)
                if target_of(c) is not None
            ]
            if targets:
                ax.plot(*zip(*targets, strict=True), "x", color=line.get_color(), ms=6)
            if not bound_drawn:
                bounds = [bound_of(c) for c in conds]
                ax.plot(dens, bounds, "k--", lw=1, label="FLOP bound")
                bound_drawn = True
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axhline(1.0, color="grey", lw=0.5)
        ax.set_title(panel, fontsize=8)
        ax.set_xlabel("density", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("speed-up vs dense OpenBLAS", fontsize=8)
    fig.suptitle(f"{kernel}: speed-up vs density", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return True


def model_groups(groups: dict) -> list[str]:
    """The model groups (MLP and GRU), in report order."""
    return sorted(n for n in groups if n.startswith(("mlp ", "gru ")))


def plot_models(groups: dict, names: list[str], path: Path) -> bool:
    """Median latency (IQR as error bar) of every case of every model group."""
    if not names:
        return False
    ncols = min(4, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.6 * nrows), squeeze=False)
    colors = {"dense": "tab:blue", "cond": "tab:green", "other": "tab:orange"}
    for ax, name in zip(axes.flat, names, strict=False):
        cases = sorted(groups[name], key=_case_key)
        labels = [c["extra_info"].get("case", c["name"]) for c in cases]
        med = [c["stats"]["median"] * 1e6 for c in cases]
        iqr = [c["stats"]["iqr"] * 1e6 / 2 for c in cases]
        ax.barh(
            range(len(cases)),
            med,
            xerr=iqr,
            color=[colors.get(c["extra_info"].get("role"), "grey") for c in cases],
        )
        ax.set_yticks(range(len(cases)), labels, fontsize=6)
        ax.invert_yaxis()
        ax.set_title(name, fontsize=7)
        ax.set_xlabel("us per call (median)", fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.tick_params(axis="x", labelsize=6)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    fig.suptitle("model latency: dense OpenBLAS (blue), conditional (green), others", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return True


def dram_cases(groups: dict) -> list[tuple[str, dict]]:
    """(group, case) for every case whose weights are streamed from DRAM."""
    return [
        (name, c)
        for name in sorted(groups)
        for c in sorted(groups[name], key=_case_key)
        if c["extra_info"].get("regime") == "DRAM" and not name.startswith("memory bandwidth")
    ]


def plot_bandwidth(cases: list[tuple[str, dict]], limits: dict[int, float], path: Path) -> bool:
    """Effective bandwidth of the DRAM cases, a bar per thread count, against the read-only
    rate of the probe measured in the run (dashed, same colour)."""
    if not cases:
        return False
    labels: list[str] = []
    rates: dict[int, dict[str, float]] = defaultdict(dict)
    for name, c in cases:
        label = f"{split_group(name)[0]}: {c['extra_info'].get('case', c['name'])}"
        if label not in labels:
            labels.append(label)
        rates[c["extra_info"].get("threads")][label] = (
            c["extra_info"]["bytes_read"] / c["stats"]["median"] / 1e9
        )
    fig, ax = plt.subplots(figsize=(8.0, 1.0 + 0.17 * len(labels)))
    height = 0.8 / len(rates)
    for i, threads in enumerate(sorted(rates)):
        ys = [labels.index(lb) + i * height for lb in rates[threads]]
        bars = ax.barh(ys, list(rates[threads].values()), height, label=f"{threads} thr")
        if threads in limits:
            ax.axvline(
                limits[threads],
                color=bars.patches[0].get_facecolor(),
                ls="--",
                lw=1,
                label=f"probe, read only, {threads} thr",
            )
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(labels))], labels, fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("GB/s (bytes of weights read / median)", fontsize=7)
    ax.tick_params(axis="x", labelsize=6)
    ax.legend(fontsize=6, loc="lower right")
    ax.set_title("DRAM cases: effective bandwidth vs the measured limit", fontsize=9)
    fig.subplots_adjust(left=0.42, right=0.98, top=1 - 0.4 / fig.get_figheight())
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return True


# ---- markdown -----------------------------------------------------------------------------------


def headline(rows: list[dict]) -> list[str]:
    """Targets met and missed per area, and every shortfall by name."""
    area_of = {"mlp": "MLP model", "gru": "GRU models", "tree": "tree layer"}
    per_area: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        per_area[area_of.get(r["group"].split(" ")[0], "kernels")].append(r)
    doubtful = [r for r in rows if r["unstable"]]
    extra = " unstable |" if doubtful else ""
    rule = "|---|---|---|---|" + ("---|" if doubtful else "")
    lines = [f"| area | targets | met | missed |{extra}", rule]
    for area in ("kernels", *area_of.values()):
        rs = per_area.get(area)
        if not rs:
            continue
        ok = sum(r["ok"] for r in rs)
        bad = sum(r["missed"] for r in rs)
        lines.append(
            f"| {area} | {len(rs)} | {ok} | {'**' if bad else ''}{bad}{'**' if bad else ''} |"
            + (f" {sum(bool(r['unstable']) for r in rs)} |" if doubtful else "")
        )
    missed = [r for r in rows if r["missed"]]
    lines += ["", f"**Shortfalls ({len(missed)}):**" if missed else "No shortfalls.", ""]
    for r in missed:
        got = r["paired"]["median"] if r["paired"] else r["b2b"]
        how = "per round pair" if r["paired"] else "back to back"
        lines.append(
            f"- {r['group']}, {r['case']}: {got:.2f}x ({how}; back to back {r['b2b']:.2f}x) "
            f"against {r['target']:.2f}x, {got / r['target']:.0%} of the target"
        )
    if doubtful:
        lines += ["", f"**Unstable, neither met nor missed ({len(doubtful)}):**", ""]
        lines += [
            f"- {r['group']}, {r['case']}: {r['decisive']:.2f}x against {r['target']:.2f}x; "
            f"{'; '.join(r['unstable'])}"
            for r in doubtful
        ]
    return lines


def model_table(groups: dict, names: list[str], info: dict) -> list[str]:
    """Latency of every model case with its speed-up over dense, PyTorch and ONNX Runtime."""
    lines = [
        caption(info),
        "",
        "| group | case | median us | IQR us | rounds | vs dense (back to back) | "
        "vs dense (per round pair) | vs PyTorch | vs ONNX Runtime |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    onnx_seen = False
    for name in names:
        cases = sorted(groups[name], key=_case_key)
        dense = dense_case(cases)
        torch = next((c for c in cases if "PyTorch" in c["extra_info"].get("case", "")), None)
        ort = next((c for c in cases if "ONNX" in c["extra_info"].get("case", "")), None)
        onnx_seen = onnx_seen or ort is not None
        for c in cases:
            e, st = c["extra_info"], c["stats"]
            b2b, paired, _ = speedups(c, dense)
            vs = [
                f"{other['stats']['median'] / st['median']:.2f}"
                if other and e.get("role") == "cond"
                else "—"
                for other in (torch, ort)
            ]
            cells = [
                name,
                e.get("case", c["name"]),
                f"{st['median'] * 1e6:,.1f}",
                f"{st['iqr'] * 1e6:,.1f}",
                str(st["rounds"]),
                _f(b2b),
                fmt_paired(paired),
                *vs,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    if not onnx_seen:
        lines += [
            "",
            "ONNX Runtime: no case in this run (bench/test_bench_onnxruntime.py skips without "
            "onnxruntime, onnx and torch: `pip install .[bench,torch]`). The column stays "
            "empty rather than borrowed from another run.",
        ]
    return lines


def _f(x):
    return "—" if x is None else f"{x:.2f}"


def bandwidth_table(info: dict, groups: dict, cases: list[tuple[str, dict]]) -> list[str]:
    """The probe's rates, OpenBLAS sdot's streaming read, and each DRAM case's fraction."""
    limits = bandwidth_limits(info)
    lines = [caption(info), ""]
    probes = info.get("memory_bandwidth", [])
    if probes:
        lines += [
            "STREAM-style probe (`ccinfer.kernels.memory_bandwidth`, 3 arrays x "
            f"{probes[0]['mb_per_array']:.0f} MB, float32, {probes[0]['repeats']} repeats, "
            "GB/s best (median); copy and triad count the bytes STREAM counts, read only is a "
            "sum over one array, the limit for weights, which are only read):",
            "",
            "| threads | copy | triad | read only |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {p['threads']} | {p['copy_gbs']:.1f} ({p['copy_gbs_median']:.1f}) | "
            f"{p['triad_gbs']:.1f} ({p['triad_gbs_median']:.1f}) | "
            f"{p['read_gbs']:.1f} ({p['read_gbs_median']:.1f}) |"
            for p in probes
        ]
    else:
        lines.append("No memory-bandwidth probe in this JSON (run through `ccinfer bench`).")
    for name in sorted(n for n in groups if n.startswith("memory bandwidth")):
        c = groups[name][0]
        gbs = c["extra_info"]["bytes_read"] / c["stats"]["median"] / 1e9
        lines += ["", f"{name}: {c['extra_info'].get('case')} reads {gbs:.1f} GB/s (median)."]
    lines += [
        "",
        "| group | case | GB/s | % of read only | speed-up vs dense |",
        "|---|---|---|---|---|",
    ]
    above = 0
    for name, c in cases:
        e = c["extra_info"]
        gbs = e["bytes_read"] / c["stats"]["median"] / 1e9
        limit = limits.get(e.get("threads"))
        frac = f"{gbs / limit:.0%}" if limit else "—"
        above += bool(limit) and gbs > limit
        b2b = speedups(c, dense_case(groups[name]))[0]
        lines.append(f"| {name} | {e.get('case', c['name'])} | {gbs:.1f} | {frac} | {_f(b2b)} |")
    if above:
        lines += [
            "",
            f"{above} of these cases read faster than the probe's DRAM read rate: their weights "
            "are larger than the last-level cache but are not all streamed from DRAM on every "
            "call (part of the weights, or the rows the rotating masks keep choosing, stay in "
            'cache between calls). Their "DRAM" label is the size rule of bench/conftest.py, '
            "not a measurement; read their speed-ups as partly cache-resident.",
        ]
    return lines


def report(data: dict, out_dir: Path) -> str:
    """Write the plots under ``out_dir/plots`` and return RESULTS.md's text."""
    groups = groups_of(data)
    info = machine(data)
    cap = caption(info)
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    rows = target_rows(data)
    any_paired = any(r["paired"] for r in rows)
    md = [
        "# ccinfer benchmark results",
        "",
        cap,
        "",
        f"- ccinfer {info.get('ccinfer_version', '?')}, compiled ISAs "
        f"{', '.join(info.get('available_isas', ['?']))}, ISA used {info.get('isa', '?')}, "
        f"compiler {info.get('compiler', '?')}; threads 1 and {info.get('threads', '?')} "
        "(ccinfer and OpenBLAS set together).",
        f"- OpenBLAS: {info.get('openblas', 'not recorded')}.",
        f"- Run {data.get('datetime', '?')}, pytest-benchmark {data.get('version', '?')}. "
        "Regenerate with `ccinfer bench` (or `python bench/report.py RESULTS.json`).",
        "- Speed-up vs dense = median of the group's dense OpenBLAS case / median of the case. "
        '"Back to back": each case\'s rounds in a row (pytest-benchmark), the cases of a group '
        'in the same run. "Per round pair": the conditional case re-timed interleaved with '
        "its dense case, a ratio per round (`ccinfer.timing.compare`: rounds of at least 0.25 s "
        "at 2 threads, see docs/performance/threads.md), median (quartiles, rounds)"
        + (
            "; where measured it decides PASS/FAIL."
            if any_paired
            else "; not measured in this run, so back-to-back ratios decide PASS/FAIL."
        ),
        "- The suites check each kernel and model against the NumPy reference (ONNX Runtime "
        "against PyTorch) once before timing it. Masks rotate "
        "through pools of 64 (real MNIST digits for the MLP, the model's own z path for the "
        "GRU: calibrated random models on random tokens, and the trained character models on "
        'held-out text, cases marked "trained"); the cache regime of each group is stated in '
        "its table.",
        "",
        "## Targets at a glance",
        "",
        cap,
        "",
        *headline(rows),
        "",
        "<details><summary>Every target</summary>",
        "",
        targets_table(rows),
        "",
        "</details>",
        "",
        "## Kernels: speed-up vs density",
        "",
        "Solid: back to back; open circles: per round pair; crosses: the target; "
        "dashed: the FLOP bound (dense-equivalent / useful FLOPs). Log-log.",
        "",
    ]
    for kernel in KERNELS:
        if plot_kernel(groups, kernel, plots / f"speedup_{kernel}.png"):
            md += [f"![{kernel}](plots/speedup_{kernel}.png)", ""]
    names = model_groups(groups)
    md += ["## Models: latency", ""]
    if plot_models(groups, names, plots / "models.png"):
        md += ["![model latency](plots/models.png)", ""]
    md += [*model_table(groups, names, info), ""]
    dram = dram_cases(groups)
    md += ["## Memory bandwidth and the DRAM cases", ""]
    if plot_bandwidth(dram, bandwidth_limits(info), plots / "bandwidth.png"):
        md += ["![bandwidth](plots/bandwidth.png)", ""]
    md += [*bandwidth_table(info, groups, dram), ""]
    md += [
        "## Every group",
        "",
        summarize(data, caption=cap, bandwidth=bandwidth_limits(info)),
    ]
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", help="pytest-benchmark --benchmark-json output of the bench suites")
    p.add_argument(
        "--out-dir",
        default=str(Path(__file__).resolve().parent),
        type=Path,
        help="where RESULTS.md and plots/ go (default: bench/)",
    )
    args = p.parse_args(argv)
    with open(args.json) as f:
        data = json.load(f)
    text = report(data, args.out_dir)
    (args.out_dir / "RESULTS.md").write_text(text)
    print(f"wrote {args.out_dir / 'RESULTS.md'} and {args.out_dir / 'plots'}/*.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
