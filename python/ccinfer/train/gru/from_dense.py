"""From a trained dense GRU to a conditional one: `dense_char_lm` takes the dense weights in,
`conditional_from_dense` initialises a low-rank or block update gate from them, and
`ccinfer.train.gru.fit_char_lm` fine-tunes the result on the user's sequences, distilling from
the dense model while a `DensitySchedule` shuts the gates gradually.

The reset gate ``r``, the candidate ``n`` and the output layer are copied. Only the update gate
changes form. The dense gate (PyTorch's convention, ``z = 1`` keeps the state) takes the
fraction ``1 - sigmoid(a) = sigmoid(-a)`` of new state, with ``a = W_iz x + W_hz h + b_z``; the
conditional gate (``z = 0`` keeps the state) takes ``cliptanh(BN_s(W_z z^lr))``. The
initialisation makes ``W_z z^lr`` an affine function of ``-a`` as far as the rank allows, then
fits batch normalisation's per-unit scale and offset (the model has ``affine=True``) so that
the conditional gate takes about the same fraction of new state as the dense one:

- ``lowrank``: ``M = -[W_iz | W_hz]`` (h, d + h) is factored by its rank-``r`` truncated SVD
  (`ccinfer.estimator.truncated_svd`), ``M ~ A B``, balanced so that both factors carry the
  square roots of the singular values; ``W_z = A``, ``[W_zl | U_zl] = B``. The ReLU of the
  bottleneck would cut the negative half of ``B v`` (``v = [x; h]``), so ``b_zl`` is set to
  lift ``B v`` above zero on the calibration text (its minimum there, plus a margin): the ReLU is
  then the identity and ``W_z z^lr = A B v + const``. With ``rank >= min(h, d + h)`` this is
  ``-a`` up to a constant, exactly.
- ``block``: one gate per block of ``h / g`` units can only follow one value per block: the
  bottleneck row of block ``j`` is the mean of ``M``'s rows over the block's units (the
  best constant-per-block fit of ``-a`` in least squares), lifted above zero the same way, and
  the gate is fitted to the block's mean fraction of new state.
- The running statistics are those of ``W_z z^lr`` on the dense model's run over the
  calibration text; ``gamma, beta`` per unit are fitted in least squares to the dense gate's
  fraction of new state (a linear fit of ``atanh`` of it, then the clipped tanh itself), and
  ``s = 0``.

At full rank the converted 27-256-27 character model is within 0.02 bits per character of the
dense one with 92% of its gates open; the dense model leaves hardly any gate shut, so that is
where a conversion starts. Shutting gates by lowering ``s`` alone costs the dense model's
weights dearly (a few percent more shut gates cost it tenths of a bit per character):
fine-tuning has to teach the model to keep state, which `fit_char_lm` does with the schedule
and the teacher. `recipes/text/convert_dense.py` measures this on the shipped 27-256-27 model
against training the same conditional model from scratch (models/text/MODEL_CARD.md,
"Converting the dense model").
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from ...estimator import truncated_svd
from .cell import cliptanh
from .model import CharLM

# The lift of the bottleneck above its calibration minimum, in standard deviations of each
# row: text the calibration did not see may reach a little lower.
RELU_MARGIN = 3.0
# The gate fit: atanh's argument is kept below 1 for the linear start; then Adam on the
# gates' squared error (a few hundred steps settle it on a 256-unit layer).
GATE_CEILING = 0.999
FIT_STEPS = 300
FIT_LR = 0.02
FIT_SAMPLES = 4096


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
    *,
    n_streams: int = 64,
    steps: int = 500,
) -> tuple[CharLM, dict]:
    """A conditional `CharLM` initialised from a trained dense one (see the module docstring).

    The result computes nearly what the dense model computes, with nearly as many gates open;
    fine-tuning with `fit_char_lm` and a `DensitySchedule` then shuts them gradually, with
    the dense model as the teacher.

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
    n_streams, steps : int
        Shape of the calibration run.

    Returns
    -------
    model : CharLM
        The conditional model (``affine=True``, ``shift=0``), in eval mode, ready for
        `fit_char_lm`.
    info : dict
        Per layer, on the calibration text with the dense model's states: ``gate_error``
        (root mean square difference between the conditional gate and the dense gate's
        fraction of new state) and ``density`` (fraction of conditional gates open);
        ``svd_energy`` (``lowrank``: per layer, the fraction of ``||M||_F^2`` the rank-``rank``
        factors keep; else None); ``calibration_symbols``.

    Examples
    --------
    >>> import ccinfer                                                    # doctest: +SKIP
    >>> from ccinfer.train.gru import (
    ...     DensitySchedule, conditional_from_dense, dense_char_lm, fit_char_lm)
    >>> dense = dense_char_lm(ccinfer.load("char-dense-h256"))            # doctest: +SKIP
    >>> model, info = conditional_from_dense(dense, train_ids, "lowrank", 64)
    >>> metrics = fit_char_lm(model, train_ids, valid_ids, updates=2500, teacher=dense,
    ...                       density=DensitySchedule(0.5, anneal=1000), reset_every=20,
    ...                       stagger_resets=True)
    >>> ccinfer.GRUStack.from_char_lm(model.eval()).save("mine.safetensors")
    """
    if not isinstance(dense, CharLM) or dense.gru.gate != "dense":
        raise ValueError("conditional_from_dense: needs a dense CharLM (see dense_char_lm)")
    if gate not in ("lowrank", "block"):
        raise ValueError(f"conditional_from_dense: gate must be 'lowrank' or 'block', got {gate!r}")
    if n_streams < 2 or steps < 2:
        raise ValueError(
            f"conditional_from_dense: need n_streams >= 2 and steps >= 2, got {n_streams}, {steps}"
        )
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) < 2 * n_streams:
        raise ValueError(
            f"conditional_from_dense: need a 1-D text of at least {2 * n_streams} ids, "
            f"got shape {ids.shape}"
        )
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= dense.vocab_size):
        raise ValueError(
            f"conditional_from_dense: symbol ids must lie in 0..{dense.vocab_size - 1}"
        )
    length = min(steps, len(ids) // n_streams)
    streams = torch.from_numpy(np.asarray(ids[: n_streams * length], dtype=np.int64))
    streams = streams.view(n_streams, length).t().contiguous()  # (T, B)
    hidden, vocab = dense.gru.hidden_size, dense.vocab_size
    model = CharLM(hidden, dense.gru.num_layers, gate, rank, 0.0, vocab, affine=True)
    pairs = zip(model.gru.layers, dense.gru.layers, strict=True)
    energy = [_init_z_path(new, old) for new, old in pairs]
    with torch.no_grad():
        model.output.load_state_dict(dense.output.state_dict())
    model.eval()
    inputs = _layer_inputs(dense, streams)
    errors, densities = [], []
    layers = zip(model.gru.layers, dense.gru.layers, inputs, strict=True)
    for cell, dense_cell, (x, h_prev) in layers:
        normalised = _lift_and_normalise(cell, x, h_prev)
        error, density = _fit_gate(cell, normalised, _new_state_fraction(dense_cell, x, h_prev))
        errors.append(error)
        densities.append(density)
    return model, {
        "gate_error": errors,
        "density": densities,
        "svd_energy": energy if gate == "lowrank" else None,
        "calibration_symbols": int(streams.numel()),
    }


@torch.no_grad()
def _init_z_path(cell, dense_cell) -> float:
    """Copy ``r`` and ``n`` into a conditional cell and set its bottleneck from the dense
    update gate (``b_zl``, the statistics and the scale come from `_lift_and_normalise` and
    `_fit_gate`). Returns the fraction of
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
def _layer_inputs(dense: CharLM, streams: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every layer's input ``x_t`` and previous state ``h_{t-1}`` on the dense model's run over
    `streams` (T, B) from a zero state."""
    x, inputs = streams, []
    for cell in dense.gru.layers:
        states, _ = cell(x)
        inputs.append((x, torch.cat([torch.zeros_like(states[:1]), states[:-1]])))
        x = states
    return inputs


@torch.no_grad()
def _new_state_fraction(dense_cell, x: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
    """The dense gate's fraction of new state, ``1 - z = sigmoid(-a)``, (T * B, h)."""
    h = dense_cell.hidden_size
    a = dense_cell.project_input(x)[..., h : 2 * h] + h_prev @ dense_cell.weight_hh[h : 2 * h].t()
    return torch.sigmoid(-(a + dense_cell.bias_hh[h : 2 * h])).flatten(0, 1)


@torch.no_grad()
def _lift_and_normalise(cell, x: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
    """Set the cell's ``b_zl`` lift and its batch-norm running statistics on the dense model's
    layer inputs; return the normalised gate inputs ``(W_z z^lr - mu) / sigma``, (T * B, n)."""
    pre = cell.project_input(x)[..., 2 * cell.hidden_size :] + h_prev @ cell.weight_zl_hh.t()
    pre = pre.flatten(0, 1) - cell.bias_zl  # b_zl is 0 here; the lift replaces it
    cell.bias_zl.copy_(torch.clamp(RELU_MARGIN * pre.std(0) - pre.min(0).values, min=0.0))
    zlr = torch.relu(pre + cell.bias_zl)
    u = (zlr @ cell.weight_z.t() if cell.gate == "lowrank" else zlr).double()
    cell.bn.running_mean.copy_(u.mean(0))
    cell.bn.running_var.copy_(u.var(0))
    return ((u - u.mean(0)) / (u.var(0) + cell.bn.eps).sqrt()).float()


def _fit_gate(cell, normalised: torch.Tensor, fraction: torch.Tensor) -> tuple[float, float]:
    """Fit the batch norm's scale and offset so that ``cliptanh(gamma * u + beta)`` follows the
    dense gate's `fraction` of new state (per unit, or per block's mean for ``block``), in
    least squares. Returns the fit's root mean square error against the dense gate (per unit)
    and the fraction of gates it opens."""
    if cell.gate == "block":
        fraction_per_gate = fraction.view(len(fraction), cell.rank, cell.block_size).mean(2)
    else:
        fraction_per_gate = fraction
    # A linear start: tanh(gamma * u + beta) = fraction where the fraction is below 1.
    target = torch.atanh(fraction_per_gate.clamp(max=GATE_CEILING)).double()
    u = normalised.double()
    u_mean, t_mean = u.mean(0), target.mean(0)
    slope = ((u - u_mean) * (target - t_mean)).mean(0) / u.var(0, unbiased=False).clamp(min=1e-12)
    gamma = slope.float().clone().requires_grad_(True)
    beta = (t_mean - slope * u_mean).float().clone().requires_grad_(True)
    # Then the gate itself: the clipped tanh is flat below zero, which the linear fit ignores
    # (on evenly spaced samples: two parameters per unit need far fewer than a whole run).
    rows = torch.linspace(0, len(u) - 1, min(len(u), FIT_SAMPLES)).long()
    sample, sample_target = normalised[rows], fraction_per_gate[rows]
    optimiser = torch.optim.Adam([gamma, beta], lr=FIT_LR)
    with torch.enable_grad():  # also when the caller converts under torch.no_grad()
        for _ in range(FIT_STEPS):
            loss = ((cliptanh(gamma * sample + beta) - sample_target) ** 2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        cell.bn.weight.copy_(gamma)
        cell.bn.bias.copy_(beta)
        z = cliptanh(gamma * normalised + beta)
        if cell.gate == "block":
            z = z.repeat_interleave(cell.block_size, dim=1)
        error = float(((z - fraction) ** 2).mean().sqrt())
        return error, float(torch.count_nonzero(z)) / z.numel()
