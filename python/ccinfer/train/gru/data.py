"""The text a `CharLM` trains on and the measurement of a model on a text."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...datasets import TEXT_CORPORA, load_text, text_split
from .model import CharLM


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
