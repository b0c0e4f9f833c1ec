"""The training reference's character-model arrays as `GRUStack` layer dicts (NumPy only).

`ccinfer.train.gru.CharLM.export_numpy()` gives the inference arrays of a trained model with
batch norm folded in (``layers.{i}.*``, ``output.weight``, ``output.bias``; names and maths in
`ccinfer.train.gru.CondGRUCell.export_numpy`). This module turns them into the engine's layer
dicts (docs/format.md): the conditional kinds stack ``r`` and ``n`` rows, and the block kind
keeps one z scale and shift per block. It imports no model class, so both `GRUStack`
(``from_char_lm``) and `ccinfer.char_lm` (files, evaluation) build on it without a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

GATES = ("dense", "lowrank", "block")


def block_affine(W_z: np.ndarray, b_z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-block scale and shift from the trainer's folded ``(h, g)`` block expansion.

    Unit ``i`` of block ``j`` has ``z = cliptanh(W_z[i, j] z^lr[j] + b_z[i])``; the engine's
    block kind has one scale and shift per block, so every unit of a block must carry the same
    pair (anything else is a ValueError, never silently averaged).
    """
    h, g = W_z.shape
    if g == 0 or h % g:
        raise ValueError(f"block W_z of shape {W_z.shape}: rows are not a multiple of columns")
    expected = np.repeat(np.eye(g, dtype=bool), h // g, axis=0)
    if np.any(W_z[~expected] != 0):
        raise ValueError("block W_z is not a block expansion (non-zero off its block)")
    scale = W_z[expected].reshape(g, h // g)
    shift = np.asarray(b_z).reshape(g, h // g)
    if np.any(scale != scale[:, :1]) or np.any(shift != shift[:, :1]):
        raise ValueError("block W_z / b_z differ within a block: the block structure is lost")
    return scale[:, 0].copy(), shift[:, 0].copy()


def _array(arrays: Mapping, key: str) -> np.ndarray:
    if key not in arrays:
        raise ValueError(f"character model export: missing array {key!r}")
    return np.asarray(arrays[key])


def layer_from_export(arrays: Mapping, i: int, gate: str) -> dict:
    """The `GRUStack` layer dict of export layer ``i`` of a model with gate kind ``gate``."""
    if gate not in GATES:
        raise ValueError(f"character model export: gate must be one of {GATES}, got {gate!r}")
    p = f"layers.{i}."

    def a(name: str) -> np.ndarray:
        return _array(arrays, p + name)

    if gate == "dense":
        return {"kind": "dense", **{k: a(k) for k in ("W_ih", "W_hh", "b_ih", "b_hh")}}
    layer = {
        "kind": gate,
        "W_ih": np.concatenate([a("W_ir"), a("W_in")]),
        "W_hh": np.concatenate([a("U_hr"), a("U_hn")]),
        "b_ih": np.concatenate([a("b_ir"), a("b_in")]),
        "b_hh": np.concatenate([a("b_hr"), a("b_hn")]),
        "W_zl": a("W_zl"),
        "U_zl": a("U_zl"),
        "b_zl": a("b_zl"),
    }
    if gate == "lowrank":
        layer.update(W_z=a("W_z"), b_z=a("b_z"))
    else:
        layer["z_scale"], layer["z_shift"] = block_affine(a("W_z"), a("b_z"))
    return layer


def layers_from_export(arrays: Mapping, gate: str, num_layers: int) -> tuple[list[dict], tuple]:
    """The `GRUStack` layer dicts and ``(W_out, b_out)`` of a character model's exported
    arrays (token input)."""
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"character model export: num_layers must be >= 1, got {num_layers!r}")
    layers = [layer_from_export(arrays, i, gate) for i in range(num_layers)]
    known = tuple(f"layers.{i}." for i in range(num_layers))
    extra = sorted(k for k in arrays if k.startswith("layers.") and not k.startswith(known))
    if extra:
        raise ValueError(f"character model export: arrays beyond layer {num_layers - 1}: {extra}")
    return layers, (_array(arrays, "output.weight"), _array(arrays, "output.bias"))
