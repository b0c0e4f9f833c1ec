"""CondMLP: a ReLU network whose hidden layers skip the units a low-rank estimator predicts to
be zero (Davis & Arel 2014; docs/design.md section 1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core
from ._arrays import as_float32_matrix, check_linear_stack
from ._base import ModelBase
from .estimator import truncated_svd
from .io import ModelFile, register_model
from .output_spec import OutputSpec

KERNELS = ("dense", "rows", "input_sparse", "rows_input_sparse")
# What a model file may declare: widths up to 2^20 (as GRUStack), and a bounded layer count.
MAX_WIDTH = 1 << 20
MAX_LAYERS = 1024


@dataclass(frozen=True)
class Estimator:
    """A rank-``r`` sign estimator ``A (B a) + b > tau`` of one layer (``A``: (m, r),
    ``B``: (r, k))."""

    A: np.ndarray
    B: np.ndarray
    tau: float = 0.0

    @property
    def rank(self) -> int:
        return self.A.shape[1]


def _pairs(weights, biases) -> tuple[list[np.ndarray], list[np.ndarray]]:
    weights, biases = list(weights), list(biases)
    if len(weights) != len(biases):
        raise ValueError(f"CondMLP: {len(weights)} weights but {len(biases)} biases")
    return check_linear_stack(list(zip(weights, biases, strict=True)))


class CondMLP(ModelBase):
    """A stack of dense ReLU layers; hidden layers may carry sign estimators, the last layer is
    linear (logits). One call runs the whole network in C++.

    Parameters
    ----------
    weights, biases : sequences of float32 arrays
        ``weights[i]`` has shape ``(out_i, in_i)`` (PyTorch's ``nn.Linear`` layout).
    estimators : sequence of Estimator or None, optional
        One entry per layer (``None``: computed densely). The last entry must be ``None``.
    output_activation : {"identity", "softmax", "log_softmax", "sigmoid"}, optional
        What the source network applied after its last layer. Calling the model always gives
        the last layer's values (logits); :meth:`outputs`, :meth:`predict_proba` and
        :meth:`predict` apply it. Saved with the model.
    task : {"classifier", "regressor"}, optional
        Whether :meth:`predict` gives class labels (argmax, or a 0.5 threshold of sigmoid
        outputs) or the outputs themselves.
    classes : sequence of str or numbers, optional
        A classifier's labels, what :meth:`predict` returns instead of class indices: one per
        output, or ``[negative, positive]`` for a single sigmoid output. Saved with the model.

    Examples
    --------
    >>> model = CondMLP.from_dense(weights, biases, ranks=[50, 35, 25])  # doctest: +SKIP
    >>> logits = model(x)           # x: (784,) or (n, 784) float32      # doctest: +SKIP
    >>> model.stats["layers"][0]["active_fraction"]                      # doctest: +SKIP
    """

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        biases: Sequence[np.ndarray],
        estimators: Sequence[Estimator | None] | None = None,
        *,
        output_activation: str = "identity",
        task: str = "classifier",
        classes: Sequence | None = None,
    ):
        weights, biases = _pairs(weights, biases)
        self._output = OutputSpec.checked(weights[-1].shape[0], output_activation, task, classes)
        estimators = list(estimators) if estimators is not None else [None] * len(weights)
        if len(estimators) != len(weights):
            raise ValueError(f"CondMLP: {len(weights)} layers but {len(estimators)} estimators")
        if estimators[-1] is not None:
            raise ValueError("CondMLP: the output layer cannot have an estimator")
        checked = []
        for i, (W, est) in enumerate(zip(weights, estimators, strict=True)):
            if est is not None:
                A = as_float32_matrix(f"layer {i} estimator A", est.A)
                if A.ndim != 2 or A.shape[0] != W.shape[0]:
                    raise ValueError(
                        f"layer {i} estimator A: expected shape ({W.shape[0]}, r), got {A.shape}"
                    )
                B = as_float32_matrix(f"layer {i} estimator B", est.B, (A.shape[1], W.shape[1]))
                if not np.isfinite(est.tau):
                    raise ValueError(f"layer {i} estimator tau must be finite, got {est.tau}")
                est = Estimator(A, B, float(est.tau))
            checked.append(est)
        self._weights, self._biases, self._estimators = weights, biases, checked
        self.card: dict[str, str] = {}  # free-form strings saved with the model
        self._plan_chosen = False  # by autotune or by hand: then saved with the model
        self._core = _core.CondMLP(
            weights,
            biases,
            [e.A if e else None for e in checked],
            [e.B if e else None for e in checked],
            [e.tau if e else 0.0 for e in checked],
        )

    # ---- construction -----------------------------------------------------------------------
    @classmethod
    def from_dense(
        cls,
        weights,
        biases,
        ranks: Sequence[int | None] | None = None,
        tau: float | Sequence[float] = 0.0,
        *,
        output_activation: str = "identity",
        task: str = "classifier",
        classes: Sequence | None = None,
    ) -> CondMLP:
        """Add estimators to a trained network: truncated SVD of each hidden layer's weights.

        Parameters
        ----------
        ranks : one rank (or None) per hidden layer; None everywhere gives the dense network.
        tau : threshold(s) of the estimators; 0 is the paper's.
        output_activation, task, classes : as in the constructor.
        """
        weights, biases = _pairs(weights, biases)
        hidden = len(weights) - 1
        ranks = [None] * hidden if ranks is None else list(ranks)
        if len(ranks) != hidden:
            raise ValueError(
                f"from_dense: {hidden} hidden layers need {hidden} ranks, got {len(ranks)}"
            )
        taus = [tau] * hidden if np.isscalar(tau) else list(tau)
        if len(taus) != hidden:
            raise ValueError(f"from_dense: need {hidden} taus, got {len(taus)}")
        estimators: list[Estimator | None] = []
        for W, r, t in zip(weights[:hidden], ranks, taus, strict=True):
            estimators.append(None if r is None else Estimator(*truncated_svd(W, int(r)), t))
        return cls(
            weights,
            biases,
            [*estimators, None],
            output_activation=output_activation,
            task=task,
            classes=classes,
        )

    @classmethod
    def from_torch(cls, module, ranks=None, tau=0.0, *, activation: str | None = None) -> CondMLP:
        """From an ``nn.Sequential`` of ``Linear``/``ReLU`` (``Dropout``, ``Identity`` and a
        leading ``Flatten`` skipped) or its ``state_dict``; estimators as in :meth:`from_dense`.

        Parameters
        ----------
        module : torch.nn.Sequential or its state_dict
            A module is checked layer by layer: any other layer (GELU, Tanh, Softmax,
            normalisation, ...) is refused, naming it. A ``state_dict`` holds only the
            ``Linear`` weights, so it needs ``activation``.
        activation : {"relu"}
            Required with a ``state_dict``: the caller states that every layer but the last is
            followed by a ReLU and the last is linear (no softmax). Optional with a module
            (checked against it).

        Raises
        ------
        ValueError
            For a layer a CondMLP does not compute, a ``state_dict`` without
            ``activation="relu"``, or an object that is neither.
        """
        from .convert.linear import check_activation
        from .convert.torch import linear_stack_from_torch

        if isinstance(module, Mapping) or activation is not None:
            check_activation("CondMLP.from_torch", activation)
        return cls.from_dense(*linear_stack_from_torch(module), ranks=ranks, tau=tau)

    @classmethod
    def from_numpy(cls, params, ranks=None, tau=0.0, *, activation: str | None = None) -> CondMLP:
        """From ``(weight, bias)`` pairs or a ``layers.{i}.weight`` dict of arrays (what JAX,
        Keras or any trainer can produce); estimators as in :meth:`from_dense`.

        ``activation="relu"`` is required: arrays do not say which activation the network
        computes, and a CondMLP computes ReLU between its layers and a linear last layer. A
        network with another activation (tanh, GELU) or a softmax layer is not a CondMLP.
        """
        from .convert.linear import check_activation, linear_stack_from_numpy

        check_activation("CondMLP.from_numpy", activation)
        return cls.from_dense(*linear_stack_from_numpy(params), ranks=ranks, tau=tau)

    @classmethod
    def from_sklearn(cls, estimator, ranks=None, tau=0.0) -> CondMLP:
        """From a fitted scikit-learn ``MLPClassifier`` or ``MLPRegressor`` with ReLU hidden
        layers, alone or last in a ``Pipeline`` of per-feature scalers (folded into the first
        layer): its output activation, task and ``classes_`` come along, so ``predict`` and
        ``predict_proba`` give what the estimator's give (:mod:`ccinfer.convert.sklearn`);
        estimators as in :meth:`from_dense`."""
        from .convert.sklearn import mlp_from_sklearn

        return mlp_from_sklearn(estimator, ranks=ranks, tau=tau)

    @classmethod
    def from_keras(cls, model, ranks=None, tau=0.0) -> CondMLP:
        """From a Keras 3 ``Sequential`` or functional model of Dense layers with ReLU
        between them; a final softmax, log_softmax or sigmoid becomes the
        ``output_activation`` (:mod:`ccinfer.convert.keras`); estimators as in
        :meth:`from_dense`."""
        from .convert.keras import mlp_from_keras

        return mlp_from_keras(model, ranks=ranks, tau=tau)

    def calibrate(
        self,
        X: np.ndarray,
        y: np.ndarray | None = None,
        *,
        max_accuracy_drop: float | None = None,
        min_recall: float | None = None,
        ranks: Sequence[int] | None = None,
        tau_scales: Sequence[float] | None = None,
    ) -> dict:
        """Choose rank and tau of every hidden layer's estimator from data, doing the least
        work within the bound, and install them (see :mod:`ccinfer.calibrate`).

        Parameters
        ----------
        X, y : calibration inputs (n, in) float32 and labels (n,) (labels needed for
            ``max_accuracy_drop``): class indices, or for a model with ``classes`` its
            labels.
        max_accuracy_drop : largest allowed drop of top-1 accuracy, a fraction (0.001 = 0.1
            points), against the dense network on this data.
        min_recall : alternatively, the smallest share of truly positive units each layer
            must compute.

        Returns
        -------
        dict
            The choice per layer (rank, tau, active fraction, recall, MACs per sample) and
            the dense and final accuracy on the calibration data.
        """
        from . import calibrate as cal

        if max_accuracy_drop is not None and y is not None:
            y = self._output.class_indices(y, "CondMLP.calibrate")
        estimators, report = cal.calibrate(
            self._weights,
            self._biases,
            X,
            y,
            max_accuracy_drop=max_accuracy_drop,
            min_recall=min_recall,
            ranks=cal.DEFAULT_RANKS if ranks is None else ranks,
            tau_scales=cal.DEFAULT_TAU_SCALES if tau_scales is None else tau_scales,
        )
        rebuilt = CondMLP(
            self._weights,
            self._biases,
            [None if e is None else Estimator(*e) for e in estimators],
            **self._output_kwargs(),
        )
        self._estimators, self._core = rebuilt._estimators, rebuilt._core
        self._plan_chosen = False
        return report

    # ---- inference --------------------------------------------------------------------------
    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Logits for ``x`` of shape ``(in,)`` or ``(n, in)``, float32 C-contiguous, every value
        finite (a NaN or an infinity is a ValueError naming the first one: README)."""
        return self._core.forward(x)

    step = __call__

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """What the source network returns: the logits through :attr:`output_activation`."""
        return self._output.apply(self(x))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """A classifier's labels (``classes``, else class indices: the argmax of the logits,
        or a 0.5 threshold of sigmoid outputs), or a regressor's outputs."""
        return self._output.predict(self(X))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities: softmax (for softmax and log_softmax outputs), per-label
        sigmoid, or ``[1 - p, p]`` for a single sigmoid output (scikit-learn's columns). A
        ValueError for a regressor or identity outputs (logits are not probabilities)."""
        return self._output.proba(self(X))

    def predict_log_proba(self, X: np.ndarray) -> np.ndarray:
        """The logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    @property
    def output_activation(self) -> str:
        """``identity``, ``softmax``, ``log_softmax`` or ``sigmoid``: applied after the last
        layer by :meth:`outputs`, :meth:`predict_proba` and :meth:`predict`."""
        return self._output.activation

    @property
    def task(self) -> str:
        """``classifier`` or ``regressor``: what :meth:`predict` returns."""
        return self._output.task

    @property
    def classes(self) -> np.ndarray | None:
        """A classifier's labels, or None (predict gives class indices)."""
        return None if self._output.classes is None else np.asarray(self._output.classes)

    def _output_kwargs(self) -> dict[str, Any]:
        spec = self._output
        return {"output_activation": spec.activation, "task": spec.task, "classes": spec.classes}

    @property
    def sizes(self) -> list[int]:
        """The input width, then the width of every layer."""
        return [self._weights[0].shape[1], *(W.shape[0] for W in self._weights)]

    @property
    def input_size(self) -> int:
        return int(self._weights[0].shape[1])

    @property
    def output_size(self) -> int:
        return int(self._weights[-1].shape[0])

    # The names of TreeGatedLinear and Sequential (and nn.Linear), for the same sizes.
    in_features = input_size
    out_features = output_size

    def __repr__(self) -> str:
        layers = " -> ".join(
            f"{W.shape[0]}" + (f"[rank {e.rank}]" if e is not None else "")
            for W, e in zip(self._weights, self._estimators, strict=True)
        )
        tuned = " (chosen)" if self._plan_chosen else ""
        if self.output_activation != "identity":
            layers += f" -> {self.output_activation}"
        return (
            f"CondMLP({self.input_size} -> {layers}, weights=float32, "
            f"plan=[{', '.join(self.plan)}]{tuned})"
        )

    @property
    def estimators(self) -> list[Estimator | None]:
        return list(self._estimators)

    @property
    def weights(self) -> list[np.ndarray]:
        return list(self._weights)

    @property
    def biases(self) -> list[np.ndarray]:
        return list(self._biases)

    @property
    def estimators_enabled(self) -> bool:
        """False runs the control: every layer dense, no estimator."""
        return self._core.estimators_enabled

    @estimators_enabled.setter
    def estimators_enabled(self, on: bool) -> None:
        self._core.estimators_enabled = bool(on)

    # ---- plan -------------------------------------------------------------------------------
    @property
    def plan(self) -> list[str]:
        """The kernel each layer runs: ``dense`` (OpenBLAS), ``rows`` (only predicted rows),
        ``input_sparse`` (only non-zero inputs), ``rows_input_sparse`` (both). Assign a list
        to override; :meth:`autotune` chooses by measurement."""
        return self._core.plan

    @plan.setter
    def plan(self, kernels: Sequence[str]) -> None:
        self._core.plan = list(kernels)
        self._plan_chosen = True

    @property
    def single_sample_threads(self) -> int:
        """Threads a single-sample call uses (0: all of ``ccinfer.get_num_threads()``); chosen
        by :meth:`autotune`, or set by hand. Batches always use all threads."""
        return self._core.single_sample_threads

    @single_sample_threads.setter
    def single_sample_threads(self, n: int) -> None:
        self._core.single_sample_threads = int(n)
        self._plan_chosen = True

    def autotune(self, X: np.ndarray, repeats: int = 5) -> dict[str, list]:
        """Choose each layer's kernel by measurement on samples ``X`` (n, in), single-sample
        path: layer by layer, whole forward passes with each kernel that can run the layer
        (the others on their best so far). Returns the plan and, per layer and kernel, the
        microseconds per sample of the whole forward pass. Finally times the whole pass on one
        thread against all threads and keeps the faster (``single_sample_threads``). The
        choice is saved with the model (:meth:`save`, pickling), so a service that loads the
        file does not tune again."""
        seconds = self._core.autotune(X, repeats)
        self._plan_chosen = True
        return {
            "plan": self.plan,
            "single_sample_threads": self.single_sample_threads,
            "us_per_sample": [
                {k: round(s * 1e6, 2) for k, s in zip(KERNELS, row, strict=True) if np.isfinite(s)}
                for row in seconds
            ],
        }

    # ---- statistics -------------------------------------------------------------------------
    @property
    def track_accuracy(self) -> bool:
        """When True, every forward also computes each hidden layer densely to count the
        estimator's recall and precision (slow: for evaluation only)."""
        return self._core.track_accuracy

    @track_accuracy.setter
    def track_accuracy(self, on: bool) -> None:
        self._core.track_accuracy = bool(on)

    def reset_stats(self) -> None:
        self._core.reset_stats()

    @property
    def stats(self) -> dict:
        """Per layer since the last :meth:`reset_stats`: ``active_fraction`` (units computed),
        ``input_density``, ``recall`` and ``precision`` of the estimator (with
        :attr:`track_accuracy`), ``macs`` done per sample vs ``dense_macs``; and for the whole
        network the flop-bound speed-up of docs/design.md section 1 (dense / conditional FLOPs,
        from the measured active fractions)."""
        raw = self._core.stats()
        layers, f_dense, f_cond = [], 0.0, 0.0
        for i, (s, W) in enumerate(zip(raw["layers"], self._weights, strict=True)):
            m, k = W.shape
            n = max(s["samples"], 1)
            alpha = s["rows_computed"] / (n * m)
            est = self._estimators[i] if self.estimators_enabled else None
            entry = {
                "samples": s["samples"],
                "active_fraction": alpha,
                "input_density": s["inputs_nonzero"] / (n * k),
                "macs": s["macs"] / n,
                "dense_macs": m * k,
            }
            if raw["track_accuracy"] and s["actual_positive"]:
                entry["recall"] = s["true_positive"] / s["actual_positive"]
                entry["precision"] = s["true_positive"] / max(s["rows_computed"], 1)
            layers.append(entry)
            # docs/design.md section 1 (eq. 3.6-3.9) per sample (N = 1): F_dense = (2k-1)m + m,
            # F_cond = (2k-1)r + (2r-1)m + m + alpha((2k-1)m + m).
            dense = (2 * k - 1) * m + m
            f_dense += dense
            f_cond += dense * alpha + (
                (2 * k - 1) * est.rank + (2 * est.rank - 1) * m + m if est else 0.0
            )
        return {
            "layers": layers,
            "flop_bound_speedup": f_dense / f_cond if f_cond else float("nan"),
        }

    # ---- files ------------------------------------------------------------------------------
    def to_model_file(self, card: dict | None = None) -> ModelFile:
        tensors = {}
        for i, (W, b, est) in enumerate(
            zip(self._weights, self._biases, self._estimators, strict=True)
        ):
            tensors[f"layers.{i}.weight"] = W
            tensors[f"layers.{i}.bias"] = b
            if est is not None:
                tensors[f"layers.{i}.estimator.A"] = est.A
                tensors[f"layers.{i}.estimator.B"] = est.B
        config: dict[str, Any] = {
            "sizes": self.sizes,
            "estimators": [
                None if e is None else {"rank": e.rank, "tau": e.tau} for e in self._estimators
            ],
        }
        config.update(self._output.config())
        if self._plan_chosen:
            config["plan"] = self.plan
            config["single_sample_threads"] = self.single_sample_threads
        return ModelFile("CondMLP", config, tensors, dict(card or {}))

    def _runtime(self) -> dict[str, Any]:
        return {
            "estimators_enabled": self.estimators_enabled,
            "track_accuracy": self.track_accuracy,
        }

    def _set_runtime(self, runtime: dict[str, Any]) -> None:
        self.estimators_enabled = runtime["estimators_enabled"]
        self.track_accuracy = runtime["track_accuracy"]

    @classmethod
    def from_model_file(cls, mf: ModelFile) -> CondMLP:
        """The model of a file checked by the reader (io.read_model_file): builds, checks
        nothing the reader has checked."""
        cfg, t = mf.config, mf.tensors
        n_layers = len(cfg["sizes"]) - 1
        weights = [t[f"layers.{i}.weight"] for i in range(n_layers)]
        biases = [t[f"layers.{i}.bias"] for i in range(n_layers)]
        estimators = [
            None
            if spec is None
            else Estimator(
                t[f"layers.{i}.estimator.A"], t[f"layers.{i}.estimator.B"], spec.get("tau", 0.0)
            )
            for i, spec in enumerate(cfg.get("estimators", [None] * n_layers))
        ]
        output = OutputSpec.from_config(cfg, cfg["sizes"][-1])
        model = cls(
            weights,
            biases,
            estimators,
            output_activation=output.activation,
            task=output.task,
            classes=output.classes,
        )
        model.card = mf.card
        # The plan saved with the model, if any (else the default plan is kept).
        if "plan" in cfg:
            model.plan = cfg["plan"]
            model.single_sample_threads = cfg["single_sample_threads"]
        return model


register_model("CondMLP", CondMLP.from_model_file)
