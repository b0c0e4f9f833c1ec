"""`CondGRU`: a stack of `CondGRUCell` layers over a sequence, and the density of its gates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .cell import CondGRUCell


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
    gate, rank, bn_momentum, affine :
        As for `CondGRUCell`, the same for every layer.
    shift : float or sequence of float
        The ``s`` of every layer, or one per layer (a `DensitySchedule` steers each layer's
        own).
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
        shift: float | Sequence[float] = 0.0,
        batch_first: bool = False,
        bn_momentum: float = 0.01,
        affine: bool = False,
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.gate = gate
        self.batch_first = batch_first
        shifts = [shift] * num_layers if isinstance(shift, (int, float)) else list(shift)
        if len(shifts) != num_layers:
            raise ValueError(f"{num_layers} layers need {num_layers} shifts, got {len(shifts)}")
        self.layers = nn.ModuleList(
            CondGRUCell(
                input_size if i == 0 else hidden_size,
                hidden_size,
                gate,
                rank,
                shifts[i],
                bn_momentum,
                affine=affine,
            )
            for i in range(num_layers)
        )

    @property
    def rank(self) -> int:
        """Width of ``z^lr`` (0 for ``dense``)."""
        return self.layers[0].rank

    @property
    def affine(self) -> bool:
        """Whether the gate normalisation has a trainable scale and offset."""
        return self.layers[0].affine

    @property
    def shift(self) -> float | list[float]:
        """The ``s`` of ``BN_s``: one number if every layer has the same, else one per layer."""
        shifts = [cell.shift for cell in self.layers]
        return shifts[0] if len(set(shifts)) == 1 else shifts

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
