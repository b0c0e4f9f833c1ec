"""The one check every array passes on its way into a model: float, finite, the right shape,
C-contiguous float32. Models and converters both use it; it depends on nothing in ccinfer."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_float32_matrix(name: str, value, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``value`` as a C-contiguous float32 array, refusing anything lossy or malformed.

    float16/float32/float64 arrays and PyTorch tensors are accepted (float64 is narrowed to
    float32 explicitly: that is this function's documented job). Integer, complex or object
    arrays, wrong shapes and non-finite values raise ``ValueError``.
    """
    if hasattr(value, "detach"):  # a torch.Tensor, read without importing torch
        value = value.detach().cpu().float().numpy()
    array = np.asarray(value)
    if array.dtype.kind != "f":
        raise ValueError(f"{name}: expected a floating-point array, got dtype {array.dtype}")
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: contains NaN or Inf")
    return np.ascontiguousarray(array, dtype=np.float32)


def check_linear_stack(
    pairs: Sequence[tuple[object, object]],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(weight, bias)`` pairs of dense layers (weights ``(out, in)``) as float32 arrays, each
    checked by :func:`as_float32_matrix` and consecutive widths checked against each other."""
    if not pairs:
        raise ValueError("no layers found")
    weights: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    for i, (w, b) in enumerate(pairs):
        w = as_float32_matrix(f"layer {i} weight", w)
        if w.ndim != 2:
            raise ValueError(f"layer {i} weight: expected 2-D (out, in), got shape {w.shape}")
        if w.shape[0] != w.shape[1] and tuple(np.shape(b)) == (w.shape[1],):
            raise ValueError(
                f"layer {i} weight: shape {w.shape} with a bias of {w.shape[1]} looks like an "
                f"(in, out) kernel; weights here are (out, in) as in PyTorch. A scikit-learn "
                f"coefs_ or a Keras kernel is (in, out): use CondMLP.from_sklearn or "
                f"CondMLP.from_keras, or pass the transposes"
            )
        b = as_float32_matrix(f"layer {i} bias", b, (w.shape[0],))
        if weights and w.shape[1] != weights[-1].shape[0]:
            raise ValueError(
                f"layer {i} weight: input width {w.shape[1]} does not match the "
                f"previous layer's output width {weights[-1].shape[0]}"
            )
        weights.append(w)
        biases.append(b)
    return weights, biases
