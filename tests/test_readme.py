"""Every ```python block of README.md runs as written: each block is written to a file of its
own in a temporary folder and run by a fresh interpreter whose working directory is the
repository root (the blocks name the shipped models by their paths there). Blocks that import
an optional package (torch, dask, threadpoolctl, sklearn, keras, onnx) skip when it is missing."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = ("torch", "dask", "threadpoolctl", "sklearn", "keras", "onnx")


def python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


BLOCKS = python_blocks()


def test_readme_has_the_snippets():
    # A changed fence or a lost section would otherwise silently run nothing.
    assert len(BLOCKS) >= 7
    assert any("ProcessPoolExecutor" in b for b in BLOCKS)
    assert any("threadpool_limits" in b for b in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index, tmp_path):
    block = BLOCKS[index]
    for package in OPTIONAL:
        if re.search(rf"^\s*(import|from) {package}\b", block, flags=re.M):
            if importlib.util.find_spec(package) is None:
                pytest.skip(f"README block {index} needs {package}")
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(block)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"README block {index}:\n{block}\n{result.stderr}"
