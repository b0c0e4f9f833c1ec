"""bench/report.py on a tiny synthetic pytest-benchmark JSON: the markdown and the plots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def case(group, name, role, median, *, density=1.0, target=None, paired=None, **extra):
    info = dict(
        case=name,
        role=role,
        density=density,
        useful_flops=extra.pop("useful_flops", 2e6 * (density or 1.0)),
        dense_flops=2e6,
        bytes_read=4e6 * (density or 1.0),
        weight_bytes=extra.pop("weight_bytes", 4_000_000),
        regime=extra.pop("regime", "L3-resident"),
        isa="avx512",
        threads=extra.pop("threads", 1),
        target=target,
        baseline=None,
        **extra,
    )
    if paired:
        info["paired"] = paired
    return {
        "group": group,
        "name": name,
        "extra_info": info,
        "stats": {"median": median, "iqr": median / 10, "rounds": 100},
    }


def synthetic() -> dict:
    paired = {"median": 3.5, "q1": 3.4, "q3": 3.6, "rounds": 15}
    dram = dict(weight_bytes=64 << 20, regime="DRAM")
    return {
        "datetime": "2026-11-21T07:00:00+00:00",
        "version": "5.2.3",
        "machine_info": {
            "cpu": {"brand_raw": "Test CPU"},
            "ccinfer": {
                "cpu": "Test CPU",
                "logical_cpus": 2,
                "caches": "L2 1024K, L3 32768K (shared by 0-1)",
                "isa": "avx512",
                "available_isas": ["scalar", "avx2", "avx512"],
                "threads": 2,
                "openblas": "OpenBLAS 0.3.34 USE64BITINT",
                "openblas_corename": "Haswell",
                "compiler": "gcc",
                "ccinfer_version": "0.1.0",
                "date": "2026-11-21 07:00 UTC",
                "memory_bandwidth": [
                    {
                        "threads": t,
                        "copy_gbs": 20.0 * t,
                        "copy_gbs_median": 19.0 * t,
                        "triad_gbs": 22.0 * t,
                        "triad_gbs_median": 21.0 * t,
                        "read_gbs": 25.0 * t,
                        "read_gbs_median": 24.0 * t,
                        "mb_per_array": 64.0,
                        "repeats": 10,
                    }
                    for t in (1, 2)
                ],
            },
        },
        "benchmarks": [
            case("cond_gemv 64x64 t1", "dense OpenBLAS", "dense", 1e-5),
            case("cond_gemv 64x64 t1", "a=0.25", "cond", 3e-6, density=0.25, target=2.4),
            case("cond_gemv 64x64 t1", "a=0.50", "cond", 9e-6, density=0.5, target=1.2),
            case("cond_gemv 4096x4096 t2", "dense OpenBLAS", "dense", 1e-3, threads=2, **dram),
            case(
                "cond_gemv 4096x4096 t2",
                "a=0.25",
                "cond",
                3e-4,
                density=0.25,
                target=3.2,
                paired=paired,
                threads=2,
                **dram,
            ),
            case("mlp 784-1000-600-400-10 batch 1 t1", "dense OpenBLAS", "dense", 7e-5),
            case(
                "mlp 784-1000-600-400-10 batch 1 t1",
                "conditional",
                "cond",
                2e-5,
                density=None,
                target=3.0,
                useful_flops=2e6 / 3.5,  # masks whose flop bound is 3.5x
            ),
            case("mlp 784-1000-600-400-10 batch 1 t1", "PyTorch 2.13", "other", 1.5e-4),
        ],
    }


def test_report_writes_markdown_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "results.json"
    path.write_text(json.dumps(synthetic()))
    subprocess.run(
        [sys.executable, str(BENCH / "report.py"), str(path), "--out-dir", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    md = (tmp_path / "RESULTS.md").read_text()
    # the machine and date on every table
    assert md.count("Test CPU, 2 logical CPUs") >= 4 and "2026-11-21 07:00 UTC" in md
    assert "OpenBLAS 0.3.34" in md and "(core Haswell)" in md and "L3 32768K" in md
    # targets: 3 met (a=0.25 t1 3.33x, a=0.25 t2 3.5x per round pair, MLP 3.5x), one missed
    assert "3 targets met, 1 missed." in md
    assert "cond_gemv 64x64 t1, a=0.50: 1.11x (back to back; back to back 1.11x)" in md
    assert "| kernels | 3 | 2 | **1** |" in md
    assert "3.50 (3.40-3.60, 15 r)" in md  # the per-round-pair ratio beside back to back
    assert "| 100 |" in md  # rounds
    # model latency with PyTorch, ONNX Runtime named as missing
    assert "| mlp 784-1000-600-400-10 batch 1 t1 | conditional | 20.0 | 2.0 | 100 | 3.50 |" in md
    assert "ONNX Runtime: no case in this run" in md
    # DRAM case against the probe: 4e6 * 0.25 bytes / 0.3 ms = 3.3 GB/s of 50 GB/s read only
    assert "| cond_gemv 4096x4096 t2 | a=0.25 | 3.3 | 7% |" in md
    assert "read faster than the probe" not in md
    plots = sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert plots == ["bandwidth.png", "models.png", "speedup_cond_gemv.png"]
    assert sum(p.stat().st_size for p in (tmp_path / "plots").glob("*.png")) < 400_000
    for name in plots:
        assert f"(plots/{name})" in md


def test_summarize_digest_uses_the_paired_ratio(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(synthetic()))
    out = subprocess.run(
        [sys.executable, str(BENCH / "summarize.py"), str(path), "--targets"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out.startswith("3 targets met, 1 missed.")
    assert (
        "| cond_gemv 4096x4096 t2 | a=0.25 | 3.33 | 3.50 (3.40-3.60, 15 r) | 3.20 | PASS |" in out
    )
