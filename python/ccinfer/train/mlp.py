"""Training reference for the conditional MLP of Davis & Arel (2014), dissertation chapter 3.

A ReLU network ``784-1000-600-400-10`` with dropout. Each hidden layer ``l`` may carry a sign
estimator: the rank-``r_l`` truncated SVD of its weights, ``W = U S V^T``, ``A = U_k S_k``
(out x k), ``B = V_k^T`` (k x in). The estimator predicts which outputs are positive,

    mask = A (B a) + b > tau            (tau = 0 in the paper; no gradient flows through it)
    a'   = relu(W a + b) * mask,

so at inference only the rows of ``W`` in the mask need computing. The output layer is never
estimated. Trained "in the loop", the SVD is recomputed once per epoch from the current weights
and the mask is applied in the forward pass; an estimator can also be added to any trained
network afterwards (`evaluate` with ``ranks``). See docs/design.md section 1.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..datasets import load_mnist
from ..estimator import truncated_svd

MNIST_SIZES = (784, 1000, 600, 400, 10)


def make_mlp(
    sizes: Sequence[int] = MNIST_SIZES, input_dropout: float = 0.3, hidden_dropout: float = 0.5
) -> nn.Sequential:
    """Build the ReLU network of the paper as ``nn.Sequential``.

    The layers are ``Dropout(input_dropout), Linear, ReLU, Dropout(hidden_dropout), Linear,
    ReLU, ..., Linear``: dropout before every linear layer, ReLU after every hidden one, no
    softmax (the loss takes logits). Weights are Glorot-uniform and biases zero, as in the
    dissertation (section 3.2). `Dropout` is the identity in eval mode, so at inference the
    network is the plain chain of linear layers and ReLUs.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths from input to output; at least two.
    input_dropout : float
        Dropout probability on the input (0.3 for MNIST in the paper).
    hidden_dropout : float
        Dropout probability on every hidden layer's output (0.5 in the paper).

    Returns
    -------
    torch.nn.Sequential
        The network, in training mode.
    """
    if len(sizes) < 2:
        raise ValueError(f"need at least an input and an output size, got {tuple(sizes)}")
    layers: list[nn.Module] = []
    n_linear = len(sizes) - 1
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Dropout(input_dropout if i == 0 else hidden_dropout))
        linear = nn.Linear(n_in, n_out)
        nn.init.xavier_uniform_(linear.weight)
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < n_linear - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def linear_layers(model: nn.Sequential) -> list[nn.Linear]:
    """Return the linear layers of `model` in order (the last one is the output layer)."""
    return [m for m in model if isinstance(m, nn.Linear)]


def low_rank_factors(weight: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank-`rank` factors of `weight` from its truncated SVD (`ccinfer.estimator.truncated_svd`,
    in float64, returned in the dtype and on the device of `weight`).

    Parameters
    ----------
    weight : torch.Tensor
        Shape (out, in).
    rank : int
        Number of singular triplets kept, ``1 <= rank <= min(out, in)``.

    Returns
    -------
    A : torch.Tensor
        ``U_k S_k``, shape (out, rank).
    B : torch.Tensor
        ``V_k^T``, shape (rank, in). ``A @ B`` is the best rank-`rank` approximation of
        `weight` in the Frobenius norm.
    """
    if not 1 <= rank <= min(weight.shape):
        raise ValueError(f"rank {rank} out of range for a weight of shape {tuple(weight.shape)}")
    w = weight.detach()
    a, b = truncated_svd(w.cpu().numpy(), rank, dtype=np.float64)
    return (
        torch.from_numpy(a).to(dtype=w.dtype, device=w.device),
        torch.from_numpy(b).to(dtype=w.dtype, device=w.device),
    )


class LayerTrace(NamedTuple):
    """What one hidden layer computed in a forward pass of `EstimatedMLP`.

    Attributes
    ----------
    pre : torch.Tensor
        The pre-activation ``W a + b``, shape (N, out).
    mask : torch.Tensor or None
        The estimator's boolean mask (True = unit computed), or None without an estimator.
    out : torch.Tensor
        The layer output ``relu(pre) * mask`` (before the next dropout); keeps its gradient.
    """

    pre: torch.Tensor
    mask: torch.Tensor | None
    out: torch.Tensor


