"""Training reference for the tree-gated layer of Cho & Bengio (2014), docs/design.md section 3.

The layer computes ``h = phi(bias + sum_j x_j * sum_{l=0..k} T[j, v_l(j)])`` where the path
``v(j)`` of unit ``j`` is chosen by gating bits of the input (see :mod:`ccinfer.tree` for the
exact conventions, which this module shares bit for bit). Training follows the note:

- back-prop into the selected node weights with the gates treated as constants (section 4,
  "ignoring the effect of the gating units"): the forward pass is a weighted sum of ``k + 1``
  table rows per non-zero input, an ``embedding_bag`` whose gradient touches only those rows;
- a straight-through variant for learned projection gates ``g = (G x + c > 0)``: the forward
  pass is unchanged, the backward pass treats each bit as ``sigmoid(G x + c)`` and the layer as
  the multilinear extension of the tree in the bits, whose derivative at a hard point is
  ``dh/dg_i = sum_j x_j sum_{l > m} (T[j, v_l | b_m = 1] - T[j, v_l | b_m = 0])`` over the units
  ``j`` whose path reads bit ``i`` at position ``m``;
- lazy L2 weight decay (section 3): a node row untouched for ``dt`` steps is multiplied by
  ``(1 - lr * lambda)^dt`` when it is next selected, before it is used, which equals decaying
  every row at every step (:class:`LazyDecaySGD`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import tree as engine_tree

PATHS = engine_tree.PATHS


class TreeGated(nn.Module):
    """The tree-gated layer for training.

    Parameters
    ----------
    in_features, out_features : int
        ``p`` and ``q``.
    depth : int
        ``k``; the table has ``2^(k+1) - 1`` nodes per input unit.
    path : {"shared", "sliding"}
    gate_units : sequence of int, optional
        Threshold gates ``x[gate_units] > tau`` (constants: no gradient flows into them).
    tau : float
    num_bits : int, optional
        Projection gates ``G x + c > 0`` with ``num_bits`` learned bits instead.
    straight_through : bool
        With projection gates, train ``G`` and ``c`` by the straight-through estimator
        (otherwise they stay at their random initialisation, gates as constants).
    activation : {"identity", "relu"}
    sparse : bool
        Sparse gradient for the table (only the selected rows; needs :class:`LazyDecaySGD`
        or ``torch.optim.SparseAdam``); dense otherwise.

    Notes
    -----
    The root nodes start as ``nn.Linear``'s default initialisation of a ``p -> q`` layer and all
    deeper nodes at zero, so an untrained tree is a dense layer and the deeper nodes learn
    corrections (the note's back-off view).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        depth: int,
        *,
        path: str = "shared",
        gate_units=None,
        tau: float = 0.0,
        num_bits: int | None = None,
        straight_through: bool = False,
        activation: str = "identity",
        sparse: bool = False,
    ):
        super().__init__()
        p, nodes, q = engine_tree.table_shape(in_features, out_features, depth)
        if path not in PATHS:
            raise ValueError(f"TreeGated: path must be one of {PATHS}, got {path!r}")
        if activation not in engine_tree.ACTIVATIONS:
            raise ValueError(f"TreeGated: activation must be identity or relu, got {activation!r}")
        if (gate_units is None) == (num_bits is None) and depth > 0:
            raise ValueError("TreeGated: give exactly one of gate_units and num_bits")
        self.p, self.q, self.depth, self.nodes = p, q, depth, nodes
        self.path, self.activation, self.sparse = path, activation, sparse
        self.straight_through = straight_through
        bound = 1.0 / math.sqrt(p)
        table = torch.zeros(p, nodes, q)
        table[:, 0].uniform_(-bound, bound)
        # Stored flat, (p * nodes, q) with T[j, v] in row j * nodes + v, so that a sparse
        # gradient needs no reshape.
        self.node_table = nn.Parameter(table.view(p * nodes, q))
        self.bias = nn.Parameter(torch.empty(q).uniform_(-bound, bound))
        self.tau = float(tau)
        self.gate_weight = self.gate_bias = None
        if gate_units is not None:
            units = torch.as_tensor(np.asarray(gate_units), dtype=torch.long)
            if units.ndim != 1 or len(units) < depth or (units < 0).any() or (units >= p).any():
                raise ValueError(
                    f"TreeGated: gate_units must be >= {depth} indices in [0, {p}), got {units}"
                )
            self.register_buffer("gate_units", units)
            nbits = len(units)
        elif num_bits is not None:
            if num_bits < max(depth, 1):
                raise ValueError(f"TreeGated: num_bits must be >= max(depth, 1), got {num_bits}")
            self.register_buffer("gate_units", None)
            self.gate_weight = nn.Parameter(torch.randn(num_bits, p) / math.sqrt(p))
            self.gate_bias = nn.Parameter(torch.zeros(num_bits))
            nbits = num_bits
        else:
            self.register_buffer("gate_units", None)
            nbits = 0
        self.nbits = nbits
        # bit_index[j, m]: the gating bit unit j reads at level m of its path.
        j = torch.arange(p)[:, None]
        m = torch.arange(depth)[None, :]
        index = m.expand(p, depth) if path == "shared" else (j // max(depth, 1) + m) % max(nbits, 1)
        self.register_buffer("bit_index", index.contiguous())
        self.lazy_decay: LazyDecaySGD | None = None

    # ---- gates and paths ----------------------------------------------------------------------
    def gate_logits(self, x: torch.Tensor) -> torch.Tensor | None:
        """``G x + c`` (n, nbits) for projection gates, else None."""
        if self.gate_weight is None:
            return None
        return x @ self.gate_weight.T + self.gate_bias

    def gate_bits(self, x: torch.Tensor) -> torch.Tensor:
        """The hard bits (n, nbits) as int64 0/1."""
        if self.gate_units is not None:
            return (x[:, self.gate_units] > self.tau).long()
        if self.gate_weight is not None:
            return (self.gate_logits(x) > 0).long()
        return torch.zeros(x.shape[0], 0, dtype=torch.long, device=x.device)

    def paths(self, bits: torch.Tensor) -> torch.Tensor:
        """Heap-order node ids (n, p, k + 1) of every unit's path."""
        n = bits.shape[0]
        b = bits[:, self.bit_index]  # (n, p, k)
        nodes = [torch.zeros(n, self.p, dtype=torch.long, device=bits.device)]
        for level in range(self.depth):
            nodes.append(2 * nodes[-1] + 1 + b[:, :, level])
        return torch.stack(nodes, dim=-1)

    # ---- forward ------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.gate_logits(x)
        bits = (logits > 0).long() if logits is not None else self.gate_bits(x)
        paths = self.paths(bits)
        rows, weights, offsets, entries = self._bags(x, paths)
        if self.training and self.lazy_decay is not None:
            self.lazy_decay.catch_up(rows)
        h = F.embedding_bag(
            rows,
            self.node_table,
            offsets,
            mode="sum",
            per_sample_weights=weights,
            sparse=self.sparse,
        )
        h = h + self.bias
        if self.straight_through and logits is not None and self.training:
            soft = torch.sigmoid(logits)
            with torch.no_grad():
                grad_bits = self._bit_gradients(x, paths, entries)  # (n, nbits, q)
            h = h + ((soft - soft.detach()).unsqueeze(-1) * grad_bits).sum(dim=1)
        return torch.relu(h) if self.activation == "relu" else h

    def _bags(self, x: torch.Tensor, paths: torch.Tensor):
        """One bag per sample (an empty bag gives 0): the k + 1 path rows (row j * nodes + v of
        the flattened table) of each non-zero input, weighted by the input."""
        s_idx, j_idx = (x != 0).nonzero(as_tuple=True)
        length = self.depth + 1
        rows = (j_idx[:, None] * self.nodes + paths[s_idx, j_idx]).reshape(-1)
        weights = x[s_idx, j_idx].repeat_interleave(length)
        counts = torch.bincount(s_idx, minlength=x.shape[0]) * length
        offsets = torch.cumsum(counts, 0) - counts
        return rows, weights, offsets, (s_idx, j_idx)

    def _bit_gradients(self, x, paths, entries) -> torch.Tensor:
        """``dh/dg_i`` (n, nbits, q) at the hard bits, from the multilinear extension."""
        s_idx, j_idx = entries
        n, k = x.shape[0], self.depth
        out = x.new_zeros(n * self.nbits, self.q)
        value = x[s_idx, j_idx]
        nz_paths = paths[s_idx, j_idx]  # (nnz, k + 1)
        for m in range(k):
            bit = (nz_paths[:, m + 1] - 2 * nz_paths[:, m] - 1)[:, None]  # b_m, (nnz, 1)
            levels = torch.arange(m + 1, k + 1, device=x.device)
            shift = 2 ** (levels - 1 - m)  # flipping b_m moves node_l by this much
            nodes = nz_paths[:, m + 1 :]
            one = j_idx[:, None] * self.nodes + nodes + (1 - bit) * shift
            zero = j_idx[:, None] * self.nodes + nodes - bit * shift
            per = one.shape[1]
            diff = F.embedding_bag(
                torch.cat([one, zero], dim=1).reshape(-1),
                self.node_table,
                torch.arange(len(value), device=x.device) * 2 * per,
                mode="sum",
                per_sample_weights=torch.cat(
                    [value[:, None].expand(-1, per), -value[:, None].expand(-1, per)], dim=1
                ).reshape(-1),
            )
            out.index_add_(0, s_idx * self.nbits + self.bit_index[j_idx, m], diff)
        return out.view(n, self.nbits, self.q)

    @property
    def table(self) -> torch.Tensor:
        """``T`` (p, nodes, q), a view of :attr:`node_table`."""
        return self.node_table.view(self.p, self.nodes, self.q)

    # ---- export -------------------------------------------------------------------------------
    def to_ccinfer(self) -> engine_tree.TreeGatedLinear:
        """The engine layer with these weights (owed lazy decay applied first)."""
        if self.lazy_decay is not None:
            self.lazy_decay.finalize()
        kwargs: dict = {}
        if self.gate_units is not None:
            kwargs = {"gate_units": self.gate_units.cpu().numpy(), "tau": self.tau}
        elif self.gate_weight is not None:
            kwargs = {"gate_weight": self.gate_weight, "gate_bias": self.gate_bias}
        return engine_tree.TreeGatedLinear(
            self.table, self.bias, path=self.path, activation=self.activation, **kwargs
        )


class LazyDecaySGD:
    """Plain SGD with L2 weight decay for a :class:`TreeGated` table, applied lazily.

    A row last brought up to date at step ``t'`` owes ``(1 - lr * weight_decay)^(t - t')``; it
    is paid when the row is next selected, before the forward pass reads it (the layer calls
    :meth:`catch_up`), and then the step applies ``w <- w (1 - lr * weight_decay) - lr * grad``
    to the selected rows only. The result equals ``torch.optim.SGD(weight_decay=...)`` over the
    whole table (up to rounding of the power), at a cost proportional to the rows selected.
    Call :meth:`finalize` before reading the table (done by ``TreeGated.to_ccinfer``).

    Parameters
    ----------
    layer : TreeGated
    lr, weight_decay : float
    """

    def __init__(self, layer: TreeGated, lr: float, weight_decay: float = 0.0):
        if lr <= 0 or weight_decay < 0 or lr * weight_decay >= 1:
            raise ValueError(
                f"LazyDecaySGD: need lr > 0, weight_decay >= 0, lr * weight_decay < 1, got "
                f"lr={lr}, weight_decay={weight_decay}"
            )
        self.layer, self.lr, self.weight_decay = layer, lr, weight_decay
        self.step_count = 0
        rows = layer.p * layer.nodes
        self.last = torch.zeros(rows, dtype=torch.long, device=layer.node_table.device)
        layer.lazy_decay = self

    @property
    def _rows(self) -> torch.Tensor:
        return self.layer.node_table.data

    @torch.no_grad()
    def catch_up(self, rows: torch.Tensor) -> None:
        """Pay the decay the given rows owe up to the current step."""
        if self.weight_decay == 0 or rows.numel() == 0:
            return
        rows = torch.unique(rows)
        dt = (self.step_count - self.last[rows]).to(self._rows.dtype)
        self._rows[rows] *= torch.pow(1.0 - self.lr * self.weight_decay, dt)[:, None]
        self.last[rows] = self.step_count

    @torch.no_grad()
    def step(self) -> None:
        """Update the rows that have a gradient, then advance the step counter."""
        grad = self.layer.node_table.grad
        if grad is not None:
            if grad.is_sparse:
                grad = grad.coalesce()
                rows, values = grad.indices()[0], grad.values()
            else:
                rows = grad.abs().sum(1).nonzero(as_tuple=True)[0]
                values = grad[rows]
            self.catch_up(rows)
            decay = 1.0 - self.lr * self.weight_decay
            self._rows[rows] = self._rows[rows] * decay - self.lr * values
            self.last[rows] = self.step_count + 1
        self.step_count += 1

    def zero_grad(self) -> None:
        self.layer.node_table.grad = None

    @torch.no_grad()
    def finalize(self) -> None:
        """Bring every row up to the current step."""
        self.catch_up(torch.arange(self.last.numel(), device=self.last.device))


def export_sequential(net: nn.Sequential):
    """A ``ccinfer.Sequential`` from an ``nn.Sequential`` of ``Linear``, ``ReLU`` and
    :class:`TreeGated` (``Dropout``/``Identity`` skipped): each ``Linear`` becomes a one-layer
    ``CondMLP`` stage, a ``ReLU`` the ``"relu"`` after it."""
    from ..mlp import CondMLP
    from ..sequential import Sequential

    layers: list = []
    for child in net:
        if isinstance(child, (nn.Dropout, nn.Identity)):
            continue
        if isinstance(child, nn.Linear):
            layers.append(CondMLP([child.weight], [child.bias]))
        elif isinstance(child, nn.ReLU):
            layers.append("relu")
        elif isinstance(child, TreeGated):
            layers.append(child.to_ccinfer())
        else:
            raise ValueError(f"export_sequential: unsupported layer {type(child).__name__}")
    return Sequential(layers)
