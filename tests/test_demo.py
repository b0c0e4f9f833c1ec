"""The main job runs: `python -m ccinfer demo` on the shipped sample with no arguments (as the
README's first command runs it), and on the full data sets with --data-dir."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import DATA_DIR

ROOT = Path(__file__).resolve().parents[1]
DATA = DATA_DIR


def run_demo(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ccinfer", "demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def check_text_part(text: str) -> None:
    # Every character model: trained (far below the 4.75 bits of a uniform guess over 27
    # symbols), its z density, a sample and a timed step against the dense control.
    bpc = [float(b) for b in re.findall(r"([0-9.]+) bits/char", text)]
    assert len(bpc) >= 4 and all(b < 2.5 for b in bpc)
    conditional = len(bpc) - 1
    assert text.count("z density per layer") == conditional
    assert text.count("sample (state warmed") == conditional
    assert len(re.findall(r"one step, 1 stream, .* speed-up [0-9.]+x", text)) == conditional
    # Each timing is announced before it runs.
    assert text.count("measuring one step of one stream") == conditional


def test_demo_runs_on_the_shipped_sample(tmp_path):
    # From a folder with no data beside it: the sample inside the package is all it needs.
    proc = run_demo("--rounds", "3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "shipped sample (first 1,000 MNIST test digits)" in out
    # The first 1,000 test digits: 11 errors dense and conditional (the model card's numbers
    # on the whole test set are 1.23% / 1.21%).
    assert "test error on 1,000 digits: dense 1.10%   conditional 1.10%" in out
    mnist, text = out.split("Text models")
    assert "flop-bound speed-up from these masks" in mnist
    # Four timed cases (the UNSTABLE notes beside them may say "speed-up" too).
    assert len(re.findall(r"batch +\d+: dense OpenBLAS .* speed-up [0-9.]+x \(IQR", mnist)) == 4
    assert mnist.count("plan chosen by measurement") == 2
    assert mnist.count("measuring batch") == 4
    check_text_part(text)
    assert "on 30,000 symbols (control)" in text


@pytest.mark.skipif(
    not (DATA / "mnist").exists() or not (DATA / "text").exists(),
    reason=f"needs mnist/ and text/ in {DATA_DIR}",
)
def test_demo_runs_on_the_full_data():
    proc = run_demo("--data-dir", str(DATA), "--rounds", "3", "--max-symbols", "3000", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "test error on 10,000 digits: dense 1.23%" in out
    assert "conditional 1.21%" in out
    check_text_part(out.split("Text models")[1])


def test_demo_bad_data_dir(tmp_path):
    proc = run_demo("--data-dir", str(tmp_path), cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert "ccinfer demo:" in proc.stderr


@pytest.mark.parametrize("module", [True, False])
def test_version(module):
    import ccinfer

    cmd = [sys.executable, "-m", "ccinfer"] if module else [Path(sys.executable).parent / "ccinfer"]
    proc = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"ccinfer {ccinfer.__version__}"
