"""Small models and the functions worker processes run in test_travel.py (a module of its own so
that a spawned worker imports it without pytest's test module)."""

from __future__ import annotations

import itertools

import numpy as np

import ccinfer

TOKENS_BEFORE = [3, 1, 4, 1, 5, 9, 2, 6]
TOKENS_AFTER = [5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4]


def gru_layer(rng, kind: str, d: int, h: int, r: int) -> dict:
    """Random float weights of one layer, scaled like a trained GRU's (z half open)."""
    shapes = ccinfer.gru.layer_shapes(kind, d, h, r)
    layer: dict = {"kind": kind}
    for name, shape in shapes.items():
        if name == "z_scale":
            layer[name] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        else:
            fan_in = shape[1] if len(shape) == 2 else 4
            layer[name] = (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
    return layer


def small_gru(seed: int = 0, weights: str = "float32") -> ccinfer.GRUStack:
    """A 3-layer token model with one layer of each kind (27 symbols in and out)."""
    rng = np.random.default_rng(seed)
    layers = [
        gru_layer(rng, "lowrank", 27, 48, 6),
        gru_layer(rng, "block", 48, 64, 8),
        gru_layer(rng, "dense", 64, 32, 0),
    ]
    W = (rng.standard_normal((27, 32)) / 6).astype(np.float32)
    b = np.zeros(27, np.float32)
    return ccinfer.GRUStack(layers, (W, b), token_input=True, weights=weights)


def small_mlp(seed: int = 0) -> ccinfer.CondMLP:
    rng = np.random.default_rng(seed)
    sizes = [20, 64, 48, 5]
    weights = [
        (rng.standard_normal((m, k)) / np.sqrt(k)).astype(np.float32)
        for k, m in itertools.pairwise(sizes)
    ]
    biases = [(rng.standard_normal(m) * 0.1).astype(np.float32) for m in sizes[1:]]
    return ccinfer.CondMLP.from_dense(weights, biases, ranks=[8, 6], tau=[0.05, -0.02])


def continue_stream(
    model: ccinfer.GRUStack, state: ccinfer.GRUState, tokens: list[int]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Advance the stream by ``tokens``: the logits of every step and the state's arrays."""
    logits = np.stack([model.step(t, state=state) for t in tokens])
    return logits, [state.get_h(layer) for layer in range(state.num_layers)]


def step_state_only(
    path: str, state: ccinfer.GRUState, tokens: list[int]
) -> tuple[np.ndarray, ccinfer.GRUState]:
    """A worker that holds its own copy of the model (loaded from the file) and receives only
    the stream's state: what a service scaled out over processes does."""
    model = ccinfer.GRUStack.load(path)
    logits = np.stack([model.step(t, state=state) for t in tokens])
    return logits, state


def mlp_forward(model: ccinfer.CondMLP, X: np.ndarray) -> tuple[np.ndarray, list[str], str]:
    return model(X), model.plan, repr(model)
