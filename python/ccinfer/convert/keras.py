"""Keras 3 models (any backend) into ccinfer models, read through their layers' configs and
variables (nothing is executed). keras is imported only when a model is given.

- Dense layers with ReLU between them -> a :class:`CondMLP`; a last Dense's (or a trailing
  ``Softmax`` / ``Activation`` layer's) softmax, log_softmax or sigmoid becomes its
  ``output_activation``.
- An optional ``Embedding``, ``GRU`` layers (``reset_after=True``, the PyTorch maths) and an
  optional linear Dense head -> a dense :class:`GRUStack`.

``InputLayer`` and ``Dropout`` (the identity at inference) are skipped, and so is a
``Flatten`` before the first Dense (the engine takes inputs already flattened, in C order as
Keras' ``Flatten`` does). Any other layer is refused, naming it and its class.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from .._arrays import as_float32_matrix
from ..gru import GRUStack
from ..mlp import CondMLP

# Keras activation names -> the output activations a CondMLP can carry.
_OUTPUT_ACTIVATIONS = {
    "linear": "identity",
    "softmax": "softmax",
    "log_softmax": "log_softmax",
    "sigmoid": "sigmoid",
}


def from_keras(model, ranks=None, tau=0.0) -> CondMLP | GRUStack:
    """A CondMLP (a stack of Dense layers) or a dense GRUStack (GRU layers) computing what
    the Keras ``Sequential`` or functional ``model`` computes. ``ranks`` and ``tau`` add
    estimators to a CondMLP as in :meth:`CondMLP.from_dense` (a GRUStack takes none)."""
    layers = _chain(model)
    if any(_class(layer) == "GRU" for layer in layers):
        if ranks is not None:
            raise ValueError("from_keras: ranks are for Dense stacks; a GRU model has none")
        return _gru_stack(layers)
    return _mlp(layers, ranks, tau)


def mlp_from_keras(model, ranks=None, tau=0.0) -> CondMLP:
    """:func:`from_keras` for a model of Dense layers (a GRU model is refused)."""
    layers = _chain(model)
    for layer in layers:
        if _class(layer) in ("GRU", "Embedding"):
            raise ValueError(
                f"CondMLP.from_keras: layer {layer.name!r} ({_class(layer)}) makes this a "
                f"recurrent model: use GRUStack.from_keras"
            )
    return _mlp(layers, ranks, tau)


def gru_stack_from_keras(model) -> GRUStack:
    """:func:`from_keras` for a model with GRU layers."""
    return _gru_stack(_chain(model))


# ---- the model as a chain of layers ---------------------------------------------------------
def _class(layer) -> str:
    return type(layer).__name__


def _describe(layer) -> str:
    return f"layer {layer.name!r} ({type(layer).__module__}.{type(layer).__qualname__})"


def _chain(model) -> list:
    """The model's layers in order, checked to be one chain from one input to one output,
    with InputLayer and Dropout left out."""
    keras = sys.modules.get("keras")  # a Keras model means Keras is imported already
    if keras is None or not isinstance(model, keras.Model):
        raise ValueError(
            f"from_keras: expected a keras.Model (Sequential or functional), got "
            f"{type(model).__module__}.{type(model).__qualname__}"
        )
    if _class(model) not in ("Sequential", "Functional"):
        raise ValueError(
            f"from_keras: a subclassed keras.Model ({_class(model)}) computes what its call() "
            f"says; only Sequential and functional models have a readable order"
        )
    if not model.built:
        raise ValueError("from_keras: the model is not built (give it an Input or call it once)")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"from_keras: expected one input and one output, got {len(model.inputs)} and "
            f"{len(model.outputs)}"
        )
    chain = []
    previous = model.inputs[0]
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            source = layer.input
        except (AttributeError, ValueError) as e:  # a shared layer, or several inputs
            raise ValueError(
                f"from_keras: {_describe(layer)} is not one step of a chain: {e}"
            ) from None
        if source is not previous:
            raise ValueError(
                f"from_keras: {_describe(layer)} does not take the previous layer's output: "
                f"only a plain chain of layers is supported"
            )
        if layer.get_config().get("mask_zero"):  # checked here: the mask is the next input
            raise ValueError(
                f"from_keras: {_describe(layer)} has mask_zero=True: masked steps are "
                f"skipped by Keras but not by a stream that steps every token"
            )
        previous = layer.output
        if type(layer) is not keras.layers.Dropout:
            chain.append(layer)
    if previous is not model.outputs[0]:
        raise ValueError("from_keras: the model's output is not its last layer's")
    if not chain:
        raise ValueError("from_keras: the model has no layers")
    return chain


def _array(name: str, variable) -> np.ndarray:
    import keras

    return as_float32_matrix(name, keras.ops.convert_to_numpy(variable))


def _activation(layer) -> str:
    """The activation a Dense or Activation layer applies, by name ('linear', 'relu', ...)."""
    name = layer.get_config().get("activation")
    if not isinstance(name, str):
        raise ValueError(f"from_keras: {_describe(layer)} has a custom activation {name!r}")
    return name


def _check_plain(layer) -> None:
    """Refuse a quantized layer: its variables are not the float weights it computes with."""
    if getattr(layer, "quantization_mode", None) is not None:
        raise ValueError(
            f"from_keras: {_describe(layer)} is quantized ({layer.quantization_mode}); convert "
            f"the float model"
        )


def _dense(layer) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)`` of a Dense layer in the engine's ``(out, in)`` layout."""
    _check_plain(layer)
    if len(layer.input.shape) != 2:
        raise ValueError(
            f"from_keras: {_describe(layer)} takes inputs of shape {tuple(layer.input.shape)}: "
            f"a Dense layer of a CondMLP takes (batch, features) (Flatten first)"
        )
    W = _array(f"{layer.name} kernel", layer.kernel).T
    b = (
        _array(f"{layer.name} bias", layer.bias)
        if layer.use_bias
        else np.zeros(W.shape[0], np.float32)
    )
    return np.ascontiguousarray(W), b


