# Types of ccinfer.kernels (documented in kernels.py, which re-exports the compiled functions:
# without this stub a type checker sees them as Any). Keep in step with cpp/bindings/bind_*.cpp.
from typing import Any

import numpy as np
import numpy.typing as npt

from .estimator import SignEstimator as SignEstimator

_F32 = npt.NDArray[np.float32]
_Rows = npt.NDArray[np.int32]
_Mask = npt.NDArray[np.bool_] | npt.NDArray[np.uint8]

def cond_gemv(
    W: _F32,
    x: _F32,
    rows: _Rows | None = None,
    bias: _F32 | None = None,
    out: _F32 | None = None,
    *,
    mask: _Mask | None = None,
) -> _F32: ...
def cond_gemv_batch(
    W: _F32,
    X: _F32,
    mask: _Mask | None = None,
    bias: _F32 | None = None,
    out: _F32 | None = None,
    *,
    indptr: _Rows | None = None,
    indices: _Rows | None = None,
) -> _F32: ...
def sparse_input_gemv(
    Wt: _F32,
    x: _F32,
    rows: _Rows | None = None,
    bias: _F32 | None = None,
    out: _F32 | None = None,
) -> _F32: ...
def block_gated_gemm(
    W: _F32,
    X: _F32,
    gates: _F32,
    block: int,
    out: _F32 | None = None,
    dense_threshold: float | None = None,
) -> _F32: ...
def block_gated_gemm_dense_threshold(isa: str | None = None) -> float: ...
def panel_gemm(W: _F32, X: _F32, samples: _Rows | None = None) -> _F32: ...
def dense_gemv(W: _F32, x: _F32, out: _F32 | None = None) -> _F32: ...
def dense_gemm(W: _F32, X: _F32, out: _F32 | None = None) -> _F32: ...
def kernel_list() -> list[dict[str, Any]]: ...
def memory_bandwidth(
    mb: float = 64.0, threads: int | None = None, repeats: int = 5
) -> dict[str, Any]: ...

__all__ = [
    "SignEstimator",
    "block_gated_gemm",
    "block_gated_gemm_dense_threshold",
    "cond_gemv",
    "cond_gemv_batch",
    "dense_gemm",
    "dense_gemv",
    "kernel_list",
    "memory_bandwidth",
    "panel_gemm",
    "sparse_input_gemv",
]
