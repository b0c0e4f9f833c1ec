"""ccinfer: conditional computation for CPU inference.

Neural networks that predict which of their units will be zero, and a compiled engine that
never computes them. See the README for the models and ``ccinfer.kernels`` for the kernels.
"""

from __future__ import annotations

# Load OpenBLAS from the scipy-openblas64 wheel into the process before the extension needs
# it (numpy's "preloading"): the extension's DT_NEEDED entry then resolves to this library
# wherever the wheel is installed.
import scipy_openblas64 as _scipy_openblas64  # noqa: F401

from . import _core, kernels
from ._load import Model, load
from .gru import GRUStack, GRUState
from .mlp import CondMLP
from .sequential import Sequential
from .shipped import shipped_models
from .tree import TreeGatedLinear

__version__: str = _core.build_info()["version"]

# CCINFER_ISA=scalar|avx2|avx512 forces a kernel level; one this CPU lacks is a ValueError.
_core.init_isa_from_env()

available_isas = _core.available_isas
get_isa = _core.get_isa
get_num_threads = _core.get_num_threads  # ccinfer's OpenMP threads (threadpoolctl sets them)
#: The largest count :func:`set_num_threads` accepts: 4 x the processors OpenMP may use, at
#: least 64 (beyond a few threads per processor each one only adds waiting; unbounded,
#: 100,000 threads overflowed libgomp's stack).
max_num_threads = _core.max_num_threads


def set_isa(name: str) -> None:
    """Select the kernels of one instruction-set level.

    Parameters
    ----------
    name : {"scalar", "avx2", "avx512"}
        The level. It must be in :func:`available_isas`.

    Raises
    ------
    ValueError
        If the name is unknown or this CPU (or build) lacks the level.
    """
    _core.set_isa(name)


def set_num_threads(n: int) -> None:
    """Set the thread count of ccinfer's kernels and of OpenBLAS together.

    Both pools get the same count so a conditional kernel and its dense baseline are always
    compared at equal threads, and ccinfer never calls BLAS from inside its own parallel
    region, so the two pools do not fight over the cores.

    ``n`` is bounded by :func:`max_num_threads` (4 x the processors OpenMP may use, at least
    64): every kernel splits its work evenly among the threads, so more threads than a few per
    processor only add fork/join and time-slice waits, and an unbounded count crashed libgomp.

    Raises
    ------
    ValueError
        If ``n`` is not an int in ``[1, max_num_threads()]`` (checked by the core's setter).
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"set_num_threads: n must be an int >= 1, got {n!r}")
    _core.set_num_threads(n)


# Converters load on first use, so `import ccinfer` imports no converter or framework.
_LAZY = {
    "from_onnx": ("ccinfer.convert.onnx", "from_onnx"),
    "from_keras": ("ccinfer.convert.keras", "from_keras"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'ccinfer' has no attribute {name!r}")


def build_info() -> dict:
    """What this build is and what it runs on.

    Returns
    -------
    dict
        ``version``, ``compiled_isas``, ``available_isas``, ``detected_isa``, ``active_isa``,
        ``omp_max_threads``, ``openblas_config``, ``openblas_corename``,
        ``openblas_num_threads``, ``openblas_library`` (the file the dynamic linker bound
        ccinfer's BLAS calls to), ``compiler``, ``dchecks`` (whether this build checks
        its internal invariants: the CMake option ``CCINFER_DCHECK``).
    """
    return _core.build_info()


__all__ = [
    "CondMLP",
    "GRUStack",
    "GRUState",
    "Model",
    "Sequential",
    "TreeGatedLinear",
    "available_isas",
    "build_info",
    "from_onnx",
    "get_isa",
    "get_num_threads",
    "kernels",
    "load",
    "max_num_threads",
    "set_isa",
    "set_num_threads",
    "shipped_models",
]
