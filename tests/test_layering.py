"""The package's layers point one way: the models never import the converters (the convert
package depends on them), and importing ccinfer loads no converter or training code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ccinfer

PACKAGE = Path(ccinfer.__file__).parent
MODEL_MODULES = ["mlp.py", "gru.py", "tree.py", "sequential.py", "io.py", "_base.py", "_arrays.py"]


def _module_level_imports(path: Path) -> set[str]:
    """The relative modules a file imports at module level (not inside a function)."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            names.add(node.module or "")
    return names


def test_model_modules_do_not_import_converters_at_module_level():
    for name in MODEL_MODULES:
        imports = _module_level_imports(PACKAGE / name)
        offending = {m for m in imports if m.split(".")[0] in ("convert", "train")}
        assert not offending, f"{name} imports {sorted(offending)} at module level"


def test_import_ccinfer_loads_no_converter_or_trainer():
    code = (
        "import sys, ccinfer\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('ccinfer.convert', "
        "'ccinfer.train')))\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_convert_package_imports_without_optional_frameworks():
    code = "import ccinfer.convert as c; print(len(c.__all__))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) >= 4
