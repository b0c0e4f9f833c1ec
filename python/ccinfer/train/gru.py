"""Training reference for the conditional GRU of Davis (2016), dissertation chapter 4.

A GRU in PyTorch's formulation and gate order ``r, z, n`` (``DESIGN.md`` section 2), with three
kinds of update gate ``z``:

``gate="dense"``
    A plain GRU, exactly ``torch.nn.GRU``::

        r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h                       # PyTorch: z = 1 keeps the state

``gate="lowrank"`` (unstructured sparsity) and ``gate="block"`` (block sparsity)
    ``r`` and ``n`` as above; the update gate goes through a bottleneck ``z^lr`` of width
    ``rank`` and the clipped tanh, and gates the *new* state (the dissertation's convention)::

        z^lr = relu(W_zl x + U_zl h + b_zl)            # width rank
        z    = cliptanh(BN_s(W_z z^lr))                # cliptanh(u) = tanh(max(u, 0))
        h'   = h + z * (n - h)                         # z = 0 keeps the state exactly

    With ``lowrank`` ``W_z`` (hidden, rank) is trained. With ``block`` it is the fixed block
    expansion of eq. 4.10: unit ``i`` copies ``z^lr[i // block_size]``, ``block_size =
    hidden / rank``, so a whole block of units is on or off for a sample; ``rank`` is then the
    dissertation's gating dimension. (The dissertation's ``b_z`` is left out: a bias before
    batch normalisation is cancelled by the mean; for ``block`` it is fixed at 0 anyway.)

``BN_s(u) = (u - mu) / sqrt(var + eps) + s`` per unit, without a trainable scale or offset
(``nn.BatchNorm1d(affine=False)``): the dissertation replaces the affine ``gamma, beta`` by the
hyper-parameter ``s``. The shift is *added*, so a negative ``s`` (0, -0.25, -0.5, -0.75 in the
experiments) moves more pre-activations below zero and makes ``z`` sparser: about
``P(N(0, 1) > -s)`` of the units are on, 23% at ``s = -0.75``. (Eq. 4.7 prints ``- s``, but
the dissertation's figures call the same number a bias ``beta`` and its results grow sparser
as ``s`` grows more negative, which only ``+ s`` gives.) In training the statistics are the
batch's, taken at every time step separately; in eval mode the running statistics, and then
``BN_s`` is an affine map per unit that `CondGRU.export_numpy` folds into ``W_z, b_z``. For the
block gate the statistics are taken over the ``rank`` gate values, which is the same as taking
them over the expanded units (all units of a block see the same values).

`CharLM` stacks such layers over one-hot characters with a linear output and a softmax;
`train_char_lm` trains it the dissertation's way (section 4.5.1) and `CharLMTrainer` holds the
resumable training state.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from ..datasets import TEXT_CORPORA, VOCAB, load_text, text_split

GATES = ("dense", "lowrank", "block")


def cliptanh(u: torch.Tensor) -> torch.Tensor:
    """The clipped tanh of eq. 4.6: ``tanh(max(u, 0))``, exactly 0 (and 0 gradient) for u <= 0.

    Parameters
    ----------
    u : torch.Tensor
        Pre-activations.

    Returns
    -------
    torch.Tensor
        Values in [0, 1] (1 only where tanh rounds to 1), same shape.
    """
    return torch.tanh(torch.relu(u))


class CondGRUCell(nn.Module):
    """One GRU layer with a dense, low-rank or block update gate (see the module docstring).

    Parameters, PyTorch's layout ``(out, in)``:

    - ``dense``: ``weight_ih`` (3h, d), ``weight_hh`` (3h, h), ``bias_ih``, ``bias_hh`` (3h,),
      rows in PyTorch's order ``r, z, n``, exactly ``nn.GRU``'s ``weight_ih_l0`` etc.
    - ``lowrank`` / ``block``: ``weight_ih`` (2h, d), ``weight_hh`` (2h, h), ``bias_ih``,
      ``bias_hh`` (2h,) holding the ``r, n`` rows; ``weight_zl_ih`` (rank, d),
      ``weight_zl_hh`` (rank, h), ``bias_zl`` (rank,); ``lowrank`` also ``weight_z``
      (h, rank). The batch-norm statistics are the buffers of ``bn`` (an
      ``nn.BatchNorm1d(affine=False)`` over h units for ``lowrank``, over ``rank`` gates for
      ``block``).

    Initialisation as in the dissertation: Glorot-uniform for every input-side matrix (each
    gate's block of rows separately, and ``weight_z``), orthogonal for every recurrent matrix
    (each gate's ``(h, h)`` block separately, and ``weight_zl_hh``), biases zero.

    Parameters
    ----------
    input_size : int
        Width ``d`` of the input.
    hidden_size : int
        Width ``h`` of the state.
    gate : {"dense", "lowrank", "block"}
        The kind of update gate.
    rank : int, optional
        Width of ``z^lr``: the rank of the bottleneck (``lowrank``) or the number of gates
        (``block``, must divide `hidden_size`). Ignored for ``dense``.
    shift : float
        The ``s`` of ``BN_s`` (added after normalising; negative is sparser).
    bn_momentum : float
        Momentum of the running batch-norm statistics, updated at every time step (0.01: an
        average over about the last 100 steps, two training sequences).
    bn_eps : float
        The ``eps`` of the normalisation.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        gate: str = "dense",
        rank: int | None = None,
        shift: float = 0.0,
        bn_momentum: float = 0.01,
        bn_eps: float = 1e-5,
    ):
        super().__init__()
        if gate not in GATES:
            raise ValueError(f"unknown gate {gate!r}; expected one of {GATES}")
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"sizes must be positive, got {input_size} -> {hidden_size}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.gate = gate
        self.shift = float(shift)
        self.close_unseen_gates = False  # see closed_gates; an inference choice, not saved
        h = hidden_size
        if gate == "dense":
            self.rank = 0
            gates = 3
        else:
            if rank is None or rank < 1:
                raise ValueError(f"gate {gate!r} needs a positive rank, got {rank}")
            if gate == "block" and h % rank:
                raise ValueError(f"block gate: rank (gating dim) {rank} must divide {h}")
            self.rank = int(rank)
            gates = 2
        self.weight_ih = nn.Parameter(torch.empty(gates * h, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates * h, h))
        self.bias_ih = nn.Parameter(torch.empty(gates * h))
        self.bias_hh = nn.Parameter(torch.empty(gates * h))
        if gate != "dense":
            self.weight_zl_ih = nn.Parameter(torch.empty(self.rank, input_size))
            self.weight_zl_hh = nn.Parameter(torch.empty(self.rank, h))
            self.bias_zl = nn.Parameter(torch.empty(self.rank))
            bn_units = h if gate == "lowrank" else self.rank
            self.bn = nn.BatchNorm1d(bn_units, eps=bn_eps, momentum=bn_momentum, affine=False)
        if gate == "lowrank":
            self.weight_z = nn.Parameter(torch.empty(h, self.rank))
        self.reset_parameters()

    @property
    def block_size(self) -> int:
        """Units per gate of the block gate (``hidden / rank``); 1 for the other kinds."""
        return self.hidden_size // self.rank if self.gate == "block" else 1

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Glorot-uniform input weights, orthogonal recurrent weights, zero biases."""
        h = self.hidden_size
        for g in range(self.weight_ih.shape[0] // h):
            nn.init.xavier_uniform_(self.weight_ih[g * h : (g + 1) * h])
            nn.init.orthogonal_(self.weight_hh[g * h : (g + 1) * h])
        nn.init.zeros_(self.bias_ih)
        nn.init.zeros_(self.bias_hh)
        if self.gate != "dense":
            nn.init.xavier_uniform_(self.weight_zl_ih)
            nn.init.orthogonal_(self.weight_zl_hh)
            nn.init.zeros_(self.bias_zl)
            self.bn.reset_running_stats()
        if self.gate == "lowrank":
            nn.init.xavier_uniform_(self.weight_z)

    def extra_repr(self) -> str:
        extra = f", rank={self.rank}, shift={self.shift}" if self.gate != "dense" else ""
        return f"{self.input_size}, {self.hidden_size}, gate={self.gate!r}{extra}"

    def _input_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All input-side rows in one matrix: ``r, z, n`` (dense) or ``r, n, zl``."""
        if self.gate == "dense":
            return self.weight_ih, self.bias_ih
        return (
            torch.cat([self.weight_ih, self.weight_zl_ih]),
            torch.cat([self.bias_ih, self.bias_zl]),
        )

    def _recurrent_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All recurrent rows in one matrix, matching `_input_weights` (``b_zl`` is input-side)."""
        if self.gate == "dense":
            return self.weight_hh, self.bias_hh
        return (
            torch.cat([self.weight_hh, self.weight_zl_hh]),
            torch.cat([self.bias_hh, self.bias_hh.new_zeros(self.rank)]),
        )

    def project_input(self, x: torch.Tensor) -> torch.Tensor:
        """The input half of every gate pre-activation, for all time steps at once.

        Parameters
        ----------
        x : torch.Tensor
            float inputs of shape (..., d), or integer symbol ids of shape (...) standing for
            one-hot vectors of width d. For ids, ``W x`` is the column ``W[:, id]``, looked up
            with ``F.embedding(ids, W.T)``: the same numbers as the product with the one-hot
            vector (every term but one is an exact zero), without the product.

        Returns
        -------
        torch.Tensor
            Shape (..., 3h) for ``dense`` (``r, z, n``), (..., 2h + rank) otherwise
            (``r, n, zl``).
        """
        weight, bias = self._input_weights()
        if x.dtype.is_floating_point:
            return F.linear(x, weight, bias)
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.input_size):
            raise ValueError(f"symbol ids must lie in 0..{self.input_size - 1}")
        return F.embedding(x, weight.t()) + bias

    def update_gate(self, zlr: torch.Tensor) -> torch.Tensor:
        """``z = cliptanh(BN_s(W_z z^lr))`` for the conditional kinds.

        Parameters
        ----------
        zlr : torch.Tensor
            The bottleneck ``z^lr``, shape (B, rank). In training mode the batch statistics
            are used (B must be at least 2) and the running statistics updated.

        Returns
        -------
        torch.Tensor
            ``z``, shape (B, h), in [0, 1] with exact zeros.
        """
        bn = self.bn
        u = F.linear(zlr, self.weight_z) if self.gate == "lowrank" else zlr
        u = F.batch_norm(
            u, bn.running_mean, bn.running_var, None, None, self.training, bn.momentum, bn.eps
        )
        if not self.training and self.close_unseen_gates:
            u = u.masked_fill(self.closed_gates(), float("-inf"))
        z = cliptanh(u + self.shift)
        if self.gate == "block":
            z = z.repeat_interleave(self.block_size, dim=1)
        return z

    def closed_gates(self) -> torch.Tensor:
        """Gates batch normalisation has (almost) only seen at 0: running variance below eps.

        Whole training batches with ``z^lr = 0`` have batch variance 0 (``u = 0``, off for
        ``s <= 0``) and pull the running variance towards 0, so with the running statistics
        such a gate becomes a hair trigger at inference, ``u = z^lr / sqrt(eps)``. Whether
        that matches training depends on the model: on the 27-1024-1024-27 block model after
        1000 updates (4 such gates in layer 2, open in 0.03-0.17% of training-mode steps) eval
        mode gave 6.8 bits per character against 2.0 in training mode, and 2.06 with them
        closed; on a 27-256-27 block model (block 32, s = -0.5, 2 such gates open in 0.8% of
        steps) closing them raised 2.8 to 6.3. With `close_unseen_gates` set (off by default,
        see `CharLM.close_unseen_gates`) eval mode and `export_numpy` keep them shut.

        Returns
        -------
        torch.Tensor
            bool, shape (h,) for ``lowrank``, (rank,) for ``block``.
        """
        return self.bn.running_var < self.bn.eps

    def step(
        self, xp: torch.Tensor, h: torch.Tensor, weights: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance the state one time step.

        Parameters
        ----------
        xp : torch.Tensor
            This step's `project_input`, shape (B, 3h) or (B, 2h + rank).
        h : torch.Tensor
            The state, shape (B, h).
        weights : tuple of torch.Tensor
            `_recurrent_weights()`, computed once per sequence.

        Returns
        -------
        h_new : torch.Tensor
            The new state, shape (B, h).
        z : torch.Tensor
            The update gate, shape (B, h) (for ``dense`` PyTorch's ``z``, 1 = keep).
        """
        w_hh, b_hh = weights
        hp = torch.addmm(b_hh, h, w_hh.t())
        n_h = self.hidden_size
        if self.gate == "dense":
            xr, xz, xn = xp.split(n_h, dim=1)
            hr, hz, hn = hp.split(n_h, dim=1)
            r = torch.sigmoid(xr + hr)
            z = torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            return n + z * (h - n), z  # ATen's order of operations for nn.GRU
        xr, xn, xzl = xp.split([n_h, n_h, self.rank], dim=1)
        hr, hn, hzl = hp.split([n_h, n_h, self.rank], dim=1)
        z = self.update_gate(torch.relu(xzl + hzl))
        r = torch.sigmoid(xr + hr)
        n = torch.tanh(xn + r * hn)
        return h + z * (n - h), z

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor | None = None, z_trace: list | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run a time-first sequence.

        Parameters
        ----------
        x : torch.Tensor
            (T, B, d) float inputs or (T, B) integer symbol ids (see `project_input`).
        h0 : torch.Tensor, optional
            Initial state (B, h); zeros if None.
        z_trace : list, optional
            If given, the update gates of all steps, shape (T, B, h), detached, are appended.

        Returns
        -------
        out : torch.Tensor
            The states after every step, (T, B, h).
        h_n : torch.Tensor
            The last state, (B, h).
        """
        xp = self.project_input(x)
        h = xp.new_zeros(xp.shape[1], self.hidden_size) if h0 is None else h0
        weights = self._recurrent_weights()
        states, gates = [], []
        for xp_t in xp.unbind(0):  # one backward node; indexing xp[t] would cost O(T^2)
            h, z = self.step(xp_t, h, weights)
            states.append(h)
            if z_trace is not None:
                gates.append(z.detach())
        if z_trace is not None:
            z_trace.append(torch.stack(gates) if gates else xp.new_zeros(0, *h.shape))
        out = torch.stack(states) if states else xp.new_zeros(0, *h.shape)
        return out, h

    @torch.no_grad()
    def export_numpy(self) -> dict[str, np.ndarray]:
        """The inference-time arrays of this layer, float32, C-contiguous.

        ``dense``: ``W_ih`` (3h, d), ``W_hh`` (3h, h), ``b_ih``, ``b_hh`` (3h,), rows in
        PyTorch's order ``r, z, n``; the step is the one in the module docstring.

        ``lowrank`` / ``block``: ``W_ir``, ``W_in`` (h, d); ``U_hr``, ``U_hn`` (h, h);
        ``b_ir``, ``b_in``, ``b_hr``, ``b_hn`` (h,); ``W_zl`` (rank, d), ``U_zl`` (rank, h),
        ``b_zl`` (rank,); and the folded gate map ``W_z`` (h, rank), ``b_z`` (h,). With the
        running statistics ``mu, var`` and ``a = 1 / sqrt(var + eps)`` (per unit for
        ``lowrank``, per gate for ``block``), eval mode computes
        ``BN_s(W_z z^lr) = a * (W_z z^lr - mu) + s``, so the folded map is
        ``W_z' = diag(a) W_z`` and ``b_z' = s - a * mu`` (for ``block``, row ``i`` of ``W_z'``
        holds ``a[j]`` in column ``j = i // block_size`` and zeros elsewhere, and
        ``b_z'[i] = s - a[j] mu[j]``: each block's rows are equal). With
        `close_unseen_gates`, a gate of `closed_gates` gets ``a = 0`` and ``b_z' = -1``. Then::

            z^lr = relu(W_zl x + U_zl h + b_zl)
            z    = tanh(max(W_z' z^lr + b_z', 0))
            r    = sigmoid(W_ir x + b_ir + U_hr h + b_hr)
            n    = tanh(W_in x + b_in + r * (U_hn h + b_hn))
            h'   = h + z * (n - h)

        reproduces the module in eval mode up to float32 rounding.

        Returns
        -------
        dict of str to numpy.ndarray
            The arrays by the names above.
        """

        def arr(t: torch.Tensor) -> np.ndarray:
            return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32)

        if self.gate == "dense":
            return {
                "W_ih": arr(self.weight_ih),
                "W_hh": arr(self.weight_hh),
                "b_ih": arr(self.bias_ih),
                "b_hh": arr(self.bias_hh),
            }
        h = self.hidden_size
        out = {
            "W_ir": arr(self.weight_ih[:h]),
            "W_in": arr(self.weight_ih[h:]),
            "U_hr": arr(self.weight_hh[:h]),
            "U_hn": arr(self.weight_hh[h:]),
            "b_ir": arr(self.bias_ih[:h]),
            "b_in": arr(self.bias_ih[h:]),
            "b_hr": arr(self.bias_hh[:h]),
            "b_hn": arr(self.bias_hh[h:]),
            "W_zl": arr(self.weight_zl_ih),
            "U_zl": arr(self.weight_zl_hh),
            "b_zl": arr(self.bias_zl),
        }
        mean = self.bn.running_mean.double()
        scale = (self.bn.running_var.double() + self.bn.eps).rsqrt()
        shift = self.shift - scale * mean
        if self.close_unseen_gates:  # always off: zero weights, negative offset
            closed = self.closed_gates()
            scale = scale.masked_fill(closed, 0.0)
            shift = shift.masked_fill(closed, -1.0)
        if self.gate == "lowrank":
            w_z = scale[:, None] * self.weight_z.double()
        else:
            expansion = torch.eye(self.rank, dtype=torch.float64)
            w_z = (expansion * scale).repeat_interleave(self.block_size, dim=0)
            shift = shift.repeat_interleave(self.block_size)
        out["W_z"] = arr(w_z.float())
        out["b_z"] = arr(shift.float())
        return out


class CondGRU(nn.Module):
    """A stack of `CondGRUCell` layers, called like ``torch.nn.GRU``.

    Parameters
    ----------
    input_size : int
        Width of the input (the vocabulary size when the input is symbol ids).
    hidden_size : int
        Width of every layer's state.
    num_layers : int
        Number of stacked layers; layer ``l + 1`` reads the states of layer ``l``.
    gate, rank, shift, bn_momentum :
        As for `CondGRUCell`, the same for every layer.
    batch_first : bool
        If True, inputs and outputs are (B, T, ...) instead of time-first (T, B, ...). The
        state ``h`` is (num_layers, B, h) either way, as in ``torch.nn.GRU``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        gate: str = "dense",
        rank: int | None = None,
        shift: float = 0.0,
        batch_first: bool = False,
        bn_momentum: float = 0.01,
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.gate = gate
        self.batch_first = batch_first
        self.layers = nn.ModuleList(
            CondGRUCell(
                input_size if i == 0 else hidden_size,
                hidden_size,
                gate,
                rank,
                shift,
                bn_momentum,
            )
            for i in range(num_layers)
        )

    @property
    def rank(self) -> int:
        """Width of ``z^lr`` (0 for ``dense``)."""
        return self.layers[0].rank

    @property
    def shift(self) -> float:
        """The ``s`` of ``BN_s``."""
        return self.layers[0].shift

    @classmethod
    @torch.no_grad()
    def from_torch_gru(cls, gru: nn.GRU) -> CondGRU:
        """A dense `CondGRU` holding a copy of the weights of a ``torch.nn.GRU``.

        Parameters
        ----------
        gru : torch.nn.GRU
            Unidirectional, with biases, no projections (``proj_size = 0``).

        Returns
        -------
        CondGRU
            ``gate="dense"``, same sizes and ``batch_first``; it computes what `gru` computes.
        """
        if gru.bidirectional or not gru.bias or gru.proj_size:
            raise ValueError("from_torch_gru: only unidirectional GRUs with biases")
        model = cls(gru.input_size, gru.hidden_size, gru.num_layers, batch_first=gru.batch_first)
        for i, cell in enumerate(model.layers):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(getattr(gru, f"{name}_l{i}"))
        return model

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor | None = None, z_trace: list | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run a sequence through all layers.

        Parameters
        ----------
        x : torch.Tensor
            (T, B, d) float inputs or (T, B) integer ids (B first with `batch_first`).
        h0 : torch.Tensor, optional
            Initial states (num_layers, B, h); zeros if None.
        z_trace : list, optional
            If given, one (T, B, h) tensor of update gates per layer is appended (time-first
            regardless of `batch_first`).

        Returns
        -------
        out : torch.Tensor
            The last layer's states, (T, B, h) (or (B, T, h)).
        h_n : torch.Tensor
            The last state of every layer, (num_layers, B, h).
        """
        if self.batch_first:
            x = x.transpose(0, 1)
        finals = []
        for i, cell in enumerate(self.layers):
            x, h = cell(x, None if h0 is None else h0[i], z_trace)
            finals.append(h)
        if self.batch_first:
            x = x.transpose(0, 1)
        return x, torch.stack(finals)

    def export_numpy(self, prefix: str = "layers") -> dict[str, np.ndarray]:
        """Every layer's `CondGRUCell.export_numpy` arrays, named ``{prefix}.{i}.{name}``."""
        return {
            f"{prefix}.{i}.{name}": value
            for i, cell in enumerate(self.layers)
            for name, value in cell.export_numpy().items()
        }


def z_density(z: torch.Tensor) -> float:
    """Fraction of update-gate values that are not exactly zero (the ``alpha`` of the cost model).

    Parameters
    ----------
    z : torch.Tensor
        Update gates of a conditional layer, any shape.

    Returns
    -------
    float
        ``count(z != 0) / z.numel()``.
    """
    return float(torch.count_nonzero(z)) / max(z.numel(), 1)


class CharLM(nn.Module):
    """Character language model: one-hot symbols, stacked GRU layers, linear output, softmax.

    The input is a symbol id, standing for a one-hot vector over the vocabulary; the first
    layer's ``W x`` is therefore a column lookup (see `CondGRUCell.project_input`), never a
    product. The output layer is an ``nn.Linear(hidden, vocab)`` giving logits; the loss is
    the cross-entropy of the softmax, and bits per character are the cross-entropy in nats
    divided by ``ln 2``.

    Parameters
    ----------
    hidden_size : int
        Width of every GRU layer.
    num_layers : int
        Number of GRU layers.
    gate, rank, shift :
        As for `CondGRUCell`.
    vocab_size : int
        Number of symbols (27 for `ccinfer.datasets.VOCAB`).
    """

    def __init__(
        self,
        hidden_size: int,
        num_layers: int = 1,
        gate: str = "dense",
        rank: int | None = None,
        shift: float = 0.0,
        vocab_size: int = len(VOCAB),
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.gru = CondGRU(vocab_size, hidden_size, num_layers, gate, rank, shift)
        self.output = nn.Linear(hidden_size, vocab_size)
        nn.init.xavier_uniform_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def close_unseen_gates(self, close: bool = True) -> list[int]:
        """Keep the gates of `CondGRUCell.closed_gates` shut in eval mode and in the export
        (every layer), or let the running statistics decide again (``close=False``).

        Returns
        -------
        list of int
            The number of such gates per layer.
        """
        counts = []
        for cell in self.gru.layers:
            cell.close_unseen_gates = bool(close)
            counts.append(int(cell.closed_gates().sum()) if cell.gate != "dense" else 0)
        return counts

    def config(self) -> dict:
        """The architecture as a JSON-able dict (what `CharLM(**config)` needs)."""
        return {
            "hidden_size": self.gru.hidden_size,
            "num_layers": self.gru.num_layers,
            "gate": self.gru.gate,
            "rank": self.gru.rank or None,
            "shift": self.gru.shift,
            "vocab_size": self.vocab_size,
        }

    def forward(
        self, ids: torch.Tensor, h0: torch.Tensor | None = None, z_trace: list | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits for the next symbol after every position.

        Parameters
        ----------
        ids : torch.Tensor
            int64 symbol ids, time-first (T, B).
        h0 : torch.Tensor, optional
            Initial states (num_layers, B, h); zeros if None.
        z_trace : list, optional
            See `CondGRU.forward`.

        Returns
        -------
        logits : torch.Tensor
            (T, B, vocab_size).
        h_n : torch.Tensor
            (num_layers, B, h).
        """
        out, h_n = self.gru(ids, h0, z_trace)
        return self.output(out), h_n

    def export_numpy(self) -> dict[str, np.ndarray]:
        """The inference-time arrays of the whole model, float32.

        Returns
        -------
        dict of str to numpy.ndarray
            ``layers.{i}.*`` for every GRU layer (see `CondGRUCell.export_numpy`; layer 0's
            input matrices have one column per symbol), ``output.weight`` (vocab, h) and
            ``output.bias`` (vocab,).
        """
        arrays = self.gru.export_numpy("layers")
        arrays["output.weight"] = np.ascontiguousarray(
            self.output.weight.detach().numpy(), dtype=np.float32
        )
        arrays["output.bias"] = np.ascontiguousarray(
            self.output.bias.detach().numpy(), dtype=np.float32
        )
        return arrays


@torch.no_grad()
def evaluate_char_lm(model: CharLM, ids: np.ndarray, n_streams: int = 64, chunk: int = 500) -> dict:
    """Bits per character and update-gate density of `model` (eval mode) on a text.

    The text is cut into `n_streams` contiguous pieces of equal length (the remainder of the
    division is dropped), run side by side from a zero state, `chunk` steps at a time with the
    state carried over. Every symbol but the first of each piece is predicted. In eval mode the
    batch-norm uses its running statistics, so the streams do not influence each other and the
    result is what a single stream through each piece would give.

    Parameters
    ----------
    model : CharLM
        The model; put in eval mode for the call, its mode restored after.
    ids : numpy.ndarray
        Symbol ids (N,), N >= 2 * n_streams.
    n_streams : int
        Pieces run in parallel.
    chunk : int
        Time steps per forward call.

    Returns
    -------
    dict
        ``bpc``: mean cross-entropy in bits per predicted symbol; ``symbols``: how many were
        predicted; ``z_density``: per layer, the fraction of non-zero update-gate values over
        all predicted positions (None for a dense GRU, whose gate is never exactly zero).
    """
    length = len(ids) // n_streams
    if length < 2:
        raise ValueError(f"evaluate_char_lm: {len(ids)} symbols are too few for {n_streams}")
    streams = torch.from_numpy(np.asarray(ids[: n_streams * length], dtype=np.int64))
    streams = streams.view(n_streams, length).t().contiguous()  # (T, B)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    n_layers = model.gru.num_layers
    nonzero = [0] * n_layers
    state = None
    for start in range(0, length - 1, chunk):
        x = streams[start : min(start + chunk, length - 1)]
        y = streams[start + 1 : start + 1 + len(x)]
        trace: list[torch.Tensor] = []
        logits, state = model(x, state, trace)
        total += float(F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum"))
        count += y.numel()
        for layer, z in enumerate(trace):
            nonzero[layer] += int(torch.count_nonzero(z))
    model.train(was_training)
    dense = model.gru.gate == "dense"
    units = count * model.gru.hidden_size
    return {
        "bpc": total / count / math.log(2),
        "symbols": count,
        "z_density": None if dense else [n / units for n in nonzero],
    }


class CharLMTrainer:
    """The resumable training state of a `CharLM`: model, Adam, text streams, carried state.

    Training follows the dissertation (section 4.5.1): the training text is cut into
    `batch_size` contiguous streams of equal length, read side by side; every update takes the
    next `seq_len` symbols of every stream, back-propagates through those steps only
    (truncated BPTT) and keeps the final state as the next update's initial state. The state
    is reset to zero every `reset_every` updates, and when the streams reach their end and
    start again from the beginning (an epoch). Adam with a constant learning rate; before
    each step the gradients are clipped to a global L2 norm of `clip_norm` (the dissertation
    does not say; this guards against the occasional exploding gradient of truncated BPTT
    without changing ordinary steps).

    Parameters
    ----------
    model : CharLM
        The model to train (in place).
    train_ids : numpy.ndarray
        The training text as symbol ids.
    seq_len : int
        Steps per update (truncated BPTT length).
    batch_size : int
        Parallel streams.
    lr : float
        Adam learning rate.
    clip_norm : float
        Maximum global gradient norm.
    reset_every : int
        The carried state is zeroed before updates 0, reset_every, 2 * reset_every, ...
    """

    def __init__(
        self,
        model: CharLM,
        train_ids: np.ndarray,
        seq_len: int = 50,
        batch_size: int = 64,
        lr: float = 1e-3,
        clip_norm: float = 1.0,
        reset_every: int = 1000,
    ):
        length = len(train_ids) // batch_size
        if length < seq_len + 1:
            raise ValueError(
                f"CharLMTrainer: {len(train_ids)} training symbols are too few for "
                f"{batch_size} streams of at least {seq_len + 1}"
            )
        if batch_size < 2 and model.gru.gate != "dense":
            raise ValueError("CharLMTrainer: batch normalisation needs batch_size >= 2")
        self.model = model
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.clip_norm = clip_norm
        self.reset_every = reset_every
        self.streams = torch.from_numpy(
            np.ascontiguousarray(np.asarray(train_ids[: batch_size * length], dtype=np.uint8))
        ).view(batch_size, length)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        self.step = 0
        self.adam_start = 0  # the update Adam's moments started from (a slim checkpoint's)
        self.pos = 0
        self.state: torch.Tensor | None = None

    def settings(self) -> dict:
        """The training hyper-parameters and the model config, for checkpoints and results."""
        return {
            "model": self.model.config(),
            "seq_len": self.seq_len,
            "batch_size": self.batch_size,
            "lr": self.optimizer.param_groups[0]["lr"],
            "clip_norm": self.clip_norm,
            "reset_every": self.reset_every,
            "stream_length": self.streams.shape[1],
        }

    def train_step(self) -> float:
        """One update on the next `seq_len` symbols of every stream.

        Returns
        -------
        float
            The mean cross-entropy (nats per symbol) of this update, before the step.
        """
        if self.pos + self.seq_len + 1 > self.streams.shape[1]:
            self.pos = 0
            self.state = None
        if self.step % self.reset_every == 0:
            self.state = None
        chunk = self.streams[:, self.pos : self.pos + self.seq_len + 1].t().long()
        self.model.train()
        logits, state = self.model(chunk[:-1], self.state)
        loss = F.cross_entropy(logits.flatten(0, 1), chunk[1:].flatten())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
        self.optimizer.step()
        self.state = state.detach()
        self.pos += self.seq_len
        self.step += 1
        return float(loss.item())

    def save(self, path: str | os.PathLike, extra: dict | None = None) -> None:
        """Write a checkpoint: ``<path>.safetensors`` (tensors) and ``<path>.json`` (the rest).

        The tensors are the model's state dict (``model.*``, batch-norm statistics included),
        Adam's moments and step counts (``optim.{i}.*``), the carried state (``state``) and
        PyTorch's RNG state (``rng``); the JSON holds the update count, the stream position,
        the settings, Adam's hyper-parameters and `extra`. No pickle. Both files are written to
        temporary names and renamed, the JSON last; `load` checks that the two belong together.

        Parameters
        ----------
        path : str or PathLike
            Checkpoint path without suffix.
        extra : dict, optional
            JSON-able data to keep with the checkpoint (metrics history, wall time).
        """
        path = Path(path)
        tensors = {f"model.{k}": v.contiguous() for k, v in self.model.state_dict().items()}
        optim = self.optimizer.state_dict()
        for index, values in optim["state"].items():
            for key, value in values.items():
                tensors[f"optim.{index}.{key}"] = value.contiguous()
        if self.state is not None:
            tensors["state"] = self.state.contiguous()
        tensors["rng"] = torch.get_rng_state()
        groups = [
            {k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
            for g in optim["param_groups"]
        ]
        meta = {
            "step": self.step,
            "adam_start": self.adam_start,
            "pos": self.pos,
            "settings": self.settings(),
            "param_groups": groups,
            "extra": extra or {},
        }
        tensor_file = path.with_name(path.name + ".safetensors")
        json_file = path.with_name(path.name + ".json")
        save_file(tensors, str(tensor_file) + ".tmp", metadata={"step": str(self.step)})
        json_file.with_name(json_file.name + ".tmp").write_text(json.dumps(meta, indent=1))
        os.replace(str(tensor_file) + ".tmp", tensor_file)
        os.replace(json_file.with_name(json_file.name + ".tmp"), json_file)

    def load(self, path: str | os.PathLike) -> dict:
        """Restore a checkpoint written by `save` into this trainer.

        Parameters
        ----------
        path : str or PathLike
            Checkpoint path without suffix.

        Returns
        -------
        dict
            The `extra` data saved with it.

        Raises
        ------
        ValueError
            If the checkpoint was written with other settings, or its two files do not match.
        """
        path = Path(path)
        meta = json.loads(path.with_name(path.name + ".json").read_text())
        tensors = load_file(str(path.with_name(path.name + ".safetensors")))
        mine = self.settings()
        if meta["settings"] != mine:
            raise ValueError(f"checkpoint {path}: settings {meta['settings']} differ from {mine}")
        optim_state: dict[int, dict[str, torch.Tensor]] = {}
        model_state = {}
        for name, value in tensors.items():
            kind, _, rest = name.partition(".")
            if kind == "model":
                model_state[rest] = value
            elif kind == "optim":
                index, _, key = rest.partition(".")
                optim_state.setdefault(int(index), {})[key] = value
        if len(optim_state) not in (0, len(list(self.model.parameters()))):
            raise ValueError(f"checkpoint {path}: optimiser state does not match the model")
        self.model.load_state_dict(model_state)
        groups = [
            {k: (tuple(v) if k == "betas" else v) for k, v in g.items()}
            for g in meta["param_groups"]
        ]
        self.optimizer.load_state_dict({"state": optim_state, "param_groups": groups})
        # Adam counts its own steps from where its moments started: 0, or the update of the
        # slim checkpoint (no moments) a run was resumed from.
        adam_start = int(meta.get("adam_start", 0)) if optim_state else int(meta["step"])
        steps = {int(v["step"]) for v in optim_state.values()}
        if steps and steps != {meta["step"] - adam_start}:
            raise ValueError(
                f"checkpoint {path}: tensors are from update {steps}, the JSON from "
                f"{meta['step']} (Adam started at {adam_start}; interrupted write?)"
            )
        self.step = meta["step"]
        self.adam_start = adam_start
        self.pos = meta["pos"]
        self.state = tensors.get("state")
        torch.set_rng_state(tensors["rng"])
        return meta["extra"]


def slim_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Copy a checkpoint without Adam's moments and with the model in float16.

    A slim checkpoint resumes like a full one (`CharLMTrainer.load`): the update count, stream
    position, carried state and RNG state are kept, the weights come back rounded to float16
    once, and Adam starts again from zero moments. A third of the size and half the precision
    of a full one: small enough to keep the 27-1024-1024-27 models' training state in the
    repository (13 MB instead of 80 MB each).

    Parameters
    ----------
    src, dst : str or PathLike
        Checkpoint paths without suffix (``.safetensors`` and ``.json`` are added).
    """
    src, dst = Path(src), Path(dst)
    tensors = load_file(str(src.with_name(src.name + ".safetensors")))
    meta = json.loads(src.with_name(src.name + ".json").read_text())
    slim = {
        name: (value.half() if name.startswith("model.") and value.is_floating_point() else value)
        for name, value in tensors.items()
        if not name.startswith("optim.")
    }
    meta["slim"] = True
    save_file(
        slim, str(dst.with_name(dst.name + ".safetensors")), metadata={"step": str(meta["step"])}
    )
    dst.with_name(dst.name + ".json").write_text(json.dumps(meta, indent=1))


def load_char_splits(
    data_dir: str | Path | None = None, corpus: str = "both", valid_fraction: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation text for a corpus, the last `valid_fraction` of each held out.

    Parameters
    ----------
    data_dir : str or Path, optional
        The shared data directory (see `ccinfer.datasets.load_text`).
    corpus : {"austen", "kjv", "both"}
        For ``"both"`` each corpus is split on its own and the parts are joined with a space
        (Austen first), so the validation text holds the end of both books rather than the
        end of the Bible alone.
    valid_fraction : float
        Fraction held out.

    Returns
    -------
    train, valid : numpy.ndarray
        uint8 symbol ids.
    """
    if corpus != "both":
        return text_split(load_text(data_dir, corpus), valid_fraction)
    space = np.zeros(1, dtype=np.uint8)
    (train_a, valid_a), (train_b, valid_b) = (
        text_split(load_text(data_dir, name), valid_fraction) for name in TEXT_CORPORA
    )
    return np.concatenate([train_a, space, train_b]), np.concatenate([valid_a, space, valid_b])


def train_char_lm(
    data_dir: str | Path | None = None,
    corpus: str = "both",
    hidden: int = 256,
    layers: int = 1,
    gate: str = "dense",
    rank: int | None = None,
    shift: float = 0.0,
    updates: int = 10000,
    seq_len: int = 50,
    batch_size: int = 64,
    lr: float = 1e-3,
    clip_norm: float = 1.0,
    reset_every: int = 1000,
    eval_every: int = 1000,
    eval_symbols: int = 64000,
    checkpoint_path: str | Path | None = None,
    checkpoint_every: int = 500,
    resume: bool = True,
    seed: int = 0,
    num_threads: int = 1,
    progress: bool = True,
) -> tuple[CharLM, dict]:
    """Train a character language model on ``text/`` the dissertation's way (section 4.5.1).

    See `CharLMTrainer` for the update; every `eval_every` updates the validation BPC and the
    update-gate densities are measured on the first `eval_symbols` symbols of the validation
    text, and at the end on all of it and on as many symbols from the start of the training
    text (all in eval mode, running batch-norm statistics). With `checkpoint_path` a checkpoint
    is written every `checkpoint_every` updates and at the end; with `resume` an existing
    checkpoint is loaded first and training continues from it up to `updates` in total (a
    finished checkpoint just re-evaluates).

    Parameters
    ----------
    data_dir : str or Path, optional
        The shared data directory.
    corpus : {"austen", "kjv", "both"}
        See `load_char_splits`.
    hidden, layers : int
        Width and number of GRU layers.
    gate : {"dense", "lowrank", "block"}
        Kind of update gate.
    rank : int, optional
        Bottleneck rank (``lowrank``) or gating dimension (``block``).
    shift : float
        The ``s`` of ``BN_s``.
    updates : int
        Total number of updates (including those of a resumed checkpoint).
    seq_len, batch_size, lr, clip_norm, reset_every :
        See `CharLMTrainer`.
    eval_every : int
        Updates between validation measurements.
    eval_symbols : int
        Validation symbols used by the periodic measurement.
    checkpoint_path : str or Path, optional
        Checkpoint path without suffix (``.safetensors`` and ``.json`` are added).
    checkpoint_every : int
        Updates between checkpoints.
    resume : bool
        Continue from `checkpoint_path` if it exists.
    seed : int
        Seeds the initialisation.
    num_threads : int
        PyTorch intra-op threads (`torch.set_num_threads`, process-wide).
    progress : bool
        Show a tqdm progress bar. A line per measurement is printed either way.

    Returns
    -------
    model : CharLM
        The trained model, in eval mode.
    metrics : dict
        ``history`` (per measurement: ``step``, ``train_bpc`` (mean training loss since the
        previous measurement, batch statistics), ``valid_bpc``, ``z_density``, ``seconds``),
        ``train_seconds`` (wall time of all sessions), ``updates``, ``valid`` and ``train``
        (`evaluate_char_lm` on all the validation text and on as much training text),
        ``settings``.
    """
    torch.set_num_threads(num_threads)
    train_ids, valid_ids = load_char_splits(data_dir, corpus)
    torch.manual_seed(seed)
    model = CharLM(hidden, layers, gate, rank, shift)
    trainer = CharLMTrainer(model, train_ids, seq_len, batch_size, lr, clip_norm, reset_every)
    extra: dict = {"history": [], "train_seconds": 0.0}
    if checkpoint_path is not None and resume:
        if Path(str(checkpoint_path) + ".json").exists():
            extra = trainer.load(checkpoint_path)
    name = gate if gate == "dense" else f"{gate}-{rank}-s{shift:g}"
    window, window_loss = 0, 0.0
    last_time = time.perf_counter()
    bar = tqdm(total=updates, initial=min(trainer.step, updates), desc=name, disable=not progress)
    while trainer.step < updates:
        window_loss += trainer.train_step()
        window += 1
        bar.update(1)
        now = time.perf_counter()
        extra["train_seconds"] += now - last_time
        last_time = now
        if trainer.step % eval_every == 0 or trainer.step == updates:
            result = evaluate_char_lm(model, valid_ids[:eval_symbols])
            extra["history"].append(
                {
                    "step": trainer.step,
                    "train_bpc": window_loss / window / math.log(2),
                    "valid_bpc": result["bpc"],
                    "z_density": result["z_density"],
                    "seconds": extra["train_seconds"],
                }
            )
            window, window_loss = 0, 0.0
            bar.set_postfix(valid_bpc=f"{result['bpc']:.3f}")
            density = result["z_density"]
            tqdm.write(
                f"{name} update {trainer.step}: train {extra['history'][-1]['train_bpc']:.3f}"
                f" valid {result['bpc']:.3f} BPC"
                + ("" if density is None else f", z density {np.round(density, 3).tolist()}")
                + f" ({extra['train_seconds']:.0f} s)"
            )
            last_time = time.perf_counter()
        if checkpoint_path is not None and (
            trainer.step % checkpoint_every == 0 or trainer.step == updates
        ):
            trainer.save(checkpoint_path, extra)
            last_time = time.perf_counter()
    bar.close()
    model.eval()
    metrics = dict(extra)
    metrics["updates"] = trainer.step
    metrics["settings"] = {**trainer.settings(), "corpus": corpus, "seed": seed}
    metrics["valid"] = evaluate_char_lm(model, valid_ids)
    metrics["train"] = evaluate_char_lm(model, train_ids[: len(valid_ids)])
    return model, metrics
