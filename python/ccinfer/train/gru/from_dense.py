"""From a trained dense GRU to a conditional one: `dense_char_lm` takes the dense weights in,
`conditional_from_dense` initialises a low-rank or block update gate from them, and
`ccinfer.train.gru.fit_char_lm` fine-tunes the result on the user's sequences.

The reset gate ``r``, the candidate ``n`` and the output layer are copied. Only the update gate
changes form. The dense gate (PyTorch's convention, ``z = 1`` keeps the state) takes the
fraction ``1 - sigmoid(a) = sigmoid(-a)`` of new state, with ``a = W_iz x + W_hz h + b_z``; the
conditional gate (``z = 0`` keeps the state) takes ``cliptanh(BN_s(W_z z^lr))``. The
initialisation makes ``BN_s``'s input an affine function of ``-a`` (the same ordering of units
and steps, so the same units open first), and chooses ``s`` so that a stated fraction of the
gates is open on the user's text:

- ``lowrank``: ``M = -[W_iz | W_hz]`` (h, d + h) is factored by its rank-``r`` truncated SVD
  (`ccinfer.estimator.truncated_svd`), ``M ~ A B``, balanced so that both factors carry the
  square roots of the singular values; ``W_z = A``, ``[W_zl | U_zl] = B``. The ReLU of the
  bottleneck would cut the negative half of ``B v`` (``v = [x; h]``), so ``b_zl`` is set to
  lift ``B v`` above zero on the calibration text (its minimum there, plus a margin): the ReLU is
  then the identity and ``W_z z^lr = A B v + const``. With ``rank >= min(h, d + h)`` this is
  ``-a`` up to a constant, exactly.
- ``block``: one gate per block of ``h / g`` units can only follow one value per block: the
  bottleneck row of block ``j`` is the mean of ``M``'s rows over the block's units (the
  best constant-per-block fit of ``-a`` in least squares), lifted above zero the same way.

Batch normalisation has no trainable scale or offset, so it fixes each unit's operating
point: in training every unit's ``W_z z^lr`` is normalised over the batch at every step to
mean 0 and variance 1, then shifted by ``s``. ``s`` is found by bisection so that the
conditional model's own run in training mode (each step's batch statistics, as fine-tuning
runs) opens the target fraction of gates on the calibration text; the running statistics are
then set to the average of that run's per-step statistics (what fine-tuning settles them to).

What does not carry over: the dense gate's per-unit offsets (a dense GRU has units that take
nearly all new state at every step and units that keep theirs; after normalisation every unit
opens about equally often) and its scale (an open conditional gate is ``tanh`` of a
standardised value, about 0.5, where the dense gate is often 0.99). Given the dense model's
own gate values the converted layer computes exactly the dense layer (the tests check it); with
its own gates it starts far from it. In eval mode (running statistics) a converted model can
also fall into a state where almost every gate stays shut from a zero state on, which training
mode's per-step statistics never show. `recipes/text/convert_dense.py` measures all of this on
the shipped 27-256-27 model against training the same model from scratch
(models/text/MODEL_CARD.md, "Converting the dense model").
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from ...estimator import truncated_svd
from .model import CharLM

# The lift of the bottleneck above its calibration minimum, in standard deviations of each
# row: text the calibration did not see may reach a little lower.
RELU_MARGIN = 3.0
# Bisection of s: the interval (batch normalisation leaves unit variance, so |s| > 4 opens or
# shuts nearly every gate) and the most halvings (a step of 8 / 2**14 in s).
SHIFT_RANGE = 4.0
SHIFT_STEPS = 14


def dense_char_lm(source, head=None) -> CharLM:
    """A dense `CharLM` holding the weights of a trained dense GRU with token input.

    Parameters
    ----------
    source : ccinfer.GRUStack, torch.nn.GRU, Mapping or CharLM
        - a dense token-input ``GRUStack`` (``ccinfer.load`` of a dense file,
          ``GRUStack.from_torch(gru, embedding, head)``, or what a converter produced); its
          output layer is the head;
        - a ``torch.nn.GRU`` whose input is one-hot over ``input_size`` symbols, or the
          ``state_dict()`` of one (``weight_ih_l0``, ...; biases required), with `head`;
        - a dense `CharLM` (copied).
        For a GRU fed by an ``nn.Embedding``, build the GRUStack with
        ``GRUStack.from_torch(gru, embedding=..., head=...)`` first: it folds the embedding
        into the first layer's input weights.
    head : torch.nn.Linear or (W, b), optional
        The output layer ``(vocab, hidden)`` for an ``nn.GRU`` or state dict (required there).

    Returns
    -------
    CharLM
        ``gate="dense"``, in eval mode; it computes what `source` computes.

    Raises
    ------
    ValueError
        If the source is not dense, not token input, or its output does not predict the same
        symbols it reads (a `CharLM` predicts the next input symbol).
    """
    from ...gru import GRUStack

    if isinstance(source, CharLM):
        if source.gru.gate != "dense":
            raise ValueError(f"dense_char_lm: the CharLM has gate {source.gru.gate!r}")
        source = GRUStack.from_char_lm(source)
    elif isinstance(source, nn.GRU) or isinstance(source, Mapping):
        source = _stack_from_torch(source, head)
    elif not isinstance(source, GRUStack):
        raise ValueError(
            "dense_char_lm: expected a GRUStack, torch.nn.GRU, GRU state dict or CharLM, "
            f"got {type(source).__name__}"
        )
    kinds = [layer["kind"] for layer in source.layers]
    if any(kind != "dense" for kind in kinds):
        raise ValueError(f"dense_char_lm: every layer must be dense, got {kinds}")
    if not source.token_input:
        raise ValueError("dense_char_lm: the GRU must read symbol ids (token input)")
    W_out, b_out = source.output
    if W_out.shape[0] != source.input_size:
        raise ValueError(
            f"dense_char_lm: the output predicts {W_out.shape[0]} symbols but the input has "
            f"{source.input_size}; a character model predicts its next input"
        )
    hidden = source.layers[0]["hidden"]
    widths = {layer["hidden"] for layer in source.layers}
    if len(widths) != 1:
        raise ValueError(f"dense_char_lm: layers of different widths {sorted(widths)}")
    model = CharLM(hidden, len(source.layers), "dense", vocab_size=source.input_size)
    with torch.no_grad():
        for i, cell in enumerate(model.gru.layers):
            arrays = source.layer_arrays(i)
            for name in ("W_ih", "W_hh", "b_ih", "b_hh"):
                target = getattr(cell, {"W": "weight", "b": "bias"}[name[0]] + name[1:])
                target.copy_(torch.from_numpy(np.asarray(arrays[name], np.float32)))
        model.output.weight.copy_(torch.from_numpy(np.asarray(W_out, np.float32)))
        model.output.bias.copy_(torch.from_numpy(np.asarray(b_out, np.float32)))
    return model.eval()


def _stack_from_torch(gru, head):
    """A one-hot-input dense GRUStack from an ``nn.GRU`` or its state dict and a head."""
    from ...gru import GRUStack

    if head is None:
        raise ValueError("dense_char_lm: an nn.GRU or state dict needs its head (vocab, hidden)")
    if isinstance(head, nn.Linear):
        W_out = head.weight.detach().numpy()
        b_out = np.zeros(W_out.shape[0], np.float32) if head.bias is None else head.bias.detach()
    elif isinstance(head, (tuple, list)) and len(head) == 2:
        W_out, b_out = head
    else:
        raise ValueError(f"dense_char_lm: head must be nn.Linear or (W, b), got {type(head)}")
    if isinstance(gru, nn.GRU):
        if gru.bidirectional or not gru.bias or gru.proj_size:
            raise ValueError("dense_char_lm: only unidirectional nn.GRUs with biases")
        gru = gru.state_dict()
    layers = []
    while f"weight_ih_l{len(layers)}" in gru:
        k = len(layers)
        names = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}
        missing = [f"{n}_l{k}" for n in names.values() if f"{n}_l{k}" not in gru]
        if missing:
            raise ValueError(f"dense_char_lm: the state dict lacks {missing}")
        layers.append(
            {"kind": "dense"}
            | {key: np.asarray(_numpy(gru[f"{n}_l{k}"]), np.float32) for key, n in names.items()}
        )
    if not layers:
        raise ValueError("dense_char_lm: the state dict has no 'weight_ih_l0'")
    return GRUStack(layers, (_numpy(W_out), _numpy(b_out)), token_input=True)


def _numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def conditional_from_dense(
    dense: CharLM,
    ids: np.ndarray,
    gate: str = "lowrank",
    rank: int = 16,
    density: float = 0.3,
    *,
    n_streams: int = 64,
    steps: int = 500,
    tolerance: float = 0.005,
) -> tuple[CharLM, dict]:
    """A conditional `CharLM` initialised from a trained dense one (see the module docstring).

    Parameters
    ----------
    dense : CharLM
        The trained dense model (`dense_char_lm` makes one from a GRUStack or an nn.GRU).
    ids : numpy.ndarray
        Calibration text as symbol ids (1-D): the user's training sequences. The first
        ``n_streams * steps`` symbols (or all, if fewer) are cut into `n_streams` streams of
        equal length and run side by side from a zero state.
    gate : {"lowrank", "block"}
        The conditional kind (`CondGRUCell`).
    rank : int
        Width of the bottleneck (``lowrank``) or number of gates (``block``; divides hidden).
    density : float
        Target fraction of update-gate values that are non-zero, in (0, 1): on the calibration
        text, in the model's own run in training mode (each step's batch statistics), the
        mode fine-tuning runs in. Eval mode may differ (see the module docstring).
    n_streams, steps : int
        Shape of the calibration run.
    tolerance : float
        How close to `density` (mean over layers) the search for ``s`` stops.

    Returns
    -------
    model : CharLM
        The conditional model, in eval mode, ready for `fit_char_lm`.
    info : dict
        ``shift`` (the ``s`` chosen); ``training_density`` (per layer, the density of the
        training-mode run at that ``s``) and ``density`` (per layer, in eval mode with the
        running statistics set, both on the calibration text); ``svd_energy`` (``lowrank``:
        per layer, the fraction of ``||M||_F^2`` the rank-``rank`` factors keep; else None);
        ``calibration_symbols``.

    Examples
    --------
    >>> import ccinfer                                                    # doctest: +SKIP
    >>> from ccinfer.train.gru import conditional_from_dense, dense_char_lm, fit_char_lm
    >>> dense = dense_char_lm(ccinfer.load("char-dense-h256"))            # doctest: +SKIP
    >>> model, info = conditional_from_dense(dense, train_ids, "lowrank", 16, density=0.4)
    >>> metrics = fit_char_lm(model, train_ids, valid_ids, updates=2000)
    >>> ccinfer.GRUStack.from_char_lm(model.eval()).save("mine.safetensors")
    """
    if not isinstance(dense, CharLM) or dense.gru.gate != "dense":
        raise ValueError("conditional_from_dense: needs a dense CharLM (see dense_char_lm)")
    if gate not in ("lowrank", "block"):
        raise ValueError(f"conditional_from_dense: gate must be 'lowrank' or 'block', got {gate!r}")
    if not 0.0 < density < 1.0:
        raise ValueError(f"conditional_from_dense: density must lie in (0, 1), got {density}")
    if n_streams < 2 or steps < 2 or not 0.0 < tolerance < 0.5:
        raise ValueError(
            f"conditional_from_dense: need n_streams >= 2, steps >= 2 and tolerance in "
            f"(0, 0.5), got {n_streams}, {steps}, {tolerance}"
        )
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) < 2 * n_streams:
        raise ValueError(
            f"conditional_from_dense: need a 1-D text of at least {2 * n_streams} ids, "
            f"got shape {ids.shape}"
        )
    length = min(steps, len(ids) // n_streams)
    streams = torch.from_numpy(np.asarray(ids[: n_streams * length], dtype=np.int64))
    streams = streams.view(n_streams, length).t().contiguous()  # (T, B)
    hidden, vocab = dense.gru.hidden_size, dense.vocab_size
    model = CharLM(hidden, dense.gru.num_layers, gate, rank, 0.0, vocab)  # validates rank
    pairs = zip(model.gru.layers, dense.gru.layers, strict=True)
    energy = [_init_z_path(new, old) for new, old in pairs]
    with torch.no_grad():
        model.output.load_state_dict(dense.output.state_dict())
    model.eval()
    _lift_and_normalise(model, _layer_inputs(dense, streams, False))
    _, training_density = _shift_for_density(model, streams, density, tolerance)
    _running_statistics(model, _layer_inputs(model, streams, True))
    trace: list[torch.Tensor] = []
    with torch.no_grad():
        model.gru(streams, None, trace)
    return model, {
        "shift": model.gru.shift,
        "density": [float(torch.count_nonzero(z)) / z.numel() for z in trace],
        "training_density": training_density,
        "svd_energy": energy if gate == "lowrank" else None,
        "calibration_symbols": int(streams.numel()),
    }


@torch.no_grad()
def _init_z_path(cell, dense_cell) -> float:
    """Copy ``r`` and ``n`` into a conditional cell and set its bottleneck from the dense
    update gate (``b_zl`` and the statistics come from `_calibrate`). Returns the fraction of
    ``||M||_F^2`` kept (1 for ``block``)."""
    h = cell.hidden_size
    rows = torch.cat([torch.arange(0, h), torch.arange(2 * h, 3 * h)])  # r, n of r, z, n
    cell.weight_ih.copy_(dense_cell.weight_ih[rows])
    cell.weight_hh.copy_(dense_cell.weight_hh[rows])
    cell.bias_ih.copy_(dense_cell.bias_ih[rows])
    cell.bias_hh.copy_(dense_cell.bias_hh[rows])
    # The conditional gate takes the fraction sigmoid(-a) of new state: follow -a.
    M = -torch.cat([dense_cell.weight_ih[h : 2 * h], dense_cell.weight_hh[h : 2 * h]], 1)
    M = M.double().numpy()
    if cell.gate == "lowrank":
        A, B = truncated_svd(M, cell.rank, dtype=np.float64)
        # Balance the factors (A = U S, B = V^T from the SVD): sqrt(S) on each side, so
        # neither starts orders of magnitude larger than the other when fine-tuning begins.
        norms = np.linalg.norm(A, axis=0)
        balance = np.sqrt(np.where(norms > 0, norms, 1.0))
        A, B = A / balance, B * balance[:, None]
        cell.weight_z.copy_(torch.from_numpy(A))
        kept = float(np.sum(norms**2) / max(np.sum(M**2), np.finfo(float).tiny))
    else:
        B = M.reshape(cell.rank, cell.block_size, -1).mean(axis=1)
        kept = 1.0
    d = cell.input_size
    cell.weight_zl_ih.copy_(torch.from_numpy(B[:, :d]))
    cell.weight_zl_hh.copy_(torch.from_numpy(B[:, d:]))
    cell.bias_zl.zero_()
    return kept


@torch.no_grad()
def _layer_inputs(
    model: CharLM, streams: torch.Tensor, training: bool
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every layer's input ``x_t`` and previous state ``h_{t-1}`` on a run of `model` over
    `streams` (T, B) from a zero state; with `training`, batch normalisation uses each step's
    batch statistics (as in fine-tuning), else the running ones."""
    was_training = model.training
    model.train(training)
    x, inputs = streams, []
    for cell in model.gru.layers:
        states, _ = cell(x)
        inputs.append((x, torch.cat([torch.zeros_like(states[:1]), states[:-1]])))
        x = states
    model.train(was_training)
    return inputs


