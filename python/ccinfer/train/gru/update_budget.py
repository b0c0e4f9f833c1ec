"""`update_budget`: how sparse a trained dense GRU could be made, before converting it.

A conditional GRU keeps a unit's state exactly when its gate is shut. How much that costs a
dense model depends on how it uses its update gate, which `conditional_from_dense` cannot
change: a model that replaces nearly all of its state at every step has to learn new dynamics
in fine-tuning, one whose updates are mostly small does not. `update_budget` measures it on
the user's text with the dense model's own numbers: at every step only the largest state
updates ``|Δh| = (1 - z) |n - h|`` of each stream are applied (the best choice any gate could
make, and one no gate can make exactly, as it needs ``n - h`` before computing it), and the
bits per character that leaves are reported for each fraction kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .model import CharLM


@torch.no_grad()
def update_budget(
    dense: CharLM,
    ids: np.ndarray,
    kept: Sequence[float] = (1.0, 0.8, 0.5, 0.3),
    *,
    n_streams: int = 64,
    steps: int = 500,
) -> dict:
    """Bits per character of a dense `CharLM` that applies only its largest state updates.

    Parameters
    ----------
    dense : CharLM
        A dense model (`dense_char_lm` makes one from a GRUStack or an nn.GRU).
    ids : numpy.ndarray
        Held-out text as symbol ids (1-D); the first ``n_streams * steps`` symbols (or all, if
        fewer) are read as `n_streams` streams side by side from a zero state.
    kept : sequence of float
        Fractions of each layer's units whose update is applied at every step, in (0, 1].
    n_streams, steps : int
        Shape of the run.

    Returns
    -------
    dict
        ``bpc``: one entry per fraction in `kept`, ``{"kept", "by_update", "by_fraction"}``,
        the bits per character when each stream keeps the updates largest in ``|Δh|``, and,
        for comparison, largest in the gate's fraction of new state ``1 - z``;
        ``new_state_fraction``: quantiles (0.1, 0.25, 0.5, 0.75) of ``1 - z`` per layer over
        the run (a median near 1 means the model replaces most of its state at most steps);
        ``symbols``: the number of predictions averaged.

    Raises
    ------
    ValueError
        If the model is not a dense `CharLM`, a fraction lies outside (0, 1], or the text is
        too short.
    """
    if not isinstance(dense, CharLM) or dense.gru.gate != "dense":
        raise ValueError("update_budget: needs a dense CharLM (see dense_char_lm)")
    kept = [float(f) for f in kept]
    if not kept or not all(0.0 < f <= 1.0 for f in kept):
        raise ValueError(f"update_budget: kept fractions must lie in (0, 1], got {kept}")
    ids = np.asarray(ids)
    if n_streams < 1 or steps < 2 or ids.ndim != 1 or len(ids) < 2 * n_streams:
        raise ValueError(
            f"update_budget: need a 1-D text of at least {2 * max(n_streams, 1)} ids, "
            f"n_streams >= 1 and steps >= 2; got shape {ids.shape}, {n_streams}, {steps}"
        )
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= dense.vocab_size):
        raise ValueError(f"update_budget: symbol ids must lie in 0..{dense.vocab_size - 1}")
    length = min(steps, len(ids) // n_streams)
    streams = torch.from_numpy(ids[: n_streams * length].astype(np.int64))
    streams = streams.view(n_streams, length).t().contiguous()  # (T, B)
    trace: list[torch.Tensor] = []
    dense.eval().gru(streams, None, trace)
    quantiles = torch.tensor([0.1, 0.25, 0.5, 0.75])
    fractions = [
        # every 7th value: torch.quantile takes at most 2**24 of them
        dict(
            zip(
                ("0.1", "0.25", "0.5", "0.75"),
                torch.quantile(1 - z.flatten()[::7], quantiles).tolist(),
                strict=True,
            )
        )
        for z in trace
    ]
    return {
        "bpc": [
            {
                "kept": f,
                "by_update": _run(dense, streams, f, by_update=True),
                "by_fraction": _run(dense, streams, f, by_update=False),
            }
            for f in kept
        ],
        "new_state_fraction": fractions,
        "symbols": int(n_streams * (length - 1)),
    }


def _run(dense: CharLM, streams: torch.Tensor, kept: float, by_update: bool) -> float:
    """Bits per character of `dense` over `streams` keeping the `kept` largest updates."""
    cells = dense.gru.layers
    batch = streams.shape[1]
    states = [torch.zeros(batch, cell.hidden_size) for cell in cells]
    first_input = cells[0].project_input(streams)  # (T, B, 3h): the one-hot lookups
    nll = 0.0
    for t in range(len(streams) - 1):
        x = None
        for i, cell in enumerate(cells):
            h = cell.hidden_size
            xp = first_input[t] if i == 0 else cell.project_input(x)
            hp = states[i] @ cell.weight_hh.t() + cell.bias_hh
            xr, xz, xn = xp.split(h, 1)
            hr, hz, hn = hp.split(h, 1)
            r = torch.sigmoid(xr + hr)
            new = torch.sigmoid(-(xz + hz))  # the fraction of new state, 1 - z
            update = new * (torch.tanh(xn + r * hn) - states[i])
            k = round(kept * h)
            if k < h:
                score = update.abs() if by_update else new
                threshold = score.topk(k, 1).values[:, -1:]
                update = update * (score >= threshold)
            states[i] = states[i] + update
            x = states[i]
        nll += float(F.cross_entropy(dense.output(x), streams[t + 1], reduction="sum"))
    return nll / (batch * (len(streams) - 1)) / math.log(2)
