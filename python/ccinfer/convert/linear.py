"""Dense layer stacks from plain arrays: ``(weight, bias)`` pairs or a ``state_dict``-like
mapping, and the activation a caller must state when arrays alone cannot say it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .._arrays import check_linear_stack


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
        a kernel stored ``(in, out)`` (Keras, scikit-learn) must go through its own converter
        or be transposed by the caller, since a square matrix cannot be told apart.

    Returns
    -------
    weights, biases : lists of float32 arrays, consecutive shapes checked.
    """
    for attribute, route in (("coefs_", "CondMLP.from_sklearn"), ("get_config", "from_keras")):
        if hasattr(params, attribute):
            raise ValueError(
                f"linear_stack_from_numpy: got a {type(params).__name__}, not arrays: use "
                f"{route}, which also reads its layout and activations"
            )
    pairs = _pairs_from_state_dict(params) if isinstance(params, Mapping) else list(params)
    if not pairs:
        raise ValueError("linear_stack_from_numpy: no layers found")
    return check_linear_stack(pairs)


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
