"""What a CondMLP's outputs mean: the activation its source network applied after the last
linear layer, and whether ``predict`` gives class labels or values (docs/format.md).

The engine computes the last layer's values (logits) in C++; the output activation is applied
here, in numpy, only by the methods that need it (``outputs``, ``predict_proba``,
``predict``), so the logits of every model stay exactly what they are and a model file's
C API consumers see the same logits as Python.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .io import short_repr

#: ``identity``: the logits as they are; ``softmax`` / ``log_softmax`` over the last axis;
#: ``sigmoid`` of each output (binary or multilabel classification).
OUTPUT_ACTIVATIONS = ("identity", "softmax", "log_softmax", "sigmoid")
#: ``classifier``: ``predict`` gives class labels; ``regressor``: the outputs themselves.
TASKS = ("classifier", "regressor")
MAX_CLASSES = 1 << 20


@dataclass(frozen=True)
class OutputSpec:
    """The output activation, the task and (for a classifier, optionally) its class labels.

    ``classes`` holds one label per class: per output for softmax, log_softmax and identity,
    and for multilabel sigmoid outputs; ``[negative, positive]`` for a single sigmoid output
    (binary classification, as scikit-learn stores it).
    """

    activation: str = "identity"
    task: str = "classifier"
    classes: tuple | None = None

    @classmethod
    def checked(
        cls, output_size: int, activation: str, task: str, classes: Sequence | None
    ) -> OutputSpec:
        """The spec for a network of ``output_size`` outputs, or a ValueError saying what is
        wrong (an unknown activation or task, labels of the wrong count or kind)."""
        if activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"output_activation must be one of {list(OUTPUT_ACTIVATIONS)}, got "
                f"{short_repr(activation)}"
            )
        if task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {short_repr(task)}")
        if classes is None:
            return cls(activation, task, None)
        if task != "classifier":
            raise ValueError("classes: only a classifier has class labels")
        if isinstance(classes, (str, bytes)):
            raise ValueError(f"classes: expected a sequence of labels, got {short_repr(classes)}")
        values = classes.tolist() if isinstance(classes, np.ndarray) else list(classes)
        labels = tuple(
            _label(c.item() if isinstance(c, np.generic) else c, i) for i, c in enumerate(values)
        )
        n = class_count(output_size, activation)
        if len(labels) != n:
            raise ValueError(
                f"classes: {n} labels needed for {output_size} {activation} output(s), "
                f"got {len(labels)}"
            )
        if len({type(c) is str for c in labels}) > 1:
            raise ValueError("classes: labels must be all strings or all numbers")
        if len(set(labels)) != len(labels):
            raise ValueError(f"classes: labels must be distinct, got {short_repr(list(labels))}")
        return cls(activation, task, labels)

    # ---- file config ------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The config keys of a model file; defaults are left out, so a model without an
        output activation writes the same file as before the keys existed."""
        out: dict[str, Any] = {}
        if self.activation != "identity":
            out["output_activation"] = self.activation
        if self.task != "classifier":
            out["task"] = self.task
        if self.classes is not None:
            out["classes"] = list(self.classes)
        return out

    @classmethod
    def from_config(cls, config: dict, output_size: int) -> OutputSpec:
        """The spec of a model file's config, which the file reader (C++, the same rules as
        :meth:`checked`) has already checked."""
        try:
            return cls.checked(
                output_size,
                config.get("output_activation", "identity"),
                config.get("task", "classifier"),
                config.get("classes"),
            )
        except ValueError as e:
            raise ValueError(f"ccinfer.load: CondMLP config {e}") from None

    # ---- applied to logits ------------------------------------------------------------------
    def apply(self, z: np.ndarray) -> np.ndarray:
        """The source network's outputs from the logits ``z`` (float32, last axis: outputs)."""
        if self.activation == "identity":
            return z
        if self.activation == "sigmoid":
            # 1 / (1 + exp(-z)) without overflow for large |z|.
            return np.exp(-np.logaddexp(np.float32(0), -z)).astype(np.float32)
        shifted = z - z.max(axis=-1, keepdims=True)
        log_sum = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        log_p = shifted - log_sum
        return log_p if self.activation == "log_softmax" else np.exp(log_p)

    def proba(self, z: np.ndarray) -> np.ndarray:
        """Class probabilities from the logits: softmax (also for log_softmax outputs),
        per-label sigmoid, or ``[1 - p, p]`` for a single sigmoid output."""
        if self.task != "classifier" or self.activation == "identity":
            raise ValueError(
                f"predict_proba: the outputs of this {self.task} are not probabilities "
                f"(output_activation {self.activation!r}); set output_activation to "
                f"'softmax' or 'sigmoid' if the network was trained with one"
            )
        if self.activation == "log_softmax":
            return np.exp(OutputSpec("log_softmax").apply(z))
        p = self.apply(z)
        if self.activation == "sigmoid" and z.shape[-1] == 1:
            return np.concatenate([1 - p, p], axis=-1)
        return p

    def predict(self, z: np.ndarray) -> np.ndarray:
        """A regressor's outputs (one output: one value per sample), or a classifier's labels
        (class indices without ``classes``; a 0/1 indicator per label for multilabel sigmoid
        outputs)."""
        if self.task == "regressor":
            y = self.apply(z)
            return y[..., 0] if y.shape[-1] == 1 else y
        if self.activation == "sigmoid":
            positive = (self.apply(z) > 0.5).astype(np.int64)
            if z.shape[-1] > 1:
                return positive
            index = positive[..., 0]
        else:
            index = np.argmax(z, axis=-1)
        return index if self.classes is None else np.asarray(self.classes)[index]

    def class_indices(self, y, fn: str) -> np.ndarray:
        """Labels ``y`` as indices of the outputs (what top-1 accuracy compares with the
        argmax): through ``classes`` if the model has them, else ``y`` as given."""
        if self.task != "classifier" or self.activation == "sigmoid":
            raise ValueError(
                f"{fn}: top-1 accuracy needs one output per class; this model is a "
                f"{self.task} with {self.activation} outputs (use min_recall)"
            )
        if np.ndim(y) != 1:
            raise ValueError(f"{fn}: labels must be 1-D, got shape {np.shape(y)}")
        if self.classes is None:
            return np.asarray(y)
        index = {c: i for i, c in enumerate(self.classes)}
        values = np.asarray(y).tolist()
        unknown = [v for v in values if v not in index]
        if unknown:
            raise ValueError(
                f"{fn}: label {short_repr(unknown[0])} is not one of the model's classes "
                f"{short_repr(list(self.classes))}"
            )
        return np.array([index[v] for v in values], dtype=np.int64)


def class_count(output_size: int, activation: str) -> int:
    """Classes of a classifier with these outputs: a single sigmoid output is two classes."""
    return 2 if activation == "sigmoid" and output_size == 1 else output_size


def _label(value, i: int):
    """A class label a JSON config can hold: a string or a finite number (not a bool)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"classes[{i}]: labels must be finite, got {value}")
        return value
    raise ValueError(f"classes[{i}]: labels must be strings or numbers, got {short_repr(value)}")
