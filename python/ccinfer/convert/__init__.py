"""Converters: models trained elsewhere into ccinfer models.

This package depends on the model classes, never the reverse: the models' ``from_*``
classmethods are one-line forwards that import their converter when called. Each source has a
module of its own, and every array passes :func:`ccinfer._arrays.as_float32_matrix` (float,
finite, the right shape) on its way in, so the engine never sees a surprise.

- :mod:`.linear`: ``(weight, bias)`` pairs or a ``state_dict``-like mapping of plain arrays
  (PyTorch's ``(out, in)`` layout), with the activation stated by the caller.
- :mod:`.torch`: ``nn.Sequential`` of Linear/ReLU, ``nn.GRU`` / ``nn.GRUCell``.
- :mod:`.sklearn`: ``MLPClassifier`` / ``MLPRegressor`` with ReLU hidden layers, alone or
  after per-feature scalers in a ``Pipeline``.
- :mod:`.keras`: Keras 3 models of Dense layers, or of GRU layers with an embedding and a head.
- :mod:`.onnx`: ONNX graphs of MLPs and GRUs (``onnx`` imported only when called;
  :mod:`.onnx_file` reads the file within bounds).
"""

from __future__ import annotations

from .keras import from_keras
from .linear import check_activation, linear_stack_from_numpy
from .onnx import from_onnx
from .sklearn import mlp_from_sklearn
from .torch import gru_stack_from_torch, linear_stack_from_torch

__all__ = [
    "check_activation",
    "from_keras",
    "from_onnx",
    "gru_stack_from_torch",
    "linear_stack_from_numpy",
    "linear_stack_from_torch",
    "mlp_from_sklearn",
]
