"""Plain NumPy references for every kernel: slow, obvious, and what the tests trust."""

from __future__ import annotations

import numpy as np


def cond_gemv(W, x, rows=None, bias=None, out=None, *, mask=None):
    """``out[rows] = W[rows] @ x (+ bias[rows])``; other entries untouched (zero if new).
    ``mask`` (length m, non-zero = active) may be given instead of ``rows``."""
    out = np.zeros(W.shape[0], np.float32) if out is None else out
    if mask is not None:
        rows = np.flatnonzero(mask)
    y = W[rows].astype(np.float64) @ x.astype(np.float64)
    if bias is not None:
        y += bias[rows]
    out[rows] = y.astype(np.float32)
    return out


def cond_gemv_batch(W, X, mask=None, bias=None, out=None, *, indptr=None, indices=None):
    """``out[s, i] = X[s] @ W[i] (+ bias[i])`` for every ``(s, i)`` with ``mask[s, i]`` (or
    ``i`` in ``indices[indptr[s]:indptr[s + 1]]``); other entries untouched (zero if new)."""
    n, m = X.shape[0], W.shape[0]
    if mask is None:
        mask = np.zeros((n, m), bool)
        for s in range(n):
            mask[s, indices[indptr[s] : indptr[s + 1]]] = True
    out = np.zeros((n, m), np.float32) if out is None else out
    y = X.astype(np.float64) @ W.T.astype(np.float64)
    if bias is not None:
        y += bias
    on = np.asarray(mask) != 0
    out[on] = y[on].astype(np.float32)
    return out


def sparse_input_gemv(Wt, x, rows=None, bias=None, out=None):
    """``out = Wt.T @ x (+ bias)`` summed over the non-zero ``x[j]`` only (rows ``j`` of the
    transposed weights ``Wt`` (k, m)); with ``rows`` only ``out[rows]`` is written, the other
    entries untouched (zero if new)."""
    m = Wt.shape[1]
    out = np.zeros(m, np.float32) if out is None else out
    nz = np.flatnonzero(x)
    y = x[nz].astype(np.float64) @ Wt[nz].astype(np.float64)
    if bias is not None:
        y += bias
    rows = np.arange(m) if rows is None else rows
    out[rows] = y[rows].astype(np.float32)
    return out


def block_gated_gemm(W, X, gates, block, out=None):
    """``out[s, b*block:(b+1)*block] = X[s] @ W[b*block:(b+1)*block].T`` for every sample ``s``
    and block ``b`` with ``gates[s, b] > 0`` (dissertation fig. A.3); the other blocks are left
    untouched (zero if ``out`` is None)."""
    m = W.shape[0]
    if block < 1 or m % block:
        raise ValueError(f"block_gated_gemm: block must be >= 1 and divide m = {m}, got {block}")
    out = np.zeros((X.shape[0], m), np.float32) if out is None else out
    W64, X64 = W.astype(np.float64), X.astype(np.float64)
    for b in range(m // block):
        on = gates[:, b] > 0
        cols = slice(b * block, (b + 1) * block)
        out[on, cols] = (X64[on] @ W64[cols].T).astype(np.float32)
    return out


def sign_estimate(A, B, bias, x, tau=0.0):
    """Rows predicted active by the low-rank sign estimator, ``A @ (B @ x) + bias > tau``:
    int32 row numbers, ascending, for one sample ``x`` (k,); the (n, m) bool mask for ``X``
    (n, k). ``bias`` may be None (zero)."""
    x64 = np.asarray(x, np.float64)
    t = (x64 @ B.T.astype(np.float64)) @ A.T.astype(np.float64)
    if bias is not None:
        t += bias
    mask = t > tau
    return np.flatnonzero(mask).astype(np.int32) if x64.ndim == 1 else mask


def cond_mlp_masks(weights, biases, estimators, X):
    """Per hidden layer, ``(predicted, positive)`` boolean arrays (n, m): the estimator's
    selection and the units whose pre-activation is positive, along the conditional forward."""
    a = np.asarray(X, np.float64)
    out = []
    for i, (W, b, est) in enumerate(zip(weights, biases, estimators)):
        if i + 1 == len(weights):
            break
        z = a @ W.T.astype(np.float64) + b
        predicted = np.ones(z.shape, bool) if est is None else (
            (a @ est.B.T.astype(np.float64)) @ est.A.T.astype(np.float64) + b > est.tau)
        out.append((predicted, z > 0))
        a = np.maximum(z, 0) * predicted
    return out


def cond_mlp(weights, biases, estimators, X):
    """Logits of a CondMLP: hidden ``a' = relu(W a + b) * (A (B a) + b > tau)`` (no mask for a
    layer without estimator), output ``W a + b``. ``X`` is (in,) or (n, in)."""
    a = np.asarray(X, np.float64)
    for i, (W, b, est) in enumerate(zip(weights, biases, estimators)):
        z = a @ W.T.astype(np.float64) + b
        if i + 1 == len(weights):
            return z.astype(np.float32)
        if est is not None:
            z = z * ((a @ est.B.T.astype(np.float64)) @ est.A.T.astype(np.float64) + b > est.tau)
        a = np.maximum(z, 0)
    raise ValueError("cond_mlp: no layers")
