"""Keras 3 models into ccinfer models: Dense stacks into CondMLPs and GRU models into
GRUStacks, reproducing Keras' own outputs (float32, 1e-5) on random weights and inputs and on
a network fitted to scikit-learn's digits; anything else refused, naming the layer."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import ccinfer
from ccinfer import CondMLP, GRUStack
from ccinfer.convert import from_keras

from ._optional import require_keras

keras = require_keras()
layers = keras.layers

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _randomize(model, rng, scale=0.5):
    """Random values for every weight, biases included (Keras initialises those to zero)."""
    model.set_weights([scale * rng.standard_normal(w.shape) for w in model.get_weights()])
    return model


def _keras(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def _x(rng, n, *shape):
    return rng.standard_normal((n, *shape)).astype(np.float32)


def test_sequential_dense_softmax(rng):
    model = _randomize(
        keras.Sequential(
            [
                keras.Input((12,)),
                layers.Dense(20, activation="relu"),
                layers.Dropout(0.3),
                layers.Dense(16, activation="relu"),
                layers.Dense(5, activation="softmax"),
            ]
        ),
        rng,
    )
    cond = CondMLP.from_keras(model)
    assert cond.sizes == [12, 20, 16, 5] and cond.output_activation == "softmax"
    x = _x(rng, 64, 12)
    np.testing.assert_allclose(cond.outputs(x), _keras(model, x), **TOL)
    np.testing.assert_allclose(cond.predict_proba(x), _keras(model, x), **TOL)
    assert np.array_equal(cond.predict(x), _keras(model, x).argmax(axis=1))
    ranked = CondMLP.from_keras(model, ranks=[4, 4])
    assert [e.rank if e else None for e in ranked.estimators] == [4, 4, None]


def test_functional_with_activation_layers_and_flatten(rng):
    inputs = keras.Input((3, 4))
    h = layers.Flatten()(inputs)
    h = layers.Dense(9)(h)
    h = layers.ReLU()(h)
    h = layers.Dense(7, use_bias=False)(h)
    h = layers.Activation("relu")(h)
    h = layers.Dense(3)(h)
    outputs = layers.Activation("sigmoid")(h)
    model = _randomize(keras.Model(inputs, outputs), rng)
    cond = from_keras(model)
    assert isinstance(cond, CondMLP) and cond.output_activation == "sigmoid"
    x = _x(rng, 40, 3, 4)
    np.testing.assert_allclose(cond.outputs(x.reshape(40, 12)), _keras(model, x), **TOL)


@pytest.mark.parametrize(
    ("last", "expected"), [("linear", "identity"), ("log_softmax", "log_softmax")]
)
def test_output_activations(rng, last, expected):
    model = _randomize(
        keras.Sequential([keras.Input((6,)), layers.Dense(8, "relu"), layers.Dense(4, last)]), rng
    )
    cond = CondMLP.from_keras(model)
    assert cond.output_activation == expected
    x = _x(rng, 30, 6)
    np.testing.assert_allclose(cond.outputs(x), _keras(model, x), **TOL)


def test_a_softmax_layer_is_the_output_activation(rng):
    model = _randomize(
        keras.Sequential(
            [keras.Input((6,)), layers.Dense(8, "relu"), layers.Dense(4), layers.Softmax()]
        ),
        rng,
    )
    cond = CondMLP.from_keras(model)
    x = _x(rng, 30, 6)
    np.testing.assert_allclose(cond.predict_proba(x), _keras(model, x), **TOL)


def test_a_fitted_network_on_digits(tmp_path):
    load_digits = pytest.importorskip("sklearn.datasets").load_digits
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(48, "relu"),
            layers.Dense(24, "relu"),
            layers.Dense(10, "softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(X[:1200], y[:1200], epochs=8, batch_size=64, verbose=0)
    cond = CondMLP.from_keras(model)
    held_out = X[1200:]
    expected = _keras(model, held_out)
    np.testing.assert_allclose(cond.predict_proba(held_out), expected, **TOL)
    assert np.array_equal(cond.predict(held_out), expected.argmax(axis=1))
    assert (cond.predict(held_out) == y[1200:]).mean() > 0.85
    # Estimators calibrated on the imported network keep the accuracy bound.
    dense = (cond.predict(held_out) == y[1200:]).mean()
    cond.calibrate(held_out, y[1200:], max_accuracy_drop=0.01, ranks=(4, 8, 16))
    assert dense - (cond.predict(held_out) == y[1200:]).mean() <= 0.01 + 1e-9
    # Files and pickles keep the output activation.
    path = tmp_path / "digits.safetensors"
    cond.save(path)
    for copy in (ccinfer.load(path), pickle.loads(pickle.dumps(cond))):
        assert np.array_equal(copy.predict_proba(held_out), cond.predict_proba(held_out))


# ---- GRU models -------------------------------------------------------------------------------
def _token_model(rng, vocab=11, stacked=True, head=True):
    stack = [keras.Input((None,), dtype="int32"), layers.Embedding(vocab, 6)]
    stack.append(layers.GRU(9, return_sequences=True))
    if stacked:
        stack.append(layers.GRU(7, return_sequences=True))
    if head:
        stack.append(layers.Dense(vocab))
    return _randomize(keras.Sequential(stack), rng)


@pytest.mark.parametrize(("stacked", "head"), [(True, True), (False, True), (False, False)])
def test_token_gru_stack(rng, stacked, head):
    model = _token_model(rng, stacked=stacked, head=head)
    gru = GRUStack.from_keras(model)
    assert gru.token_input and gru.input_size == 11
    ids = rng.integers(0, 11, 25)
    expected = _keras(model, ids[None].astype(np.int32))[0]
    np.testing.assert_allclose(gru.run(ids), expected, **TOL)
    assert isinstance(from_keras(model), GRUStack)


def test_vector_gru_with_last_output_only(rng):
    model = _randomize(
        keras.Sequential(
            [
                keras.Input((None, 5)),
                layers.GRU(8, return_sequences=True),
                layers.GRU(6),
                layers.Dense(3),
            ]
        ),
        rng,
    )
    gru = GRUStack.from_keras(model)
    assert not gru.token_input
    x = _x(rng, 1, 30, 5)
    np.testing.assert_allclose(gru.run(x[0])[-1], _keras(model, x)[0], **TOL)


def test_a_gru_model_saves_and_loads(rng, tmp_path):
    gru = GRUStack.from_keras(_token_model(rng))
    path = tmp_path / "gru.safetensors"
    gru.save(path)
    ids = rng.integers(0, 11, 10)
    assert np.array_equal(ccinfer.load(path).run(ids), gru.run(ids))


# ---- refusals ---------------------------------------------------------------------------------
def _seq(*stack, shape=(6,)):
    return keras.Sequential([keras.Input(shape), *stack])


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: _seq(layers.Dense(4, "tanh"), layers.Dense(2)), "followed by 'tanh'"),
        (
            lambda: _seq(layers.Dense(4, "relu"), layers.Dense(2, "relu")),
            "activation 'relu' is not",
        ),
        (
            lambda: _seq(layers.Dense(4), layers.BatchNormalization(), layers.Dense(2)),
            r"layer 'batch_normalization.*' \(keras.*BatchNormalization\)",
        ),
        (
            lambda: _seq(layers.Dense(4), layers.LeakyReLU(), layers.Dense(2)),
            r"\(keras.*LeakyReLU\)",
        ),
        (
            lambda: _seq(layers.Dense(4), layers.ReLU(max_value=6.0), layers.Dense(2)),
            "not a plain ReLU",
        ),
        (
            lambda: _seq(layers.Dense(4, "relu"), layers.ReLU(), layers.Dense(2)),
            "applies relu after",
        ),
        (lambda: _seq(layers.Dense(2), shape=(3, 6)), r"takes inputs of shape \(None, 3, 6\)"),
        (
            lambda: _seq(layers.Conv1D(2, 3), layers.Flatten(), layers.Dense(2), shape=(8, 1)),
            r"\(keras.*Conv1D\)",
        ),
    ],
)
def test_unsupported_dense_models_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        CondMLP.from_keras(make())


def test_branching_and_subclassed_models_are_refused():
    inputs = keras.Input((4,))
    a, b = layers.Dense(3)(inputs), layers.Dense(3)(inputs)
    with pytest.raises(ValueError, match="does not take the previous layer's output"):
        CondMLP.from_keras(keras.Model(inputs, layers.Add()([a, b])))

    class Custom(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x) * 2

    custom = Custom()
    custom(np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match=r"subclassed keras.Model \(Custom\)"):
        CondMLP.from_keras(custom)
    with pytest.raises(ValueError, match=r"expected a keras\.Model"):
        from_keras({"kernel": np.zeros((2, 2))})


@pytest.mark.parametrize(
    ("gru", "match"),
    [
        (dict(reset_after=False), "reset_after=False"),
        (dict(activation="relu"), "activation 'relu' is not tanh"),
        (dict(recurrent_activation="hard_sigmoid"), "recurrent_activation 'hard_sigmoid'"),
        (dict(go_backwards=True), "go_backwards"),
    ],
)
def test_unsupported_grus_are_refused(gru, match):
    model = keras.Sequential(
        [keras.Input((None, 4)), layers.GRU(5, return_sequences=True, **gru), layers.Dense(2)]
    )
    with pytest.raises(ValueError, match=rf"layer 'gru.*' \(keras.*GRU\): {match}"):
        GRUStack.from_keras(model)


def test_other_gru_models_are_refused():
    masked = keras.Sequential(
        [keras.Input((None,)), layers.Embedding(5, 3, mask_zero=True), layers.GRU(4)]
    )
    with pytest.raises(ValueError, match="mask_zero=True"):
        GRUStack.from_keras(masked)
    softmax_head = keras.Sequential(
        [keras.Input((None, 3)), layers.GRU(4, return_sequences=True), layers.Dense(3, "softmax")]
    )
    with pytest.raises(ValueError, match="applies 'softmax': a GRUStack's outputs are logits"):
        GRUStack.from_keras(softmax_head)
    lstm = keras.Sequential([keras.Input((None, 3)), layers.LSTM(4), layers.Dense(2)])
    with pytest.raises(ValueError, match=r"\(keras.*LSTM\)"):
        GRUStack.from_keras(lstm)
    two_heads = keras.Sequential(
        [keras.Input((None, 3)), layers.GRU(4), layers.Dense(4), layers.Dense(2)]
    )
    with pytest.raises(ValueError, match=r"unsupported layer 'dense.*' \(keras.*Dense\)"):
        GRUStack.from_keras(two_heads)
    with pytest.raises(ValueError, match=r"use GRUStack\.from_keras"):
        CondMLP.from_keras(softmax_head)
    with pytest.raises(ValueError, match=r"expected GRU layers, found layer 'dense.*CondMLP"):
        GRUStack.from_keras(_seq(layers.Dense(2)))
