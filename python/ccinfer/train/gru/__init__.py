"""Training reference for the conditional GRU of Davis (2016), dissertation chapter 4.

A GRU in PyTorch's formulation and gate order ``r, z, n`` (docs/design.md section 2), with three
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
them over the expanded units (all units of a block see the same values). With
``affine=True`` the normalisation also has the per-unit ``gamma, beta``
(``gamma * (u - mu) / sqrt(var + eps) + beta + s``), folded the same way: what a model
converted from a dense GRU needs, whose units each have their own operating point.

`CharLM` stacks such layers over one-hot characters with a linear output and a softmax;
`train_char_lm` trains it the dissertation's way (section 4.5.1) and `CharLMTrainer` holds the
resumable training state.

A trained dense GRU becomes a conditional one without training from scratch: `dense_char_lm`
takes it in (a dense `ccinfer.GRUStack`, an ``nn.GRU`` with its head, or its state dict),
`conditional_from_dense` initialises the low-rank or block update gate from its update gate
(truncated SVD, per-unit ``gamma, beta`` fitted so that the gate takes the dense gate's
fraction of new state on the user's text) and `fit_char_lm` fine-tunes it on the user's text
with the same loop, distilling from the dense model (``teacher``) while a `DensitySchedule`
shuts gates down to the density wanted. `update_budget` tells beforehand how much of the
dense model's state updates could be skipped at all (an oracle bound on the user's text).

The package is split by concern: `cell` (one layer step), `stack` (layers over a sequence),
`model` (`CharLM`), `data` (text splits and evaluation), `trainer` (the resumable state and its
checkpoints), `loop` (a whole training run) and `from_dense` (a dense model made
conditional). Everything public is importable from here.
"""

from .cell import GATES, CondGRUCell, cliptanh
from .data import evaluate_char_lm, load_char_splits
from .density import DensitySchedule
from .from_dense import conditional_from_dense, dense_char_lm
from .loop import fit_char_lm, train_char_lm
from .model import CharLM
from .stack import CondGRU, z_density
from .trainer import CharLMTrainer, slim_checkpoint
from .update_budget import update_budget

__all__ = [
    "GATES",
    "CharLM",
    "CharLMTrainer",
    "CondGRU",
    "CondGRUCell",
    "DensitySchedule",
    "cliptanh",
    "conditional_from_dense",
    "dense_char_lm",
    "evaluate_char_lm",
    "fit_char_lm",
    "load_char_splits",
    "slim_checkpoint",
    "train_char_lm",
    "update_budget",
    "z_density",
]