def _activation_layer(layer) -> str | None:
    """The activation of a standalone activation layer, or None if it is not one."""
    kind = _class(layer)
    if kind == "Activation":
        return _activation(layer)
    if kind == "ReLU":
        cfg = layer.get_config()
        if (
            cfg.get("max_value") is None
            and not cfg.get("negative_slope")
            and not cfg.get("threshold")
        ):
            return "relu"
        raise ValueError(
            f"from_keras: {_describe(layer)} with max_value, negative_slope or threshold is "
            f"not a plain ReLU"
        )
    if kind == "Softmax":
        if layer.get_config().get("axis", -1) not in (-1, [-1]):
            raise ValueError(f"from_keras: {_describe(layer)}: softmax over an axis but the last")
        return "softmax"
    return None


def _mlp(layers: Sequence, ranks, tau) -> CondMLP:
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    activations: list[str] = []  # after each Dense: 'linear' until something follows
    last = None
    for layer in layers:
        kind = _class(layer)
        if kind == "Flatten" and not pairs:
            continue
        if kind == "Dense":
            pairs.append(_dense(layer))
            activations.append(_activation(layer))
            last = layer
            continue
        act = _activation_layer(layer)
        if act is None:
            raise ValueError(
                f"from_keras: unsupported {_describe(layer)}: a CondMLP is Dense layers with "
                f"ReLU between them (InputLayer, Dropout and a leading Flatten are skipped)"
            )
        if not pairs or activations[-1] != "linear":
            where = "before any Dense" if not pairs else f"after {last.name!r}'s {activations[-1]}"
            raise ValueError(f"from_keras: {_describe(layer)} applies {act} {where}")
        activations[-1] = act
        last = layer
    if not pairs:
        raise ValueError("from_keras: the model has no Dense layer")
    for i, act in enumerate(activations[:-1]):
        if act != "relu":
            raise ValueError(
                f"from_keras: hidden Dense layer {i} is followed by {act!r}: a CondMLP "
                f"computes ReLU hidden layers"
            )
    final = activations[-1]
    if final not in _OUTPUT_ACTIVATIONS:
        raise ValueError(
            f"from_keras: the last Dense layer's activation {final!r} is not supported (linear, "
            f"softmax, log_softmax or sigmoid)"
        )
    weights, biases = zip(*pairs, strict=True)
    return CondMLP.from_dense(
        list(weights),
        list(biases),
        ranks=ranks,
        tau=tau,
        output_activation=_OUTPUT_ACTIVATIONS[final],
    )


