"""One conditional GRU layer step by step: the clipped-tanh update gate and `CondGRUCell`
(the maths is in the package docstring, `ccinfer.train.gru`)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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
      ``nn.BatchNorm1d`` over h units for ``lowrank``, over ``rank`` gates for ``block``;
      with `affine` its ``weight`` and ``bias`` are the ``gamma`` and ``beta``).

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
    affine : bool
        Give the normalisation a trainable scale and offset per unit (``lowrank``) or per
        gate (``block``), batch normalisation's ``gamma`` and ``beta``:
        ``BN_s(u) = gamma * (u - mu) / sqrt(var + eps) + beta + s``. The dissertation has none
        (False, the default): ``s`` alone sets every unit's operating point. A model converted
        from a dense GRU needs them (`conditional_from_dense`): the dense gate has units that
        take new state at nearly every step and units that rarely do. Folded into ``W_z, b_z``
        by `export_numpy` like the statistics, so the engine sees no difference.
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
        affine: bool = False,
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
        self.affine = bool(affine) and gate != "dense"
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
            self.bn = nn.BatchNorm1d(bn_units, eps=bn_eps, momentum=bn_momentum, affine=self.affine)
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
            self.bn.reset_parameters()  # statistics, and gamma = 1, beta = 0 with `affine`
        if self.gate == "lowrank":
            nn.init.xavier_uniform_(self.weight_z)

    def extra_repr(self) -> str:
        extra = f", rank={self.rank}, shift={self.shift}" if self.gate != "dense" else ""
        extra += ", affine=True" if self.affine else ""
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
            u,
            bn.running_mean,
            bn.running_var,
            bn.weight,
            bn.bias,
            self.training,
            bn.momentum,
            bn.eps,
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
        running statistics ``mu, var`` and ``a = gamma / sqrt(var + eps)`` (per unit for
        ``lowrank``, per gate for ``block``; ``gamma = 1, beta = 0`` without `affine`), eval
        mode computes ``BN_s(W_z z^lr) = a * (W_z z^lr - mu) + beta + s``, so the folded map
        is ``W_z' = diag(a) W_z`` and ``b_z' = s + beta - a * mu`` (for ``block``, row ``i`` of
        ``W_z'`` holds ``a[j]`` in column ``j = i // block_size`` and zeros elsewhere, and
        ``b_z'[i] = s + beta[j] - a[j] mu[j]``: each block's rows are equal). With
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
        shift = torch.full_like(mean, self.shift)
        if self.affine:
            scale = scale * self.bn.weight.double()
            shift = shift + self.bn.bias.double()
        shift = shift - scale * mean
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
