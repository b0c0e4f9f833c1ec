"""Character models from the training reference in the engine: the trainer's files, bits per
character, and steppers that feed real text to the interleaved timer (no PyTorch needed).

The conversion of the trainer's arrays to layer dicts is `ccinfer.char_export`;
`GRUStack.from_char_lm` converts a live module, `load_char_lm_export` the file the trainer
writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .char_export import GATES, block_affine, layer_from_export, layers_from_export
from .gru import GRUStack

__all__ = [
    "batch_stepper",
    "bits_per_char",
    "block_affine",
    "dense_like",
    "layer_from_export",
    "load_char_lm_export",
    "stack_from_export",
    "stream_stepper",
]


def stack_from_export(arrays: Mapping, gate: str, num_layers: int) -> GRUStack:
    """A token-input `GRUStack` from a character model's exported arrays."""
    layers, output = layers_from_export(arrays, gate, num_layers)
    return GRUStack.from_numpy(layers, output, token_input=True)


def load_char_lm_export(path: str | Path) -> tuple[GRUStack, dict]:
    """Read a trainer's ``<name>.safetensors`` (recipes/text/train_char_models.py).

    Returns
    -------
    model : GRUStack
    metadata : dict
        The file's metadata, with ``config`` parsed from JSON.
    """
    from safetensors import SafetensorError, safe_open
    from safetensors.numpy import load_file

    from .io import config_int, config_object, config_str, parse_json

    try:
        with safe_open(str(path), "np") as f:
            meta = dict(f.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{path}: cannot read the export: {exc}") from None
    if "config" not in meta:
        raise ValueError(f"{path}: not a character model export (no 'config' metadata)")
    # The same bounded parse and checks as a model file's config.
    config = config_object(
        parse_json(path, meta["config"], "metadata 'config'"),
        "export config",
        {"gate", "num_layers"},
        None,
    )
    num_layers = config_int(config["num_layers"], "export config 'num_layers'", 1, 1024)
    gate = config_str(config["gate"], "export config 'gate'", GATES)
    model = stack_from_export(tensors, gate, num_layers)
    return model, {**meta, "config": config}


def bits_per_char(model: GRUStack, ids: np.ndarray) -> float:
    """Cross-entropy of predicting ``ids[t + 1]`` from ``ids[: t + 1]``, in bits per symbol, one
    stream from a zero state (the model's own state is not touched)."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"bits_per_char: need a 1-D sequence of at least 2 ids, got {ids.shape}")
    logits = model.run(ids[:-1].astype(np.int32)).astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(ids) - 1), ids[1:]].mean() / np.log(2))


def stream_stepper(model: GRUStack, tokens: np.ndarray, warm: int = 0):
    """``fn(i)``: one step of a stream of `model` through ``tokens[warm:]`` (cycling), for
    `ccinfer.timing.compare`: the masks come from the model on real text and change every
    call. The stream first reads ``tokens[:warm]``, so timing starts from a running state
    (from a zero state a trained model may keep most gates shut for a while)."""
    if not 0 <= warm < len(tokens):
        raise ValueError(f"stream_stepper: warm must be in [0, {len(tokens)}), got {warm}")
    state = model.new_state()
    if warm:
        model.run(np.asarray(tokens[:warm], dtype=np.int32), state=state)
    ids = [int(t) for t in tokens[warm:]]
    return lambda i: model.step(ids[i % len(ids)], state=state)


def batch_stepper(model: GRUStack, tokens: np.ndarray, n: int, warm: int = 0):
    """``fn(i)``: one step of `n` streams of `model`; stream ``s`` reads its own stretch of
    `tokens` (``len(tokens) // n`` symbols from ``s * (len(tokens) // n)``), the first `warm`
    steps before timing (see `stream_stepper`), then cycles through the rest."""
    length = len(tokens) // n
    if length < 1:
        raise ValueError(f"batch_stepper: {len(tokens)} tokens cannot feed {n} streams")
    if not 0 <= warm < length:
        raise ValueError(f"batch_stepper: warm must be in [0, {length}), got {warm}")
    columns = np.asarray(tokens[: n * length], dtype=np.int32).reshape(n, length).T.copy()
    state = model.new_state(n)
    for t in range(warm):
        model.step(columns[t], state=state)
    rest = columns[warm:]
    return lambda i: model.step(rest[i % len(rest)], state=state)


def dense_like(model: GRUStack, seed: int = 0) -> GRUStack:
    """A dense token-input `GRUStack` with the layer widths and output of `model` and random
    weights: the timing reference for a conditional model without a trained dense control of
    its size (a dense step's time does not depend on the weights' values). Its weights are
    stored like `model`'s (float32 or float16), so both read the same bytes per row."""
    rng = np.random.default_rng(seed)

    def normal(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)

    layers, d = [], model.input_size
    for info in model.layers:
        h = info["hidden"]
        layers.append(
            {
                "kind": "dense",
                "W_ih": normal(3 * h, d),
                "W_hh": normal(3 * h, h),
                "b_ih": normal(3 * h),
                "b_hh": normal(3 * h),
            }
        )
        d = h
    return GRUStack(layers, model.output, token_input=True, weights=model.weights)