# ---- GRU models -----------------------------------------------------------------------------
def _gru_layer(layer) -> dict:
    """A Keras GRU (reset_after=True) as a dense GRUStack layer in PyTorch's layout.

    Keras keeps the gates in the order z, r, h in the columns of ``kernel`` (d, 3h) and
    ``recurrent_kernel`` (h, 3h), and with reset_after a bias (2, 3h): input bias, then
    recurrent bias. Its maths is then PyTorch's (the reset gate scales the recurrent term
    after its bias), so the gates are reordered to r, z, n and transposed to (3h, d).
    """
    cfg = layer.get_config()
    act, rec = cfg.get("activation"), cfg.get("recurrent_activation")
    refusals = [
        (
            cfg.get("reset_after") is not True,
            "reset_after=False (the reset gate applied before the recurrent product) is not "
            "the maths the engine computes; train with reset_after=True, the Keras default",
        ),
        (act != "tanh", f"activation {act!r} is not tanh"),
        (rec != "sigmoid", f"recurrent_activation {rec!r} is not sigmoid"),
        (bool(cfg.get("go_backwards")), "go_backwards=True runs the sequence in reverse"),
        (bool(cfg.get("stateful")), "stateful=True is not supported (streams keep the state)"),
        (bool(cfg.get("return_state")), "return_state=True gives two outputs"),
    ]
    for problem, message in refusals:
        if problem:
            raise ValueError(f"from_keras: {_describe(layer)}: {message}")
    _check_plain(layer)
    cell = layer.cell
    h = cfg["units"]
    kernel = _array(f"{layer.name} kernel", cell.kernel)
    recurrent = _array(f"{layer.name} recurrent_kernel", cell.recurrent_kernel)
    bias = (
        _array(f"{layer.name} bias", cell.bias)
        if cfg.get("use_bias", True)
        else np.zeros((2, 3 * h), np.float32)
    )
    if bias.shape != (2, 3 * h):
        raise ValueError(
            f"from_keras: {_describe(layer)} bias has shape {bias.shape}, expected (2, {3 * h})"
        )
    order = np.r_[h : 2 * h, 0:h, 2 * h : 3 * h]  # Keras z, r, h -> PyTorch r, z, n
    return {
        "kind": "dense",
        "W_ih": np.ascontiguousarray(kernel[:, order].T),
        "W_hh": np.ascontiguousarray(recurrent[:, order].T),
        "b_ih": np.ascontiguousarray(bias[0, order]),
        "b_hh": np.ascontiguousarray(bias[1, order]),
    }


def _gru_stack(layers: Sequence) -> GRUStack:
    rest = list(layers)
    embedding = None
    if rest and _class(rest[0]) == "Embedding":
        embedding = rest.pop(0)
        _check_plain(embedding)
    grus = []
    while rest and _class(rest[0]) == "GRU":
        grus.append(rest.pop(0))
    if not grus:
        first = rest[0] if rest else embedding
        raise ValueError(
            f"from_keras: expected GRU layers, found {_describe(first)} (a model of Dense "
            f"layers is a CondMLP: CondMLP.from_keras)"
        )
    for layer in grus[:-1]:
        if not layer.get_config().get("return_sequences"):
            raise ValueError(
                f"from_keras: {_describe(layer)} feeds another GRU with return_sequences=False"
            )
    head = None
    if rest and _class(rest[0]) == "Dense":
        head = rest.pop(0)
    if rest:
        raise ValueError(
            f"from_keras: unsupported {_describe(rest[0])}: a GRU model is an optional "
            f"Embedding, GRU layers and an optional linear Dense head"
        )
    stack = [_gru_layer(layer) for layer in grus]
    if embedding is not None:
        # A token's embedding row through the first layer's input weights: one column of
        # W_ih @ E.T (float64, one rounding), so a token stays a column lookup.
        E = _array(f"{embedding.name} embeddings", embedding.embeddings).astype(np.float64)
        W = stack[0]["W_ih"].astype(np.float64)
        if E.shape[1] != W.shape[1]:
            raise ValueError(f"from_keras: embedding width {E.shape[1]} != GRU input {W.shape[1]}")
        stack[0]["W_ih"] = (W @ E.T).astype(np.float32)
    h = grus[-1].get_config()["units"]
    if head is None:
        output = (np.eye(h, dtype=np.float32), np.zeros(h, np.float32))
    else:
        act = _activation(head)
        if act != "linear":
            raise ValueError(
                f"from_keras: {_describe(head)} applies {act!r}: a GRUStack's outputs are "
                f"logits; build the head with activation=None (a softmax keeps its argmax "
                f"and sampling from softmax(logits) is what GRUStack.generate does)"
            )
        _check_plain(head)
        W = _array(f"{head.name} kernel", head.kernel).T
        b = _array(f"{head.name} bias", head.bias) if head.use_bias else np.zeros(W.shape[0])
        output = (np.ascontiguousarray(W), b)
    return GRUStack(stack, output, token_input=embedding is not None)