class EstimatedMLP(nn.Module):
    """A `make_mlp` network with a low-rank sign estimator on every hidden layer.

    The wrapped network's parameters are shared, not copied: training this module trains `net`.
    The estimator factors are plain tensors (not parameters or buffers) and are recomputed from
    the current weights by `refresh` (once per epoch when training in the loop).

    Parameters
    ----------
    net : torch.nn.Sequential
        A network built by `make_mlp` (every hidden ``Linear`` followed by a ``ReLU``).
    ranks : sequence of int, optional
        One rank per hidden layer. None runs the network unchanged (no masks).
    tau : float
        Threshold of the estimator: a unit is computed where ``A (B a) + b > tau``.
    """

    def __init__(self, net: nn.Sequential, ranks: Sequence[int] | None = None, tau: float = 0.0):
        super().__init__()
        self.net = net
        self.train(net.training)  # a new Module starts in training mode; follow the network
        hidden = linear_layers(net)[:-1]
        if ranks is not None and len(ranks) != len(hidden):
            raise ValueError(f"{len(ranks)} ranks given for {len(hidden)} hidden layers")
        self.ranks = None if ranks is None else tuple(int(r) for r in ranks)
        self.tau = float(tau)
        self.factors: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.refresh()

    @torch.no_grad()
    def refresh(self) -> None:
        """Recompute the estimator factors from the SVD of the current hidden weights."""
        if self.ranks is None:
            return
        hidden = zip(linear_layers(self.net)[:-1], self.ranks, strict=True)
        self.factors = [low_rank_factors(lin.weight, rank) for lin, rank in hidden]

    def forward(self, x: torch.Tensor, trace: list[LayerTrace] | None = None) -> torch.Tensor:
        """Run the network with the estimator masks applied after each hidden ReLU.

        Parameters
        ----------
        x : torch.Tensor
            Inputs, shape (N, sizes[0]).
        trace : list, optional
            If given, one `LayerTrace` per hidden layer is appended to it.

        Returns
        -------
        torch.Tensor
            Logits, shape (N, sizes[-1]).
        """
        a = x
        layer = 0
        pre = mask = None
        for module in self.net:
            if isinstance(module, nn.Linear):
                if layer < len(self.factors):  # hidden layer with an estimator
                    with torch.no_grad():
                        factor_a, factor_b = self.factors[layer]
                        mask = (a @ factor_b.T) @ factor_a.T + module.bias > self.tau
                a = pre = module(a)
            elif isinstance(module, nn.ReLU):
                a = module(a)
                if mask is not None:
                    a = a * mask
                if trace is not None:
                    trace.append(LayerTrace(pre, mask, a))
                layer += 1
                mask = None
            else:
                a = module(a)
        return a


def train_step(
    model: EstimatedMLP,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    l1: float = 0.0,
) -> float:
    """One optimiser step on a mini-batch, in training mode (dropout on).

    The objective is the mean cross-entropy plus, if `l1` > 0, the activation penalty of
    eq. 7 of the paper, ``l1 * sum_l ||a_l||_1`` (per sample, averaged over the batch), where
    ``a_l`` is the (masked) output of hidden layer ``l``.

    Parameters
    ----------
    model : EstimatedMLP
        The network with its current estimators.
    optimizer : torch.optim.Optimizer
        Optimiser over ``model.net``'s parameters.
    x, y : torch.Tensor
        Inputs (N, in) float32 and labels (N,) int64.
    l1 : float
        Weight of the activation penalty.

    Returns
    -------
    float
        The objective before the step.
    """
    model.train()
    trace: list[LayerTrace] | None = [] if l1 > 0 else None
    loss = F.cross_entropy(model(x, trace), y)
    if trace is not None:
        loss = loss + l1 * sum(t.out.sum(dim=1).mean() for t in trace)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.item())


