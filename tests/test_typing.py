"""Types that help: ``mypy --strict`` accepts a typical user script (tests/typecheck/
user_script.py) and reports calls of methods and kernels that do not exist (wrong_method.py).
Skipped without mypy unless CCINFER_REQUIRE_MYPY=1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ccinfer

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "typecheck"


def mypy(script: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if os.environ.get("CCINFER_REQUIRE_MYPY") != "1":
        pytest.importorskip("mypy")
    # ccinfer as an installed package is to its users: its own modules are followed for their
    # types, their internal errors are not the user's. An editable install is found through an
    # import hook mypy cannot follow, so its source folder is given.
    package_parent = Path(ccinfer.__file__).resolve().parents[1]
    config = tmp_path / "mypy.ini"
    config.write_text(
        "[mypy]\nstrict = True\n"
        + (f"mypy_path = {package_parent}\n" if package_parent.name != "site-packages" else "")
        + "[mypy-ccinfer.*]\nfollow_imports = silent\n"
    )
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(config)]
    cmd += ["--no-incremental", "--cache-dir", str(tmp_path / "cache")]  # nothing in the repo
    return subprocess.run(
        [*cmd, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_user_script_passes_mypy_strict(tmp_path):
    result = mypy(SCRIPTS / "user_script.py", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout


def test_mypy_reports_a_method_that_does_not_exist(tmp_path):
    result = mypy(SCRIPTS / "wrong_method.py", tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"CondMLP" has no attribute "autotune_everything"' in result.stdout
    assert 'Module has no attribute "cond_gemv_fast"' in result.stdout
    assert "Found 2 errors" in result.stdout, result.stdout


def test_user_script_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "user_script.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
