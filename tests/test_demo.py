"""The main job runs: `python -m ccinfer demo` on the shipped model and the real test digits."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


@pytest.mark.skipif(not (DATA / "mnist").exists(), reason="needs ../shared/data/mnist")
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
    assert out.count("speed-up") == 5  # the flop bound line and four timed cases
    assert out.count("plan chosen by measurement") == 2


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
