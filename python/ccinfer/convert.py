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


#: The hidden activations a stack of dense layers may have (a CondMLP's is ReLU).
ACTIVATIONS = ("relu",)


def check_activation(fn: str, activation) -> None:
    """Weights alone do not say which activation sits between the layers (a GELU or tanh
    network has the same arrays as a ReLU one), so a route without modules makes the caller
    state it: anything but ``"relu"`` is refused instead of computing a different network."""
    if activation is None:
        raise ValueError(
            f"{fn}: arrays do not say which activation the network uses; pass "
            f"activation='relu' to state that every layer but the last is followed by a ReLU "
            f"and the last is linear (logits, no softmax)"
        )
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"{fn}: activation must be one of {list(ACTIVATIONS)} (a CondMLP computes ReLU "
            f"layers), got {activation!r}"
        )


def _pairs_from_state_dict(state: Mapping[str, object]) -> list[tuple[object, object]]:
    """Group ``<prefix><index>.weight`` / ``.bias`` keys by layer, in index order. Every key
    must share one prefix: two sub-networks with the same indices are refused, not merged."""
    layers: dict[int, dict[str, object]] = {}
    prefixes = set()
    for key, value in state.items():
        if not isinstance(key, str):
            raise ValueError(f"state_dict keys must be strings, got {key!r}")
        stem, _, kind = key.rpartition(".")
        head, _, index = stem.rpartition(".")
        if kind not in ("weight", "bias") or not (index.isascii() and index.isdigit()):
            raise ValueError(
                f"unexpected parameter {key!r}: expected '<prefix><index>.weight' "
                f"or '.bias' of dense layers"
            )
        prefixes.add(head)
        layers.setdefault(int(index), {})[kind] = value
    if len(prefixes) > 1:
        raise ValueError(
            f"parameters from several modules {sorted(prefixes)}: expected the layers of one "
            f"nn.Sequential"
        )
    pairs = []
    for index in sorted(layers):
        entry = layers[index]
        if set(entry) != {"weight", "bias"}:
            raise ValueError(f"layer {index}: needs both weight and bias, got {sorted(entry)}")
        pairs.append((entry["weight"], entry["bias"]))
    return pairs


def linear_stack_from_torch(module) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights and biases of an ``nn.Sequential`` of ``Linear`` and ``ReLU`` (``Dropout`` and
    ``Identity`` are skipped: they are the identity at inference; a leading ``Flatten`` is
    skipped too, since the engine's input is already ``(n, in)``).

    Every ``Linear`` but the last must be followed by a ``ReLU`` and the last by nothing;
    anything else (another activation, a softmax, a normalisation layer, a subclass of
    ``Linear`` or ``ReLU`` that may compute something else) is refused, naming the module.
    """
    if isinstance(module, Mapping):
        return linear_stack_from_numpy(module)
    try:
        from torch import nn
    except ImportError:
        nn = None
    if nn is None or not isinstance(module, nn.Module):
        raise ValueError(
            f"expected a torch.nn.Sequential (or its state_dict), got "
            f"{type(module).__module__}.{type(module).__qualname__}"
        )
    if type(module) is not nn.Sequential:
        raise ValueError(
            f"expected nn.Sequential or a state_dict, got {type(module).__name__}: a "
            f"module's forward() can compute anything, only nn.Sequential's order is known"
        )
    kinds = []
    pairs = []
    for name, child in module.named_children():
        kind = type(child).__name__
        if type(child) in (nn.Dropout, nn.Identity):
            continue
        if type(child) is nn.Flatten and not pairs and (child.start_dim, child.end_dim) == (1, -1):
            continue
        if type(child) is nn.Linear:
            if child.bias is None:
                raise ValueError(
                    f"module {name!r}: Linear layers without bias are not supported yet"
                )
            pairs.append((child.weight, child.bias))
            kinds.append("Linear")
        elif type(child) is nn.ReLU:
            kinds.append("ReLU")
        else:
            raise ValueError(
                f"unsupported layer {kind} (module {name!r}): a CondMLP is Linear layers "
                f"with ReLU between them and a linear output (softmax is left to the caller)"
            )
    expected = ["Linear", "ReLU"] * (len(pairs) - 1) + ["Linear"]
    if kinds != expected:
        raise ValueError(
            f"expected Linear, ReLU, ..., Linear (no ReLU after the last), got {', '.join(kinds)}"
        )
    return linear_stack_from_numpy(pairs)
