"""The one list of kernels (cpp/src/kernels/kernel_list.h) and everything that enumerates
kernels on the Python side: ccinfer.kernels.kernel_list() is built from it by the binding, and
the Python entry points (kernels.py / kernels.pyi, the models, the test hooks) and the NumPy
references (reference.py) must cover exactly the kernels it lists, so a kernel added to the
list without an entry or a reference (or an entry left behind by a removed one) fails here."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import ccinfer
from ccinfer import kernels, reference
from ccinfer._core import _testing

REPO = Path(__file__).resolve().parents[1]
LISTING = kernels.kernel_list()

# Functions of ccinfer.kernels that are not the entry of a listed kernel, and why.
NOT_TABLE_KERNELS = {
    "dense_gemv": "the OpenBLAS baseline",
    "dense_gemm": "the OpenBLAS baseline",
    "block_gated_gemm_dense_threshold": "a measured threshold, no computation",
    "memory_bandwidth": "the STREAM measurement of the benchmark report",
    "kernel_list": "this listing",
}
# Functions of ccinfer.reference that are not the reference of a listed kernel, and why.
NOT_KERNEL_REFERENCES = {
    "cond_mlp": "the whole CondMLP, composed of the listed kernels",
    "cond_mlp_masks": "the rows each CondMLP layer computes (a piece of cond_mlp)",
    "tree_gate_bits": "a piece of tree_gated",
    "tree_paths": "a piece of tree_gated",
}
# Test hooks that are not the entry of a listed kernel, and why.
NOT_KERNEL_HOOKS = {
    "first_non_finite": "the input scan of ccinfer/finite.h, not a table kernel",
    "violate_kernel_precondition": "breaks a DCHECKed precondition on purpose (test_dcheck.py)",
}


def resolve(dotted: str, root):
    obj = root
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def public_functions(module) -> set[str]:
    return {
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and inspect.isfunction(obj)
        and obj.__module__ == module.__name__
    }


def test_listing_is_the_list_in_table_order():
    header = (REPO / "cpp" / "src" / "kernels" / "kernel_list.h").read_text()
    names = re.findall(r"^\s*X\((\w+),", header, flags=re.MULTILINE)
    assert [k["name"] for k in LISTING] == names
    assert len(set(names)) == len(names)


def test_every_kernel_is_compiled_for_every_isa_of_the_build():
    compiled = ccinfer.build_info()["compiled_isas"]
    for k in LISTING:
        assert list(k["code"]) == compiled, k["name"]
        # An ISA runs its own code or borrows another compiled set's, never an unknown one.
        assert set(k["code"].values()) <= set(compiled), k["name"]
        assert k["code"]["scalar"] == "scalar", k["name"]


@pytest.mark.parametrize("k", LISTING, ids=lambda k: k["name"])
def test_entry_and_reference_exist(k):
    assert callable(resolve(k["entry"], ccinfer)), k["entry"]
    module, _, name = k["reference"].partition(".")
    assert module in ("reference", "numpy"), k["reference"]
    assert callable(resolve(name, reference if module == "reference" else np)), k["reference"]


def test_kernels_module_and_stub_list_exactly_the_entries():
    entries = {k["entry"].split(".")[1] for k in LISTING if k["entry"].startswith("kernels.")}
    assert entries.isdisjoint(NOT_TABLE_KERNELS)
    assert set(kernels.__all__) == entries | set(NOT_TABLE_KERNELS)
    stub = ast.parse((REPO / "python" / "ccinfer" / "kernels.pyi").read_text())
    declared = {n.name for n in stub.body if isinstance(n, ast.FunctionDef)}
    declared |= {
        alias.asname or alias.name
        for n in stub.body
        if isinstance(n, ast.ImportFrom)
        for alias in n.names
        if alias.asname  # `X as X`: a re-export
    }
    assert declared == set(kernels.__all__)


def test_reference_module_holds_exactly_the_references():
    used = {
        k["reference"].split(".", 1)[1] for k in LISTING if k["reference"].startswith("reference.")
    }
    assert used.isdisjoint(NOT_KERNEL_REFERENCES)
    assert public_functions(reference) == used | set(NOT_KERNEL_REFERENCES)


def test_test_hooks_are_exactly_the_kernel_entries_and_the_scan():
    hooks = {
        k["entry"].rsplit(".", 1)[1] for k in LISTING if k["entry"].startswith("_core._testing.")
    }
    exported = {name for name in dir(_testing) if not name.startswith("_")}
    assert exported == hooks | set(NOT_KERNEL_HOOKS)
    # Nothing a user imports reaches the hooks.
    for path in (REPO / "python" / "ccinfer").rglob("*.py"):
        assert "_testing" not in path.read_text(), path


def test_model_entries_name_the_model_classes():
    for k in LISTING:
        head = k["entry"].split(".")[0]
        if head not in ("kernels", "_core"):
            assert inspect.isclass(getattr(ccinfer, head)), k["entry"]
            assert importlib.import_module("ccinfer").__all__.count(head) == 1, k["entry"]
