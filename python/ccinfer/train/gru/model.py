"""`CharLM`: the character language model (one-hot symbols, `CondGRU`, linear output)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ...datasets import VOCAB
from .stack import CondGRU


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
    gate, rank, affine :
        As for `CondGRUCell`.
    shift : float or sequence of float
        As for `CondGRU`: one for every layer or one per layer.
    vocab_size : int
        Number of symbols (27 for `ccinfer.datasets.VOCAB`).
    """

    def __init__(
        self,
        hidden_size: int,
        num_layers: int = 1,
        gate: str = "dense",
        rank: int | None = None,
        shift: float | Sequence[float] = 0.0,
        vocab_size: int = len(VOCAB),
        affine: bool = False,
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.gru = CondGRU(vocab_size, hidden_size, num_layers, gate, rank, shift, affine=affine)
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
            "affine": self.gru.affine,
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
