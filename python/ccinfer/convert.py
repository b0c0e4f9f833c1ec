"""Converters: weights exported from any trainer into ccinfer's layouts.

Everything ends as plain float32 NumPy arrays in PyTorch's ``nn.Linear`` layout (``weight`` of
shape ``(out, in)``), checked once here so the engine never sees a surprise. Nothing is
executed from a file: PyTorch objects are read through their tensors only, and ``state_dict``
files must be loaded by the caller (``torch.load(path, weights_only=True)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


def linear_stack_from_numpy(
    params: Mapping[str, object] | Sequence[tuple[object, object]],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights and biases of a stack of dense layers from plain arrays.

    Parameters
    ----------
    params : mapping or sequence
        Either a sequence of ``(weight, bias)`` pairs, or a mapping with keys
        ``layers.{i}.weight`` / ``layers.{i}.bias`` (also accepted: ``{i}.weight`` and any
        common prefix, as in a ``state_dict`` of ``nn.Sequential``). Weights are ``(out, in)``;
        a JAX/Keras kernel stored ``(in, out)`` must be transposed by the caller, since a
        square matrix cannot be told apart.

    Returns
    -------
    weights, biases : lists of float32 arrays, consecutive shapes checked.
    """
    if isinstance(params, Mapping):
        pairs = _pairs_from_state_dict(params)
    else:
        pairs = list(params)
    if not pairs:
        raise ValueError("linear_stack_from_numpy: no layers found")
    weights, biases = [], []
    for i, (w, b) in enumerate(pairs):
        w = as_float32_matrix(f"layer {i} weight", w)
        if w.ndim != 2:
            raise ValueError(f"layer {i} weight: expected 2-D (out, in), got shape {w.shape}")
        b = as_float32_matrix(f"layer {i} bias", b, (w.shape[0],))
        if weights and w.shape[1] != weights[-1].shape[0]:
            raise ValueError(
                f"layer {i} weight: input width {w.shape[1]} does not match the "
                f"previous layer's output width {weights[-1].shape[0]}"
            )
        weights.append(w)
        biases.append(b)
    return weights, biases


def _pairs_from_state_dict(state: Mapping[str, object]) -> list[tuple[object, object]]:
    """Group ``<prefix><index>.weight`` / ``.bias`` keys by layer, in index order."""
    layers: dict[int, dict[str, object]] = {}
    for key, value in state.items():
        stem, _, kind = key.rpartition(".")
        index = stem.rpartition(".")[2] if "." in stem else stem
        if kind not in ("weight", "bias") or not index.isdigit():
            raise ValueError(
                f"unexpected parameter {key!r}: expected '<prefix><index>.weight' "
                f"or '.bias' of dense layers"
            )
        layers.setdefault(int(index), {})[kind] = value
    pairs = []
    for index in sorted(layers):
        entry = layers[index]
        if set(entry) != {"weight", "bias"}:
            raise ValueError(f"layer {index}: needs both weight and bias, got {sorted(entry)}")
        pairs.append((entry["weight"], entry["bias"]))
    return pairs


def linear_stack_from_torch(module) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights and biases of an ``nn.Sequential`` of ``Linear`` and ``ReLU`` (``Dropout`` and
    ``Identity`` are skipped: they are the identity at inference), or of its ``state_dict``.

    Every ``Linear`` but the last must be followed by a ``ReLU``; anything else (another
    activation, a normalisation layer) is refused rather than silently dropped.
    """
    if isinstance(module, Mapping):
        return linear_stack_from_numpy(module)
    from torch import nn

    if not isinstance(module, nn.Sequential):
        raise ValueError(f"expected nn.Sequential or a state_dict, got {type(module).__name__}")
    kinds = []
    pairs = []
    for child in module:
        if isinstance(child, (nn.Dropout, nn.Identity)):
            continue
        if isinstance(child, nn.Linear):
            if child.bias is None:
                raise ValueError("Linear layers without bias are not supported yet")
            pairs.append((child.weight, child.bias))
            kinds.append("linear")
        elif isinstance(child, nn.ReLU):
            kinds.append("relu")
        else:
            raise ValueError(
                f"unsupported layer {type(child).__name__}: a CondMLP is Linear "
                f"layers with ReLU between them"
            )
    expected = ["linear", "relu"] * (len(pairs) - 1) + ["linear"]
    if kinds != expected:
        raise ValueError(
            f"expected Linear, ReLU, ..., Linear (no ReLU after the last), got {', '.join(kinds)}"
        )
    return linear_stack_from_numpy(pairs)
