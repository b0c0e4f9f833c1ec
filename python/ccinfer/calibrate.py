"""Choose each layer's estimator rank and threshold from data (the "future work" of Davis &
Arel 2014: rank from data instead of cross-validation by hand, and a tunable threshold).

Greedy, layer by layer from the input: for every candidate ``(rank, tau)`` of layer ``l``, with
the choices of layers ``< l`` in place and later layers dense, the whole network is evaluated on
the caller's data; the candidate with the least work per sample that keeps the bound wins (the
layer stays dense if none does). Because each check runs the whole network with every choice so
far, the final network satisfies the bound on that data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .estimator import truncated_svds

DEFAULT_RANKS = (5, 10, 15, 20, 25, 35, 50, 75, 100)
# Thresholds as multiples of the standard deviation of the layer's estimated pre-activation.
DEFAULT_TAU_SCALES = (-0.5, -0.25, -0.1, 0.0, 0.1, 0.25)


def _forward_from(weights, biases, masks_fn, a, start):
    """Logits from layer ``start`` on, given its input ``a``; ``masks_fn(l, a)`` gives the
    boolean mask of hidden layer ``l`` (None for dense)."""
    for i in range(start, len(weights)):
        z = a @ weights[i].T + biases[i]
        if i + 1 == len(weights):
            return z
        mask = masks_fn(i, a)
        a = np.maximum(z, 0) if mask is None else np.maximum(z, 0) * mask
    return a


def calibrate(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    X: np.ndarray,
    y: np.ndarray | None = None,
    *,
    max_accuracy_drop: float | None = None,
    min_recall: float | None = None,
    ranks: Sequence[int] = DEFAULT_RANKS,
    tau_scales: Sequence[float] = DEFAULT_TAU_SCALES,
):
    """Pick ``(rank, tau)`` per hidden layer doing the least work within the bound.

    Parameters
    ----------
    X : (n, in) float32 calibration inputs.
    y : (n,) int labels; required with ``max_accuracy_drop``.
    max_accuracy_drop : float, optional
        Largest allowed drop of top-1 accuracy (a fraction: 0.001 is 0.1 points) against the
        dense network on ``(X, y)``.
    min_recall : float, optional
        Smallest allowed share of truly positive units that each layer computes.

    Returns
    -------
    estimators : list of (A, B, tau) or None per layer (None for the output layer)
    report : dict with, per hidden layer, the choice, its active fraction, recall and MACs per
        sample, and the dense and final accuracy (when labels are given).
    """
    if (max_accuracy_drop is None) == (min_recall is None):
        raise ValueError("calibrate: give exactly one of max_accuracy_drop and min_recall")
    if max_accuracy_drop is not None and y is None:
        raise ValueError("calibrate: max_accuracy_drop needs labels y")
    X = np.asarray(X, np.float32)
    if X.ndim != 2 or X.shape[1] != weights[0].shape[1] or len(X) == 0:
        raise ValueError(f"calibrate: X must have shape (n, {weights[0].shape[1]}), got {X.shape}")
    if y is not None and np.shape(y) != (len(X),):
        raise ValueError(f"calibrate: y must have shape ({len(X)},), got {np.shape(y)}")
    W = [w.astype(np.float64) for w in weights]
    b = [v.astype(np.float64) for v in biases]
    n_hidden = len(W) - 1
    chosen: list[tuple[np.ndarray, np.ndarray, float] | None] = [None] * n_hidden

    def mask_of(i, a, choice=None):
        est = choice if choice is not None else chosen[i]
        if est is None:
            return None
        A, B, tau = est
        return (a @ B.T) @ A.T + b[i] > tau

    def accuracy(logits):
        return float((logits.argmax(axis=1) == y).mean())

    dense_acc = accuracy(_forward_from(W, b, lambda i, a: None, X, 0)) if y is not None else None
    report_layers = []
    a = X.astype(np.float64)
    for layer in range(n_hidden):
        m, k = W[layer].shape
        usable = [r for r in ranks if r <= min(m, k)]
        factors = dict(zip(usable, truncated_svds(W[layer], usable, np.float64), strict=True))
        z = a @ W[layer].T + b[layer]
        positive = z > 0
        best = None
        for r in usable:
            A, B = factors[r]
            t = (a @ B.T) @ A.T + b[layer]
            spread = float(t.std()) or 1.0
            for scale in tau_scales:
                tau = scale * spread
                mask = t > tau
                alpha = float(mask.mean())
                cost = r * (m + k) + alpha * m * k
                if best is not None and cost >= best["macs"]:
                    continue
                recall = float((mask & positive).sum() / max(positive.sum(), 1))
                if min_recall is not None:
                    ok = recall >= min_recall
                else:
                    a_next = np.maximum(z, 0) * mask
                    acc = accuracy(
                        _forward_from(W, b, lambda i, x: mask_of(i, x), a_next, layer + 1)
                    )
                    ok = dense_acc - acc <= max_accuracy_drop
                if ok:
                    best = {
                        "rank": r,
                        "tau": tau,
                        "active_fraction": alpha,
                        "recall": recall,
                        "macs": cost,
                        "A": A,
                        "B": B,
                    }
        if best is None:
            report_layers.append(
                {"rank": None, "active_fraction": 1.0, "recall": 1.0, "macs": m * k}
            )
            a = np.maximum(z, 0)
            continue
        chosen[layer] = (best["A"], best["B"], best["tau"])
        report_layers.append(
            {key: best[key] for key in ("rank", "tau", "active_fraction", "recall", "macs")}
        )
        a = np.maximum(z, 0) * mask_of(layer, a)
    estimators = [
        None if c is None else (c[0].astype(np.float32), c[1].astype(np.float32), float(c[2]))
        for c in chosen
    ] + [None]
    report = {"layers": report_layers, "dense_accuracy": dense_acc}
    if y is not None:
        report["accuracy"] = accuracy(_forward_from(W, b, lambda i, x: mask_of(i, x), X, 0))
    return estimators, report
