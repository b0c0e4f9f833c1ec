"""scikit-learn's ``MLPClassifier`` and ``MLPRegressor`` into a CondMLP, read through their
fitted arrays (``coefs_``, ``intercepts_``, ``classes_``), alone or at the end of a
``Pipeline`` whose earlier steps are per-feature scalers (folded into the first layer);
scikit-learn is imported only when an estimator is given."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from ..mlp import CondMLP

# scikit-learn's name for the output activation it chose when fitting -> a CondMLP's.
_OUTPUT_ACTIVATIONS = {"identity": "identity", "softmax": "softmax", "logistic": "sigmoid"}


def mlp_from_sklearn(
    estimator, ranks: Sequence[int | None] | None = None, tau: float | Sequence[float] = 0.0
) -> CondMLP:
    """A CondMLP computing what a fitted ``MLPClassifier`` or ``MLPRegressor`` computes.

    ``coefs_[i]`` is ``(in, out)`` and is transposed to the engine's ``(out, in)``. The output
    activation scikit-learn applies (softmax for multiclass, logistic for binary and
    multilabel, identity for regression) becomes the model's ``output_activation``, and a
    classifier's ``classes_`` its ``classes``, so ``predict`` and ``predict_proba`` give what
    the estimator's give. Estimators are added as in :meth:`CondMLP.from_dense`.

    A ``Pipeline`` ending in such an MLP is taken when every step before it is a
    per-feature affine scaler: ``StandardScaler``, ``MinMaxScaler`` (without ``clip``),
    ``MaxAbsScaler``, or ``"passthrough"``. Their map ``x' = a * x + c`` is folded into the
    first layer exactly (``W' = W diag(a)``, ``b' = b + W c``), so the model reads the raw
    features, as the pipeline does; a feature that was zero stays zero, which keeps the input
    as sparse as it was for the engine's sparse-input kernel.

    Raises
    ------
    ValueError
        For anything but a fitted ``MLPClassifier`` / ``MLPRegressor`` with
        ``activation='relu'`` (a CondMLP computes ReLU hidden layers), alone or after the
        scalers above; the message names the step and class refused.
    """
    scale, offset = None, None
    if type(estimator).__name__ == "Pipeline" and hasattr(estimator, "steps"):
        if not estimator.steps:
            raise ValueError("from_sklearn: the Pipeline has no steps")
        *before, (_, estimator) = estimator.steps
        scale, offset = _scalers_map(before)
    name = type(estimator).__name__
    # A fitted scikit-learn MLP means scikit-learn is imported already.
    module = sys.modules.get("sklearn.neural_network")
    mlps = (module.MLPClassifier, module.MLPRegressor) if module else ()
    if type(estimator) not in mlps:
        raise ValueError(
            f"from_sklearn: expected a fitted sklearn.neural_network.MLPClassifier or "
            f"MLPRegressor (alone or last in a Pipeline), got "
            f"{type(estimator).__module__}.{type(estimator).__qualname__}"
        )
    if not hasattr(estimator, "coefs_"):
        raise ValueError(f"from_sklearn: this {name} is not fitted (call fit first)")
    if estimator.activation != "relu":
        raise ValueError(
            f"from_sklearn: {name}(activation={estimator.activation!r}) is not supported: a "
            f"CondMLP computes ReLU hidden layers (activation='relu')"
        )
    out = estimator.out_activation_
    if out not in _OUTPUT_ACTIVATIONS:
        raise ValueError(f"from_sklearn: {name} output activation {out!r} is not supported")
    weights = [np.asarray(W, np.float64).T for W in estimator.coefs_]
    biases = [np.asarray(b, np.float64) for b in estimator.intercepts_]
    if scale is not None:
        if len(scale) != weights[0].shape[1]:
            raise ValueError(
                f"from_sklearn: the pipeline's scalers have {len(scale)} features, the MLP "
                f"reads {weights[0].shape[1]}"
            )
        biases[0] = biases[0] + weights[0] @ offset
        weights[0] = weights[0] * scale
    is_classifier = type(estimator) is mlps[0]
    return CondMLP.from_dense(
        [W.astype(np.float32) for W in weights],
        [b.astype(np.float32) for b in biases],
        ranks=ranks,
        tau=tau,
        output_activation=_OUTPUT_ACTIVATIONS[out],
        task="classifier" if is_classifier else "regressor",
        classes=estimator.classes_ if is_classifier else None,
    )


def _scalers_map(steps) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The per-feature ``x' = a * x + c`` of a Pipeline's steps before its MLP, composed in
    float64; (None, None) if there are none."""
    scale, offset = None, None
    for step_name, step in steps:
        if step is None or step == "passthrough":
            continue
        a, c = _scaler_map(step_name, step)
        if scale is None:
            scale, offset = a, c
        else:
            if len(a) != len(scale):
                raise ValueError(
                    f"from_sklearn: pipeline step {step_name!r} has {len(a)} features, the "
                    f"step before it {len(scale)}"
                )
            scale, offset = a * scale, a * offset + c
    return scale, offset


def _scaler_map(step_name: str, step) -> tuple[np.ndarray, np.ndarray]:
    """``(a, c)`` with ``step.transform(x) == a * x + c`` per feature, for the scalers taken."""
    kind = type(step).__name__
    module = type(step).__module__
    where = f"pipeline step {step_name!r} ({module}.{kind})"
    if not module.startswith("sklearn.preprocessing"):
        kind = "other"
    if kind in ("StandardScaler", "MinMaxScaler", "MaxAbsScaler") and not hasattr(
        step, "n_features_in_"
    ):
        raise ValueError(f"from_sklearn: {where} is not fitted (call fit first)")
    if kind == "StandardScaler":
        # mean_ is kept even when with_mean=False: the flags say what transform applies.
        n = step.n_features_in_
        a = 1.0 / np.asarray(step.scale_, np.float64) if step.with_std else np.ones(n)
        mean = np.asarray(step.mean_, np.float64) if step.with_mean else np.zeros(n)
        return a, -mean * a
    if kind == "MinMaxScaler":
        if step.clip:
            raise ValueError(
                f"from_sklearn: {where} has clip=True, which is not affine and cannot be "
                f"folded into the first layer"
            )
        return np.asarray(step.scale_, np.float64), np.asarray(step.min_, np.float64)
    if kind == "MaxAbsScaler":
        return 1.0 / np.asarray(step.scale_, np.float64), np.zeros(step.n_features_in_)
    raise ValueError(
        f"from_sklearn: {where} is not supported: only StandardScaler, MinMaxScaler "
        f"(clip=False) and MaxAbsScaler before the MLP are folded into it; apply other "
        f"steps to the inputs yourself and convert the MLP"
    )
