"""scikit-learn's ``MLPClassifier`` and ``MLPRegressor`` into a CondMLP, read through their
fitted arrays (``coefs_``, ``intercepts_``, ``classes_``); scikit-learn is imported only when
an estimator is given."""

from __future__ import annotations

import sys
from collections.abc import Sequence

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

    Raises
    ------
    ValueError
        For anything but a fitted ``MLPClassifier`` / ``MLPRegressor`` with
        ``activation='relu'`` (a CondMLP computes ReLU hidden layers).
    """
    name = type(estimator).__name__
    # A fitted scikit-learn MLP means scikit-learn is imported already.
    module = sys.modules.get("sklearn.neural_network")
    mlps = (module.MLPClassifier, module.MLPRegressor) if module else ()
    if type(estimator) not in mlps:
        hint = (
            " (a Pipeline: convert its last step, and apply the steps before it to the "
            "inputs yourself)"
            if name == "Pipeline"
            else ""
        )
        raise ValueError(
            f"from_sklearn: expected a fitted sklearn.neural_network.MLPClassifier or "
            f"MLPRegressor, got {type(estimator).__module__}.{type(estimator).__qualname__}"
            f"{hint}"
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
    weights = [W.T for W in estimator.coefs_]
    biases = list(estimator.intercepts_)
    is_classifier = type(estimator) is mlps[0]
    return CondMLP.from_dense(
        weights,
        biases,
        ranks=ranks,
        tau=tau,
        output_activation=_OUTPUT_ACTIVATIONS[out],
        task="classifier" if is_classifier else "regressor",
        classes=estimator.classes_ if is_classifier else None,
    )
