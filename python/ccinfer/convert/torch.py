"""PyTorch modules into ccinfer models, read through their tensors only (nothing is executed;
a ``state_dict`` file is the caller's to load, with ``torch.load(path, weights_only=True)``).
torch is imported only when a module is actually given."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._arrays import as_float32_matrix
from ..gru import GRUStack
from .linear import linear_stack_from_numpy


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


def gru_stack_from_torch(
    gru, embedding=None, head=None, *, token_input: bool | None = None
) -> GRUStack:
    """A dense GRUStack from ``torch.nn.GRU`` or ``torch.nn.GRUCell``.

    Parameters
    ----------
    gru : torch.nn.GRU or torch.nn.GRUCell
        Unidirectional; ``bias=False`` gives zero biases; dropout between layers is a
        training-time effect and is ignored (inference). ``batch_first`` does not matter.
    embedding : torch.nn.Embedding, optional
        Token input through an embedding: the first layer's input weights become
        ``W_ih @ E.T`` (computed in float64, one rounding), so a token is still a column
        lookup. ``max_norm`` embeddings are refused.
    head : torch.nn.Linear, optional
        The output layer ``(V_out, hidden)``; None: the identity (the logits are the last
        layer's state).
    token_input : bool, optional
        Without an embedding: True if the GRU's input is a one-hot vector of
        ``input_size`` symbols (the token id is then the index of the 1), False (default)
        for float vector input. With an embedding it is always True.
    """
    from torch import nn

    if isinstance(gru, nn.GRU):
        if gru.bidirectional:
            raise ValueError("from_torch: bidirectional GRUs are not supported")
        n_layers = gru.num_layers
        names = [
            (f"weight_ih_l{k}", f"weight_hh_l{k}", f"bias_ih_l{k}", f"bias_hh_l{k}")
            for k in range(n_layers)
        ]
    elif isinstance(gru, nn.GRUCell):
        names = [("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    else:
        raise ValueError(f"from_torch: expected nn.GRU or nn.GRUCell, got {type(gru).__name__}")
    h = gru.hidden_size
    layers = []
    for w_ih, w_hh, b_ih, b_hh in names:
        layer = {
            "kind": "dense",
            "W_ih": as_float32_matrix(w_ih, getattr(gru, w_ih)),
            "W_hh": as_float32_matrix(w_hh, getattr(gru, w_hh)),
        }
        for name in (b_ih, b_hh):
            b = getattr(gru, name, None)
            key = "b_ih" if name == b_ih else "b_hh"
            layer[key] = np.zeros(3 * h, np.float32) if b is None else as_float32_matrix(name, b)
        layers.append(layer)
    if embedding is not None:
        if not isinstance(embedding, nn.Embedding):
            raise ValueError(
                f"from_torch: embedding must be nn.Embedding, got {type(embedding).__name__}"
            )
        if embedding.max_norm is not None:
            raise ValueError(
                "from_torch: embeddings with max_norm rescale rows at lookup "
                "time and are not supported"
            )
        if token_input is False:
            raise ValueError("from_torch: an embedding implies token input")
        E = as_float32_matrix("embedding", embedding.weight).astype(np.float64)
        if E.shape[1] != gru.input_size:
            raise ValueError(
                f"from_torch: embedding width {E.shape[1]} != GRU input_size {gru.input_size}"
            )
        layers[0]["W_ih"] = (layers[0]["W_ih"].astype(np.float64) @ E.T).astype(np.float32)
        token_input = True
    token_input = bool(token_input)
    if head is None:
        output = (np.eye(h, dtype=np.float32), np.zeros(h, np.float32))
    else:
        if not isinstance(head, nn.Linear):
            raise ValueError(f"from_torch: head must be nn.Linear, got {type(head).__name__}")
        W = as_float32_matrix("head weight", head.weight)
        b = (
            np.zeros(W.shape[0], np.float32)
            if head.bias is None
            else as_float32_matrix("head bias", head.bias)
        )
        output = (W, b)
    return GRUStack(layers, output, token_input=token_input)