@torch.no_grad()
def _evaluate(model: EstimatedMLP, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> dict:
    """Error and per-layer statistics of `model` in eval mode; see `evaluate`."""
    was_training = model.training
    model.eval()
    n_hidden = len(linear_layers(model.net)) - 1
    wrong = 0
    units = [0] * n_hidden
    active = [0] * n_hidden  # outputs > 0
    positive = [0] * n_hidden  # pre-activations > 0 (what an exact estimator would select)
    computed = [0] * n_hidden  # units the estimator selects
    hits = [0] * n_hidden  # selected and positive
    for start in range(0, len(x), batch_size):
        trace: list[LayerTrace] = []
        logits = model(x[start : start + batch_size], trace)
        wrong += int((logits.argmax(dim=1) != y[start : start + batch_size]).sum())
        for layer, t in enumerate(trace):
            pos = t.pre > 0
            units[layer] += pos.numel()
            active[layer] += int((t.out > 0).sum())
            positive[layer] += int(pos.sum())
            if t.mask is not None:
                computed[layer] += int(t.mask.sum())
                hits[layer] += int((t.mask & pos).sum())
    model.train(was_training)
    result = {
        "error": 100.0 * wrong / len(x),
        "density": [a / n for a, n in zip(active, units, strict=True)],
    }
    if model.ranks is not None:
        result["ranks"] = list(model.ranks)
        result["tau"] = model.tau
        result["computed"] = [c / n for c, n in zip(computed, units, strict=True)]
        result["recall"] = [h / p if p else None for h, p in zip(hits, positive, strict=True)]
        result["precision"] = [h / c if c else None for h, c in zip(hits, computed, strict=True)]
    return result


def evaluate(
    model: nn.Sequential,
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    ranks: Sequence[int] | None = None,
    tau: float = 0.0,
    batch_size: int = 1000,
) -> dict:
    """Classification error and activation statistics, with or without sign estimators.

    Parameters
    ----------
    model : torch.nn.Sequential
        A `make_mlp` network; evaluated in eval mode (dropout off), its mode is restored after.
    x, y : array_like
        Inputs (N, in) and integer labels (N,).
    ranks : sequence of int, optional
        One rank per hidden layer: build estimators from the SVD of the model's current weights
        and apply their masks in the forward pass. None evaluates the plain network.
    tau : float
        Estimator threshold.
    batch_size : int
        Samples per forward pass.

    Returns
    -------
    dict
        ``error``: classification error in percent. ``density``: per hidden layer, the fraction
        of outputs that are > 0 (after the mask). With `ranks` also ``ranks``, ``tau``,
        ``computed`` (fraction of units the estimator selects, the ``alpha`` of the cost model),
        ``recall`` (fraction of positive pre-activations ``W a + b > 0`` that the estimator
        selects) and ``precision`` (fraction of selected units whose pre-activation is
        positive). All statistics are measured in the conditional network itself, so a layer's
        input already carries the previous layers' masks.
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.int64)
    return _evaluate(EstimatedMLP(model, ranks, tau), x, y, batch_size)


def train_mlp(
    data_dir: str | Path | None = None,
    ranks: Sequence[int] | None = None,
    epochs: int = 50,
    l1: float = 0.0,
    seed: int = 0,
    lr: float = 1e-3,
    batch_size: int = 128,
    lr_decay: float = 1.0,
    tau: float = 0.0,
    max_train: int | None = None,
    num_threads: int = 1,
    progress: bool = True,
) -> tuple[nn.Sequential, dict]:
    """Train the MNIST network, optionally with the sign estimators in the loop.

    Adam on mini-batches of the 60,000 training images (pixels scaled to [0, 1]), dropout 0.3
    on the input and 0.5 on the hidden layers. With `ranks`, the estimators are rebuilt from
    the SVD of the current weights before the first epoch and after every epoch, and their
    masks are applied in every forward pass.

    Parameters
    ----------
    data_dir : str or Path, optional
        The shared data directory (see `ccinfer.datasets.load_mnist`).
    ranks : sequence of int, optional
        Estimator rank per hidden layer, e.g. ``(50, 35, 25)``; None trains the control.
    epochs : int
        Passes over the training set.
    l1 : float
        Weight of the activation l1 penalty (eq. 7 of the paper); 0 disables it.
    seed : int
        Seeds the initialisation, dropout and the shuffling.
    lr : float
        Initial Adam learning rate.
    batch_size : int
        Mini-batch size.
    lr_decay : float
        The learning rate is multiplied by this after every epoch (``lr_n = lr * lr_decay**n``).
    tau : float
        Estimator threshold (0 in the paper).
    max_train : int, optional
        Train on the first `max_train` training images only (quick experiments and tests).
    num_threads : int
        PyTorch intra-op threads (`torch.set_num_threads`, process-wide).
    progress : bool
        Show tqdm progress bars and a line per epoch.

    Returns
    -------
    model : torch.nn.Sequential
        The trained network (dropout modules included), in eval mode.
    metrics : dict
        ``train_loss`` (mean objective per epoch), ``test_error_per_epoch`` (with the
        estimators of that epoch's final weights when `ranks` is given), ``epoch_seconds``,
        ``test_error`` (final test error in percent: with estimators from the SVD of the final
        weights when `ranks` is given, else of the plain network), ``test_error_dense`` (the
        same weights without estimators), ``dense`` and, with `ranks`, ``estimated``: the full
        `evaluate` results.
    """
    torch.set_num_threads(num_threads)
    x_train, y_train = load_mnist(data_dir, "train")
    x_test, y_test = load_mnist(data_dir, "test")
    if max_train is not None:
        x_train, y_train = x_train[:max_train], y_train[:max_train]
    x_train, y_train = torch.from_numpy(x_train), torch.from_numpy(y_train)
    x_test, y_test = torch.from_numpy(x_test), torch.from_numpy(y_test)

    torch.manual_seed(seed)
    net = make_mlp()
    model = EstimatedMLP(net, ranks, tau)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=lr_decay)
    shuffle = torch.Generator().manual_seed(seed)
    n = len(x_train)
    name = "control" if ranks is None else "-".join(str(r) for r in ranks)
    metrics: dict = {"train_loss": [], "test_error_per_epoch": [], "epoch_seconds": []}
    for epoch in tqdm(range(epochs), desc=name, disable=not progress):
        start_time = time.perf_counter()
        order = torch.randperm(n, generator=shuffle)
        total = 0.0
        for start in tqdm(range(0, n, batch_size), leave=False, disable=not progress):
            idx = order[start : start + batch_size]
            total += train_step(model, optimizer, x_train[idx], y_train[idx], l1) * len(idx)
        scheduler.step()
        model.refresh()
        metrics["epoch_seconds"].append(time.perf_counter() - start_time)
        metrics["train_loss"].append(total / n)
        metrics["test_error_per_epoch"].append(_evaluate(model, x_test, y_test, 1000)["error"])
        if progress:
            tqdm.write(
                f"{name} epoch {epoch + 1}/{epochs}: loss {metrics['train_loss'][-1]:.4f}, "
                f"test error {metrics['test_error_per_epoch'][-1]:.2f}%, "
                f"{metrics['epoch_seconds'][-1]:.1f} s"
            )
    net.eval()
    metrics["dense"] = evaluate(net, x_test, y_test)
    metrics["test_error_dense"] = metrics["dense"]["error"]
    if ranks is None:
        metrics["test_error"] = metrics["test_error_dense"]
    else:
        metrics["estimated"] = evaluate(net, x_test, y_test, ranks, tau)
        metrics["test_error"] = metrics["estimated"]["error"]
    return net, metrics


def state_to_numpy(model: nn.Sequential) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The weights and biases of `model`'s linear layers as float32 numpy arrays.

    Parameters
    ----------
    model : torch.nn.Sequential
        A `make_mlp` network.

    Returns
    -------
    weights : list of numpy.ndarray
        One per linear layer, shape (out, in), C-contiguous (the ``nn.Linear`` layout).
    biases : list of numpy.ndarray
        One per linear layer, shape (out,).
    """
    layers = linear_layers(model)
    weights = [m.weight.detach().cpu().numpy().astype(np.float32, order="C") for m in layers]
    biases = [m.bias.detach().cpu().numpy().astype(np.float32) for m in layers]
    return weights, biases
