"""The main job runs: `python -m ccinfer demo` on the shipped model and the real test digits."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import DATA_DIR

ROOT = Path(__file__).resolve().parents[1]
DATA = DATA_DIR


@pytest.mark.skipif(
    not (DATA / "mnist").exists() or not (DATA / "text").exists(),
    reason=f"needs mnist/ and text/ in {DATA_DIR}",
)
def test_demo_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "ccinfer", "demo", "--data-dir", str(DATA), "--rounds", "3"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "test error on 10,000 digits: dense 1.23%" in out
    assert "conditional 1.21%" in out
    mnist, text = out.split("Text models on")
    assert mnist.count("speed-up") == 5  # the flop bound line and four timed cases
    assert mnist.count("plan chosen by measurement") == 2
    # Every character model: trained (far below the 4.75 bits of a uniform guess over 27
    # symbols), its z density, a sample and a timed step against the dense control.
    bpc = [float(b) for b in re.findall(r"([0-9.]+) bits/char", text)]
    assert len(bpc) >= 3 and all(b < 2.5 for b in bpc)
    conditional = len(bpc) - 1
    assert text.count("z density per layer") == conditional
    assert text.count("sample (state warmed") == conditional
    assert len(re.findall(r"one step, 1 stream, .* speed-up [0-9.]+x", text)) == conditional


def test_demo_bad_data_dir(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ccinfer", "demo", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "ccinfer demo:" in proc.stderr