@torch.no_grad()
def _lift_and_normalise(model: CharLM, inputs: list) -> None:
    """Set each layer's ``b_zl`` lift and batch-norm running statistics from the dense
    model's layer inputs."""
    for cell, (x, h_prev) in zip(model.gru.layers, inputs, strict=True):
        pre = cell.project_input(x)[..., 2 * cell.hidden_size :] + h_prev @ cell.weight_zl_hh.t()
        pre = pre.flatten(0, 1) - cell.bias_zl  # b_zl is 0 here; the lift replaces it
        cell.bias_zl.copy_(torch.clamp(RELU_MARGIN * pre.std(0) - pre.min(0).values, min=0.0))
        zlr = torch.relu(pre + cell.bias_zl)
        u = (zlr @ cell.weight_z.t() if cell.gate == "lowrank" else zlr).double()
        cell.bn.running_mean.copy_(u.mean(0))
        cell.bn.running_var.copy_(u.var(0))


@torch.no_grad()
def _shift_for_density(
    model: CharLM, streams: torch.Tensor, density: float, tolerance: float
) -> tuple[float, list[float]]:
    """The one ``s`` of all layers at which the model's own run in training mode (each step's
    batch statistics, as in fine-tuning) opens `density` of its gates, found by bisection.

    The gates change the states and the states the gates, so the density is measured on the
    run that ``s`` produces rather than predicted from another run's values: running statistics
    or a quantile taken from one run and applied to the next swung between 6% and 86% open
    gates from round to round on a small model.
    """
    was_training = model.training
    model.train()
    saved = [(c.bn.running_mean.clone(), c.bn.running_var.clone()) for c in model.gru.layers]
    low, high = -SHIFT_RANGE, SHIFT_RANGE
    for _ in range(SHIFT_STEPS):
        shift = 0.5 * (low + high)
        for cell in model.gru.layers:
            cell.shift = shift
        trace: list[torch.Tensor] = []
        model.gru(streams, None, trace)
        per_layer = [float(torch.count_nonzero(z)) / z.numel() for z in trace]
        measured = float(np.mean(per_layer))
        if abs(measured - density) <= tolerance:
            break
        low, high = (shift, high) if measured < density else (low, shift)
    for cell, (mean, var) in zip(model.gru.layers, saved, strict=True):  # training mode moved them
        cell.bn.running_mean.copy_(mean)
        cell.bn.running_var.copy_(var)
    model.train(was_training)
    return shift, per_layer


@torch.no_grad()
def _running_statistics(model: CharLM, inputs: list) -> None:
    """Running statistics as fine-tuning would settle them: the average over the steps of
    each step's batch mean and (unbiased) variance, on the conditional model's own run."""
    for cell, (x, h_prev) in zip(model.gru.layers, inputs, strict=True):
        pre = cell.project_input(x)[..., 2 * cell.hidden_size :] + h_prev @ cell.weight_zl_hh.t()
        zlr = torch.relu(pre)  # project_input added b_zl, the lift
        u = (zlr @ cell.weight_z.t() if cell.gate == "lowrank" else zlr).double()  # (T, B, n)
        cell.bn.running_mean.copy_(u.mean((0, 1)))
        cell.bn.running_var.copy_(u.var(1).mean(0))
