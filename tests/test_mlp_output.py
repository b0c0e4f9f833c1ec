"""A CondMLP's output activation, task and class labels: what ``outputs``, ``predict`` and
``predict_proba`` compute from the logits, and how the file keeps them (docs/format.md)."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest

import ccinfer
from ccinfer import CondMLP, io


def _model(rng, sizes=(6, 9, 4), **output):
    weights = [rng.standard_normal((m, k)).astype(np.float32) for k, m in itertools.pairwise(sizes)]
    biases = [rng.standard_normal(m).astype(np.float32) for m in sizes[1:]]
    return CondMLP.from_dense(weights, biases, ranks=[3] * (len(sizes) - 2), **output)


def _x(rng, n=13, k=6):
    return rng.standard_normal((n, k)).astype(np.float32)


def _softmax64(z):
    z = z.astype(np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_default_is_identity_and_the_file_is_unchanged(rng):
    model = _model(rng)
    assert (model.output_activation, model.task, model.classes) == ("identity", "classifier", None)
    config = model.to_model_file().config
    assert not {"output_activation", "task", "classes"} & set(config)
    x = _x(rng)
    assert np.array_equal(model.outputs(x), model(x))
    assert np.array_equal(model.predict(x), np.argmax(model(x), axis=-1))
    with pytest.raises(ValueError, match=r"not probabilities .*'identity'"):
        model.predict_proba(x)


def test_softmax_and_log_softmax(rng):
    x = _x(rng)
    soft = _model(rng, output_activation="softmax")
    z = soft(x)
    expected = _softmax64(z)
    np.testing.assert_allclose(soft.outputs(x), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(soft.predict_proba(x), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(soft.predict_log_proba(x), np.log(expected), rtol=1e-5, atol=1e-6)
    assert soft.outputs(x).dtype == np.float32
    log = CondMLP(soft.weights, soft.biases, soft.estimators, output_activation="log_softmax")
    np.testing.assert_allclose(log.outputs(x), np.log(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(log.predict_proba(x), expected, rtol=1e-5, atol=1e-7)
    assert np.array_equal(log.predict(x), np.argmax(z, axis=-1))
    # A single sample: the last axis is the outputs.
    np.testing.assert_allclose(soft.outputs(x[0]), expected[0], rtol=1e-5)


def test_softmax_of_huge_logits_is_finite(rng):
    model = _model(rng, output_activation="softmax")
    W = [w * 1e4 for w in model.weights]
    big = CondMLP(W, model.biases, output_activation="softmax")
    p = big.predict_proba(_x(rng))
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)


def test_sigmoid_binary_and_multilabel(rng):
    x = _x(rng, n=200)
    binary = _model(rng, sizes=(6, 9, 1), output_activation="sigmoid", classes=["no", "yes"])
    z = binary(x).astype(np.float64)
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(binary.outputs(x), p, rtol=1e-5)
    np.testing.assert_allclose(binary.predict_proba(x), np.hstack([1 - p, p]), rtol=1e-5)
    labels = binary.predict(x)
    assert labels.shape == (200,)
    assert set(labels) == {"no", "yes"}  # the random network gives both
    assert np.array_equal(labels, np.where(p[:, 0] > 0.5, "yes", "no"))
    multi = _model(rng, sizes=(6, 9, 3), output_activation="sigmoid")
    z = multi(x).astype(np.float64)
    assert np.array_equal(multi.predict(x), (z > 0).astype(np.int64))
    np.testing.assert_allclose(multi.predict_proba(x), 1 / (1 + np.exp(-z)), rtol=1e-5)


def test_sigmoid_of_huge_logits_saturates_without_warnings(rng):
    model = _model(rng, sizes=(6, 9, 2), output_activation="sigmoid")
    big = CondMLP([w * 1e4 for w in model.weights], model.biases, output_activation="sigmoid")
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = big.outputs(_x(rng))
    assert ((p >= 0) & (p <= 1)).all() and {0.0, 1.0} <= set(np.unique(p))


def test_classes_and_regressor(rng):
    x = _x(rng)
    clf = _model(rng, output_activation="softmax", classes=[3, 1, 4, 15])
    assert np.array_equal(clf.predict(x), np.array([3, 1, 4, 15])[np.argmax(clf(x), axis=1)])
    reg = _model(rng, task="regressor")
    assert np.array_equal(reg.predict(x), reg(x))
    one = _model(rng, sizes=(6, 9, 1), task="regressor")
    assert np.array_equal(one.predict(x), one(x)[:, 0])
    with pytest.raises(ValueError, match="regressor are not probabilities"):
        reg.predict_proba(x)


@pytest.mark.parametrize(
    ("output", "match"),
    [
        ({"output_activation": "tanh"}, r"output_activation must be one of \['identity'"),
        ({"output_activation": "Softmax"}, "output_activation must be one of"),
        ({"task": "ranker"}, "task must be one of"),
        ({"classes": [0, 1, 2]}, "4 labels needed for 4 identity output"),
        ({"classes": [0, 1, 1, 2]}, "labels must be distinct"),
        ({"classes": ["a", 1, 2, 3]}, "all strings or all numbers"),
        ({"classes": [0, 1, None, 2]}, r"classes\[2\]: labels must be strings or numbers"),
        ({"classes": [0, 1, True, 2]}, r"classes\[2\]"),
        ({"classes": [0, 1, float("nan"), 2]}, "finite"),
        ({"classes": "abcd"}, "expected a sequence of labels"),
        ({"task": "regressor", "classes": [0, 1, 2, 3]}, "only a classifier"),
    ],
)
def test_bad_output_specs_are_refused(rng, output, match):
    with pytest.raises(ValueError, match=match):
        _model(rng, **output)


def test_sigmoid_single_output_needs_two_classes(rng):
    with pytest.raises(ValueError, match="2 labels needed for 1 sigmoid output"):
        _model(rng, sizes=(6, 9, 1), output_activation="sigmoid", classes=[1])


@pytest.mark.parametrize(
    "output",
    [
        {"output_activation": "softmax", "classes": ["cat", "dog", "emu", "fox"]},
        {"output_activation": "log_softmax", "classes": [2.5, -1.0, 7.0, 0.0]},
        {"output_activation": "sigmoid", "classes": np.array([10, 20, 30, 40])},
        {"task": "regressor"},
    ],
)
def test_save_load_pickle_and_native_reader_keep_the_outputs(rng, tmp_path, output):
    model = _model(rng, **output)
    x = _x(rng)
    path = tmp_path / "m.safetensors"
    model.save(path)
    copies = [
        ccinfer.load(path),
        CondMLP.from_bytes(model.to_bytes()),
        pickle.loads(pickle.dumps(model)),
    ]
    # The file's config as the (C++) reader returns it holds the spec as written.
    assert io.read_model_file(path).config.get("output_activation", "identity") == (
        model.output_activation
    )
    for copy in copies:
        assert (copy.output_activation, copy.task) == (model.output_activation, model.task)
        assert np.array_equal(copy.outputs(x), model.outputs(x))
        assert np.array_equal(copy.predict(x), model.predict(x))
        if model.task == "classifier":
            assert np.array_equal(copy.classes, model.classes)
            assert copy.classes.dtype == model.classes.dtype
            assert np.array_equal(copy.predict_proba(x), model.predict_proba(x))


def test_calibrate_keeps_the_outputs(rng):
    model = _model(rng, output_activation="softmax", classes=list("abcd"))
    x = _x(rng, n=300)
    model.estimators_enabled = False
    labels = model.predict(x)  # the dense network's own labels: dense accuracy 1
    report = model.calibrate(x, labels, max_accuracy_drop=0.05)
    assert model.output_activation == "softmax" and list(model.classes) == list("abcd")
    assert report["dense_accuracy"] == 1
    assert (model.predict(x) == labels).mean() >= 0.95


def _with_config(model, **changes):
    mf = model.to_model_file()
    mf.config.update(changes)
    return io.model_file_bytes(mf)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"output_activation": "relu"}, "CondMLP config 'output_activation' must be one of"),
        ({"output_activation": 1}, "CondMLP config 'output_activation' must be one of"),
        ({"task": "classify"}, "CondMLP config 'task' must be one of"),
        ({"classes": {"a": 1}}, "CondMLP config 'classes' must be a list of 1 to 1048576"),
        ({"classes": []}, "CondMLP config 'classes' must be a list of 1 to 1048576"),
        ({"classes": [0, 1]}, "CondMLP config classes: 4 labels needed for 4 softmax output"),
        ({"classes": [0, 1, [2], 3]}, r"CondMLP config classes\[2\]: labels must be strings or"),
        ({"classes": [0, 1, False, 3]}, r"CondMLP config classes\[2\]: labels must be strings"),
        ({"classes": ["0", 1, 2, 3]}, "CondMLP config classes: labels must be all strings or"),
        ({"classes": [0, 1, 1.0, 3]}, "CondMLP config classes: labels must be distinct"),
        ({"task": "regressor", "classes": [0, 1, 2, 3]}, "only a classifier has class labels"),
    ],
)
def test_bad_output_configs_are_refused_by_the_reader(rng, changes, match):
    blob = _with_config(_model(rng, output_activation="softmax"), **changes)
    with pytest.raises(ValueError, match=match):
        ccinfer.load(blob)
    with pytest.raises(ValueError, match=match):
        io.read_model_bytes(blob, "<bytes>")


def test_null_classes_load_as_none(rng):
    blob = _with_config(_model(rng), classes=None)
    assert ccinfer.load(blob).classes is None


def test_repr_names_the_output_activation(rng):
    assert "-> softmax" in repr(_model(rng, output_activation="softmax"))
    assert "softmax" not in repr(_model(rng))
