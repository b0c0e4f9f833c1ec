"""Plain NumPy references for every kernel: slow, obvious, and what the tests trust."""

from __future__ import annotations

import numpy as np


def cond_gemv(W, x, rows, bias=None, out=None):
    """``out[rows] = W[rows] @ x (+ bias[rows])``; other entries untouched (zero if new)."""
    out = np.zeros(W.shape[0], np.float32) if out is None else out
    y = W[rows].astype(np.float64) @ x.astype(np.float64)
    if bias is not None:
        y += bias[rows]
    out[rows] = y.astype(np.float32)
    return out
