"""Kernels: the conditional products and the dense OpenBLAS baselines they are measured against.

Every function takes NumPy arrays that already have the documented dtype (float32 weights and
activations, int32 row indices), are C-contiguous and have the documented shape; anything else
raises ``ValueError``. Nothing is converted or copied. The GIL is released while computing.
"""

from __future__ import annotations

from ._core.kernels import cond_gemv, dense_gemm, dense_gemv

__all__ = ["cond_gemv", "dense_gemm", "dense_gemv"]
