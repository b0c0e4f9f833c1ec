"""scikit-learn MLPs into CondMLPs: the estimator's own predictions reproduced (float32,
1e-5), on random inputs and on a network fitted to the digits data set shipped with
scikit-learn; calibration, files and pickles keep them; anything else refused by name."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import ccinfer
from ccinfer import CondMLP

from ._optional import require

require("sklearn", "CCINFER_REQUIRE_SKLEARN")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import (  # noqa: E402
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    StandardScaler,
)

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


@pytest.fixture(scope="module")
def digits_mlp(digits):
    """A 64-64-32-10 ReLU network fitted for a moment on the first 1200 digits."""
    X, y = digits
    mlp = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=60, random_state=0)
    return _fit(mlp, X[:1200], y[:1200])


def _random(rng, n, k):
    return rng.standard_normal((n, k)).astype(np.float32)


def test_multiclass_reproduces_predict_proba_and_predict(digits, digits_mlp, rng):
    X, y = digits
    model = CondMLP.from_sklearn(digits_mlp)
    assert (model.output_activation, model.task) == ("softmax", "classifier")
    assert model.sizes == [64, 64, 32, 10]
    for x in (X[1200:], _random(rng, 300, 64)):
        np.testing.assert_allclose(model.predict_proba(x), digits_mlp.predict_proba(x), **TOL)
        assert np.array_equal(model.predict(x), digits_mlp.predict(x))
    # The fitted network is a real one: held-out accuracy well above chance.
    assert (model.predict(X[1200:]) == y[1200:]).mean() > 0.9


def test_string_labels_come_back(digits, rng):
    X, y = digits
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    mlp = _fit(
        MLPClassifier(hidden_layer_sizes=(20,), max_iter=20, random_state=1),
        X[:600],
        names[y[:600]],
    )
    model = CondMLP.from_sklearn(mlp)
    assert list(model.classes) == list(mlp.classes_)
    assert np.array_equal(model.predict(X[600:900]), mlp.predict(X[600:900]))


def test_binary_is_a_sigmoid_with_two_columns(digits, rng):
    X, y = digits
    labels = np.where(y % 2, "odd", "even")
    mlp = _fit(
        MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=40, random_state=2),
        X[:800],
        labels[:800],
    )
    assert mlp.out_activation_ == "logistic"
    model = CondMLP.from_sklearn(mlp)
    assert (model.output_activation, model.output_size) == ("sigmoid", 1)
    for x in (X[800:], _random(rng, 200, 64)):
        np.testing.assert_allclose(model.predict_proba(x), mlp.predict_proba(x), **TOL)
        assert np.array_equal(model.predict(x), mlp.predict(x))


def test_multilabel_gives_an_indicator_matrix(digits, rng):
    X, y = digits
    Y = np.stack([y % 2, y > 4, y == 0], axis=1).astype(int)
    mlp = _fit(
        MLPClassifier(hidden_layer_sizes=(24,), max_iter=40, random_state=3), X[:800], Y[:800]
    )
    model = CondMLP.from_sklearn(mlp)
    x = X[800:]
    np.testing.assert_allclose(model.predict_proba(x), mlp.predict_proba(x), **TOL)
    assert np.array_equal(model.predict(x), mlp.predict(x))


@pytest.mark.parametrize("outputs", [1, 3])
def test_regressor_reproduces_predict(rng, outputs):
    X = _random(rng, 400, 7)
    Y = np.sin(X[:, :outputs]) + X[:, 1:2] ** 2
    mlp = _fit(
        MLPRegressor(hidden_layer_sizes=(32, 16), max_iter=50, random_state=4),
        X,
        Y[:, 0] if outputs == 1 else Y,
    )
    model = CondMLP.from_sklearn(mlp)
    assert (model.output_activation, model.task, model.classes) == ("identity", "regressor", None)
    x = _random(rng, 100, 7)
    assert model.predict(x).shape == mlp.predict(x).shape
    np.testing.assert_allclose(model.predict(x), mlp.predict(x), **TOL)
    with pytest.raises(ValueError, match="regressor are not probabilities"):
        model.predict_proba(x)


def test_square_layers_are_transposed(rng):
    """A network of square layers: an untransposed kernel would load and be silently wrong."""
    X = _random(rng, 300, 8)
    mlp = _fit(
        MLPClassifier(hidden_layer_sizes=(8, 8), max_iter=30, random_state=5),
        X,
        (X[:, 0] > X[:, 1]) + 2 * (X[:, 2] > 0),
    )
    model = CondMLP.from_sklearn(mlp)
    np.testing.assert_allclose(model.predict_proba(X), mlp.predict_proba(X), **TOL)


def test_estimators_and_calibration_on_the_imported_network(digits, digits_mlp):
    X, y = digits
    ranked = CondMLP.from_sklearn(digits_mlp, ranks=[16, 8])
    assert [e.rank if e else None for e in ranked.estimators] == [16, 8, None]
    model = CondMLP.from_sklearn(digits_mlp)
    calib_x, calib_y = X[1200:], y[1200:]
    dense = (model.predict(calib_x) == calib_y).mean()
    report = model.calibrate(calib_x, calib_y, max_accuracy_drop=0.01, ranks=(4, 8, 16, 32))
    assert any(e is not None for e in model.estimators)
    conditional = (model.predict(calib_x) == calib_y).mean()
    assert dense - conditional <= 0.01 + 1e-9
    assert report["accuracy"] == pytest.approx(conditional)
    assert model.output_activation == "softmax" and list(model.classes) == list(range(10))
    model.reset_stats()
    model(calib_x)
    assert model.stats["layers"][0]["active_fraction"] < 1


def test_calibration_takes_the_estimators_labels(digits):
    X, y = digits
    letters = np.array(list("abcdefghij"))
    mlp = _fit(
        MLPClassifier(hidden_layer_sizes=(32,), max_iter=30, random_state=6),
        X[:900],
        letters[y[:900]],
    )
    model = CondMLP.from_sklearn(mlp)
    report = model.calibrate(X[900:], letters[y[900:]], max_accuracy_drop=0.02, ranks=(4, 8, 16))
    assert report["accuracy"] == pytest.approx((model.predict(X[900:]) == letters[y[900:]]).mean())
    with pytest.raises(ValueError, match="label 'z' is not one of the model's classes"):
        model.calibrate(X[:5], np.array(list("abcdz")), max_accuracy_drop=0.02)


def test_files_and_pickles_keep_predict_proba(digits, digits_mlp, tmp_path):
    X, _ = digits
    model = CondMLP.from_sklearn(digits_mlp, ranks=[16, 8])
    path = tmp_path / "digits.safetensors"
    model.save(path)
    for copy in (ccinfer.load(path), pickle.loads(pickle.dumps(model)), CondMLP.load(path)):
        assert np.array_equal(copy.predict_proba(X), model.predict_proba(X))
        assert np.array_equal(copy.predict(X), model.predict(X))
        assert copy.classes.dtype == digits_mlp.classes_.dtype


@pytest.mark.parametrize("activation", ["tanh", "logistic", "identity"])
def test_other_hidden_activations_are_refused(rng, activation):
    X = _random(rng, 50, 4)
    mlp = _fit(
        MLPClassifier(hidden_layer_sizes=(5,), activation=activation, max_iter=5), X, X[:, 0] > 0
    )
    with pytest.raises(ValueError, match=f"MLPClassifier\\(activation='{activation}'\\)"):
        CondMLP.from_sklearn(mlp)


def test_a_poisson_regressor_is_refused(rng):
    X = _random(rng, 50, 4)
    mlp = _fit(
        MLPRegressor(hidden_layer_sizes=(5,), loss="poisson", max_iter=5), X, np.exp(X[:, 0])
    )
    with pytest.raises(ValueError, match="MLPRegressor output activation 'exp'"):
        CondMLP.from_sklearn(mlp)


def test_other_estimators_are_refused_by_name(rng):
    X = _random(rng, 50, 4)
    y = X[:, 0] > 0
    with pytest.raises(ValueError, match="not fitted"):
        CondMLP.from_sklearn(MLPClassifier())
    with pytest.raises(ValueError, match=r"sklearn\.linear_model\._logistic\.LogisticRegression"):
        CondMLP.from_sklearn(LogisticRegression().fit(X, y))
    pipe = _fit(make_pipeline(StandardScaler(), LogisticRegression()), X, y)
    with pytest.raises(ValueError, match=r"alone or last in a Pipeline.*LogisticRegression"):
        CondMLP.from_sklearn(pipe)

    class Tweaked(MLPClassifier):
        pass

    with pytest.raises(ValueError, match="Tweaked"):
        CondMLP.from_sklearn(_fit(Tweaked(hidden_layer_sizes=(5,), max_iter=5), X, y))


def test_the_array_route_points_at_this_one(digits_mlp):
    """Untransposed coefs_ through from_numpy say what they are instead of a bias mismatch."""
    pairs = list(zip(digits_mlp.coefs_, digits_mlp.intercepts_, strict=True))
    with pytest.raises(ValueError, match=r"\(in, out\) kernel.*CondMLP.from_sklearn"):
        CondMLP.from_numpy(pairs, activation="relu")
    with pytest.raises(
        ValueError, match=r"got a MLPClassifier, not arrays: use CondMLP\.from_sklearn"
    ):
        CondMLP.from_numpy(digits_mlp, activation="relu")
    transposed = [(W.T, b) for W, b in pairs]
    x = np.random.default_rng(0).random((20, 64), dtype=np.float32)
    np.testing.assert_allclose(
        CondMLP.from_numpy(transposed, activation="relu")(x),
        CondMLP.from_sklearn(digits_mlp)(x),
    )


# ---- pipelines: scalers folded into the first layer --------------------------------------------


@pytest.mark.parametrize(
    "scalers",
    [
        [StandardScaler()],
        [StandardScaler(with_mean=False)],
        [StandardScaler(with_std=False)],
        [MinMaxScaler(feature_range=(-1, 2))],
        [MaxAbsScaler()],
        [MinMaxScaler(), "passthrough", StandardScaler()],
    ],
    ids=["standard", "standard-no-mean", "standard-no-std", "minmax", "maxabs", "chain"],
)
def test_pipeline_scalers_fold_into_the_first_layer(digits, rng, scalers):
    """The converted model reads raw features and predicts what the pipeline predicts."""
    X, y = digits
    steps = [(f"s{i}", step) for i, step in enumerate(scalers)]
    mlp = MLPClassifier(hidden_layer_sizes=(32,), max_iter=40, random_state=0)
    pipe = _fit(Pipeline([*steps, ("mlp", mlp)]), X[:1000], y[:1000])
    model = CondMLP.from_sklearn(pipe)
    assert model.sizes == [64, 32, 10] and list(model.classes) == list(pipe.classes_)
    for x in (X[1000:], _random(rng, 200, 64)):
        np.testing.assert_allclose(model.predict_proba(x), pipe.predict_proba(x), **TOL)
        np.testing.assert_array_equal(model.predict(x), pipe.predict(x))


def test_pipeline_regressor(rng):
    X = _random(rng, 400, 6) * 10 + 3
    y = X[:, :2] @ np.array([[1.0, -2.0], [0.5, 1.0]])
    pipe = _fit(
        make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(16,), max_iter=50)), X, y
    )
    model = CondMLP.from_sklearn(pipe)
    np.testing.assert_allclose(model.predict(X), pipe.predict(X), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (PCA(n_components=4), r"step 'bad' \(sklearn\.decomposition.*PCA\) is not supported"),
        (Normalizer(), r"step 'bad' .*Normalizer\) is not supported"),
        (MinMaxScaler(clip=True), "clip=True, which is not affine"),
    ],
)
def test_pipeline_steps_that_do_not_fold_are_refused_by_name(rng, step, message):
    X = _random(rng, 100, 8)
    y = X[:, 0] > 0
    mlp = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5)
    pipe = _fit(Pipeline([("bad", step), ("mlp", mlp)]), X, y)
    with pytest.raises(ValueError, match=message):
        CondMLP.from_sklearn(pipe)


def test_unfitted_or_empty_pipeline_is_refused():
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier())])
    with pytest.raises(ValueError, match="not fitted"):
        CondMLP.from_sklearn(pipe)
    with pytest.raises(ValueError, match="the Pipeline has no steps"):
        CondMLP.from_sklearn(Pipeline([]))


def test_scalers_fitted_on_other_widths_are_refused(rng):
    """A pipeline whose steps were fitted apart (set by hand) and do not fit together."""
    X = _random(rng, 100, 6)
    y = X[:, 0] > 0
    mlp = _fit(MLPClassifier(hidden_layer_sizes=(4,), max_iter=5), X, y)
    narrow = StandardScaler().fit(X[:, :4])
    with pytest.raises(ValueError, match="scalers have 4 features, the MLP reads 6"):
        CondMLP.from_sklearn(Pipeline([("scale", narrow), ("mlp", mlp)]))
    wide = StandardScaler().fit(X)
    steps = [("a", narrow), ("b", wide), ("mlp", mlp)]
    with pytest.raises(ValueError, match="step 'b' has 6 features, the step before it 4"):
        CondMLP.from_sklearn(Pipeline(steps))
