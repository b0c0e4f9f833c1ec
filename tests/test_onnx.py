"""ccinfer.from_onnx against ONNX Runtime: graphs from torch.onnx.export and skl2onnx give the
runtime's outputs to 1e-5, and graphs these models cannot compute are refused, naming the
operator and the node."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ccinfer
from ccinfer import CondMLP, GRUStack

from ._optional import require
from ._torch import require_torch

onnx = require("onnx", "CCINFER_REQUIRE_ONNX")
ort = require("onnxruntime", "CCINFER_REQUIRE_ONNX")
torch = require_torch()
nn = torch.nn
helper = onnx.helper
TP = onnx.TensorProto


def export(module, args, path, **kwargs):
    """torch.onnx.export with the TorchScript exporter (the dynamo one needs onnxscript)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), args, str(path), dynamo=False, **kwargs)
    return path


def run_ort(path_or_model, x, output=0):
    blob = path_or_model if isinstance(path_or_model, str) else None
    if blob is None:
        blob = path_or_model.SerializeToString()
    session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[output]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(7)


# ---- MLPs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("last", [None, nn.Softmax(dim=-1), nn.LogSoftmax(dim=1), nn.Sigmoid()])
def test_torch_mlp_matches_onnx_runtime(tmp_path, rng, last):
    layers = [nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 9)]
    layers += [nn.ReLU(), nn.Linear(9, 5)] + ([last] if last is not None else [])
    path = export(
        nn.Sequential(*layers),
        (torch.randn(2, 3, 4),),
        tmp_path / "mlp.onnx",
        input_names=["x"],
        dynamic_axes={"x": {0: "n"}},
    )
    model = ccinfer.from_onnx(path)
    assert isinstance(model, CondMLP) and model.sizes == [12, 16, 9, 5]
    expected = {None: "identity", "Softmax": "softmax", "LogSoftmax": "log_softmax"}
    assert model.output_activation == expected.get(type(last).__name__ if last else None, "sigmoid")
    x = rng.normal(size=(33, 3, 4)).astype(np.float32)
    got = model.outputs(x.reshape(33, 12))
    np.testing.assert_allclose(got, run_ort(str(path), x), atol=1e-5, rtol=1e-5)


def test_torch_mlp_with_view_reshape_and_estimators(tmp_path, rng):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(20, 32), nn.Linear(32, 4)

        def forward(self, x):
            return self.b(torch.relu(self.a(x.view(x.size(0), -1))))

    path = export(
        Net(),
        (torch.randn(2, 4, 5),),
        tmp_path / "v.onnx",
        dynamic_axes={"x": {0: "n"}},
        input_names=["x"],
    )
    x = rng.normal(size=(10, 4, 5)).astype(np.float32)
    dense = ccinfer.from_onnx(path)
    np.testing.assert_allclose(dense(x.reshape(10, 20)), run_ort(str(path), x), atol=1e-5)
    ranked = ccinfer.from_onnx(path, ranks=[8])
    assert ranked.estimators[0].rank == 8
    # The same network: with estimators disabled it is the dense one, bit for bit.
    ranked.estimators_enabled = False
    np.testing.assert_array_equal(ranked(x.reshape(10, 20)), dense(x.reshape(10, 20)))


def _sklearn_graph(rng, n_classes, hidden=(16, 8)):
    sklearn = require("sklearn", "CCINFER_REQUIRE_ONNX")
    skl2onnx = require("skl2onnx", "CCINFER_REQUIRE_ONNX")
    from sklearn.neural_network import MLPClassifier

    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = np.array(["cat", "dog", "eel", "fox"])[rng.integers(0, n_classes, 300)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=hidden, max_iter=60, random_state=0).fit(X, y)
    return clf, X, skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False})


@pytest.mark.parametrize("n_classes", [2, 4])
def test_sklearn_mlp_classifier_matches_onnx_runtime(rng, n_classes):
    clf, X, graph = _sklearn_graph(rng, n_classes)
    model = ccinfer.from_onnx(graph)
    assert model.output_activation == ("sigmoid" if n_classes == 2 else "softmax")
    assert list(model.classes) == list(clf.classes_)
    probabilities = run_ort(graph, X, output=1)
    np.testing.assert_allclose(model.predict_proba(X), probabilities, atol=1e-5)
    np.testing.assert_array_equal(model.predict(X), run_ort(graph, X, output=0))
    Xr = rng.normal(size=(50, 6)).astype(np.float32) * 3  # random inputs beyond the data
    np.testing.assert_allclose(model.predict_proba(Xr), run_ort(graph, Xr, output=1), atol=1e-5)


def test_sklearn_zipmap_output_is_read_through(rng):
    skl2onnx = require("skl2onnx", "CCINFER_REQUIRE_ONNX")
    clf, X, _ = _sklearn_graph(rng, 3, hidden=(8,))
    graph = skl2onnx.to_onnx(clf, X[:1])  # probabilities as a list of dicts
    model = ccinfer.from_onnx(graph)
    np.testing.assert_array_equal(model.predict(X), clf.predict(X))
    np.testing.assert_allclose(model.predict_proba(X), clf.predict_proba(X), atol=1e-5)


def test_sklearn_regressor_matches_onnx_runtime(rng):
    require("sklearn", "CCINFER_REQUIRE_ONNX")
    skl2onnx = require("skl2onnx", "CCINFER_REQUIRE_ONNX")
    from sklearn.neural_network import MLPRegressor

    X = rng.normal(size=(200, 5)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = MLPRegressor(hidden_layer_sizes=(12,), max_iter=50, random_state=0)
        reg.fit(X, X[:, 0] - X[:, 1])
    graph = skl2onnx.to_onnx(reg, X[:1])
    model = ccinfer.from_onnx(graph)
    np.testing.assert_allclose(model(X), run_ort(graph, X), atol=1e-5)


@pytest.mark.parametrize("scaler", ["StandardScaler", "MinMaxScaler", "MaxAbsScaler"])
def test_sklearn_pipeline_scalers_fold_into_the_first_layer(rng, scaler):
    """skl2onnx writes StandardScaler and MaxAbsScaler as ai.onnx.ml Scaler, MinMaxScaler as
    Mul and Add by constants: all folded, the runtime's outputs reproduced."""
    sklearn = require("sklearn", "CCINFER_REQUIRE_ONNX")
    skl2onnx = require("skl2onnx", "CCINFER_REQUIRE_ONNX")
    from sklearn import preprocessing
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline

    X = (rng.normal(size=(300, 6)) * [1, 5, 0.1, 3, 1, 2] + [0, 3, -1, 0, 9, 1]).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        pipe = make_pipeline(getattr(preprocessing, scaler)(), MLPClassifier((8,), max_iter=60))
        pipe.fit(X, y)
    graph = skl2onnx.to_onnx(pipe, X[:1], options={"zipmap": False})
    model = ccinfer.from_onnx(graph)
    np.testing.assert_allclose(model.predict_proba(X), run_ort(graph, X, output=1), atol=1e-5)
    np.testing.assert_array_equal(model.predict(X), run_ort(graph, X, output=0))
    np.testing.assert_allclose(model.predict_proba(X), pipe.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("order", ["sub-div", "div-sub", "const-minus-x", "mul-add"])
def test_hand_written_input_scalings_compose_in_order(rng, order):
    """Sub, Div, Mul and Add by constants on the input, in any order, fold exactly."""
    W = helper.make_tensor("W", TP.FLOAT, [3, 2], rng.normal(size=6).tolist())
    m = helper.make_tensor("m", TP.FLOAT, [3], [0.5, -1.0, 2.0])
    d = helper.make_tensor("d", TP.FLOAT, [1, 3], [2.0, 0.25, -4.0])
    first, second = {
        "sub-div": (("Sub", ["x", "m"]), ("Div", ["a", "d"])),
        "div-sub": (("Div", ["x", "d"]), ("Sub", ["a", "m"])),
        "const-minus-x": (("Sub", ["m", "x"]), ("Mul", ["d", "a"])),
        "mul-add": (("Mul", ["x", "d"]), ("Add", ["m", "a"])),
    }[order]
    nodes = [
        helper.make_node(first[0], first[1], ["a"], name="first"),
        helper.make_node(second[0], second[1], ["b"], name="second"),
        helper.make_node("MatMul", ["b", "W"], ["y"], name="layer"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TP.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [None, 2])], [W, m, d],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.normal(size=(20, 3)).astype(np.float32)
    np.testing.assert_allclose(ccinfer.from_onnx(model)(x), run_ort(model, x), rtol=1e-5, atol=1e-5)


def test_input_scaling_anywhere_else_is_refused(rng):
    W = helper.make_tensor("W", TP.FLOAT, [4, 3], rng.normal(size=12).tolist())
    k = helper.make_tensor("k", TP.FLOAT, [3], [1.0, 2.0, 3.0])
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"], name="layer"),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Mul", ["r", "k"], ["y"], name="late_scale"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TP.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [None, 3])], [W, k],
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"late_scale.*folded only on the 2-D graph input"):
        ccinfer.from_onnx(helper.make_model(graph))


@pytest.mark.parametrize(
    ("scale", "offset", "message"),
    [
        ([1.0, 2.0], [0.0], r"scaling of 2 values does not fit weight \(3, 4\)"),
        (
            [1.0, 2.0, 3.0, 4.0],
            [0.0, 1.0],
            r"Scaler node 'scaler': scale of 4 and offset of 2 values",
        ),
        ([float("inf")], [0.0], "not finite"),
    ],
)
def test_input_scaling_that_does_not_fit_is_refused(rng, scale, offset, message):
    """With the feature width unknown until the first layer, a Scaler of the wrong length is
    refused by name when it meets that layer."""
    W = helper.make_tensor("W", TP.FLOAT, [4, 3], rng.normal(size=12).tolist())
    nodes = [
        helper.make_node(
            "Scaler", ["x"], ["s"], name="scaler", domain="ai.onnx.ml", scale=scale, offset=offset
        ),
        helper.make_node("MatMul", ["s", "W"], ["y"], name="layer"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TP.FLOAT, [None, None])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [None, 3])], [W],
    )  # fmt: skip
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )
    with pytest.raises(ValueError, match=message):
        ccinfer.from_onnx(model)


def test_mnist_digits_real_inputs(tmp_path):
    """Real inputs: the shipped MNIST sample through an exported MLP with the shipped
    model's weights, against ONNX Runtime."""
    from ccinfer.shipped import load_sample

    shipped = ccinfer.load("mnist-50-35-25")
    shipped.estimators_enabled = False  # the dense network is what was exported
    mods = []
    for i, (W, b) in enumerate(zip(shipped.weights, shipped.biases, strict=True)):
        layer = nn.Linear(W.shape[1], W.shape[0])
        layer.weight.data, layer.bias.data = torch.from_numpy(W), torch.from_numpy(b)
        mods += [layer] + ([nn.ReLU()] if i + 1 < len(shipped.weights) else [])
    path = export(
        nn.Sequential(*mods),
        (torch.zeros(1, 784),),
        tmp_path / "m.onnx",
        input_names=["x"],
        dynamic_axes={"x": {0: "n"}},
    )
    x = load_sample()["images"][:200]
    model = ccinfer.from_onnx(path)
    np.testing.assert_allclose(model(x), run_ort(str(path), x), atol=1e-4, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(x), shipped.predict(x))


# ---- GRUs -------------------------------------------------------------------------------------


class EmbeddingGRU(nn.Module):
    def __init__(self, vocab=11, emb=6, hidden=9, layers=2, batch_first=True):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.gru = nn.GRU(emb, hidden, num_layers=layers, batch_first=batch_first)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, t):
        y, _ = self.gru(self.emb(t))
        return self.head(y)


@pytest.mark.parametrize("batch_first", [True, False])
def test_torch_gru_with_embedding_and_head(tmp_path, rng, batch_first):
    net = EmbeddingGRU(batch_first=batch_first)
    shape = (3, 7) if batch_first else (7, 3)
    path = export(
        net,
        (torch.randint(0, 11, shape),),
        tmp_path / "g.onnx",
        input_names=["t"],
        dynamic_axes={"t": {0: "a", 1: "b"}},
    )
    model = ccinfer.from_onnx(path)
    assert isinstance(model, GRUStack) and model.token_input and model.output_size == 11
    tokens = rng.integers(0, 11, shape)
    expected = run_ort(str(path), tokens)
    for s in range(3):
        ids = tokens[s] if batch_first else tokens[:, s]
        ref = expected[s] if batch_first else expected[:, s]
        np.testing.assert_allclose(model.run(ids), ref, atol=1e-5)
    with torch.no_grad():  # and the source module itself
        ref = net(torch.from_numpy(tokens)).numpy()
    np.testing.assert_allclose(
        model.run(tokens[0] if batch_first else tokens[:, 0]),
        ref[0] if batch_first else ref[:, 0],
        atol=1e-5,
    )


def test_torch_one_hot_gru(tmp_path, rng):
    class OneHotGRU(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru, self.head = nn.GRU(8, 10), nn.Linear(10, 8)

        def forward(self, t):
            return self.head(self.gru(nn.functional.one_hot(t, 8).float())[0])

    path = export(
        OneHotGRU(),
        (torch.randint(0, 8, (6, 1)),),
        tmp_path / "o.onnx",
        input_names=["t"],
        dynamic_axes={"t": {0: "T", 1: "B"}},
    )
    model = ccinfer.from_onnx(path)
    assert model.token_input and model.input_size == 8
    tokens = rng.integers(0, 8, (40, 2))
    np.testing.assert_allclose(model.run(tokens[:, 1]), run_ort(str(path), tokens)[:, 1], atol=1e-5)


def test_float_input_gru_as_vectors_or_stated_one_hot(tmp_path, rng):
    class VecGRU(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(5, 7)

        def forward(self, x):
            return self.gru(x)[0]

    path = export(
        VecGRU(),
        (torch.randn(4, 1, 5),),
        tmp_path / "f.onnx",
        input_names=["x"],
        dynamic_axes={"x": {0: "T", 1: "B"}},
    )
    x = rng.normal(size=(9, 1, 5)).astype(np.float32)
    model = ccinfer.from_onnx(path)
    assert not model.token_input and model.output_size == 7  # no head: the state itself
    np.testing.assert_allclose(model.run(x[:, 0]), run_ort(str(path), x)[:, 0], atol=1e-5)
    tokens = rng.integers(0, 5, 9)
    one_hot = np.eye(5, dtype=np.float32)[tokens][:, None]
    stated = ccinfer.from_onnx(path, token_input=True)
    np.testing.assert_allclose(stated.run(tokens), run_ort(str(path), one_hot)[:, 0], atol=1e-5)


def test_shipped_character_text_real_inputs(tmp_path):
    """Real inputs: held-out text through a GRU exported from PyTorch, against ONNX Runtime."""
    from ccinfer.shipped import load_sample

    net = EmbeddingGRU(vocab=27, emb=16, hidden=32, layers=1)
    path = export(
        net,
        (torch.zeros(1, 5, dtype=torch.long),),
        tmp_path / "c.onnx",
        input_names=["t"],
        dynamic_axes={"t": {1: "T"}},
    )
    text = load_sample()["text"][:300].astype(np.int64) % 27
    model = ccinfer.from_onnx(path)
    np.testing.assert_allclose(model.run(text), run_ort(str(path), text[None])[0], atol=1e-5)


# ---- refusals ---------------------------------------------------------------------------------


def _refused(path_or_model, *words):
    with pytest.raises(ValueError) as e:
        ccinfer.from_onnx(path_or_model)
    for w in words:
        assert w in str(e.value), str(e.value)


def test_conv_refused_naming_operator_and_node(tmp_path):
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    path = export(net, (torch.randn(1, 1, 4, 4),), tmp_path / "c.onnx")
    _refused(path, "Conv", "/0/Conv")


def test_bidirectional_gru_and_lstm_refused(tmp_path):
    class Bi(nn.Module):
        def __init__(self, rnn):
            super().__init__()
            self.rnn = rnn

        def forward(self, x):
            return self.rnn(x)[0]

    bi = export(Bi(nn.GRU(4, 5, bidirectional=True)), (torch.randn(3, 1, 4),), tmp_path / "b.onnx")
    _refused(bi, "GRU node", "bidirectional")
    lstm = export(Bi(nn.LSTM(4, 5)), (torch.randn(3, 1, 4),), tmp_path / "l.onnx")
    _refused(lstm, "LSTM", "not supported")


def _gru_graph(**attributes):
    h, d = 3, 2
    rng = np.random.default_rng(0)
    inits = [
        onnx.numpy_helper.from_array(rng.normal(size=s).astype(np.float32), n)
        for n, s in (("W", (1, 3 * h, d)), ("R", (1, 3 * h, h)), ("B", (1, 6 * h)))
    ]
    attrs = {"hidden_size": h, **attributes}
    node = helper.make_node("GRU", ["x", "W", "R", "B"], ["y"], name="my_gru", **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TP.FLOAT, ["T", "B", d])],
        [helper.make_tensor_value_info("y", TP.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def test_gru_attributes_refused_by_name():
    ok = ccinfer.from_onnx(_gru_graph(linear_before_reset=1))
    x = np.random.default_rng(1).normal(size=(5, 1, 2)).astype(np.float32)
    np.testing.assert_allclose(
        ok.run(x[:, 0]), run_ort(_gru_graph(linear_before_reset=1), x)[:, 0, 0], atol=1e-5
    )
    _refused(_gru_graph(), "my_gru", "linear_before_reset=0")
    _refused(_gru_graph(linear_before_reset=1, direction="reverse"), "my_gru", "reverse")
    _refused(_gru_graph(linear_before_reset=1, clip=2.0), "my_gru", "clip")
    _refused(
        _gru_graph(linear_before_reset=1, activations=["Relu", "Tanh"]), "my_gru", "activations"
    )


def _mlp_graph(nodes, inits, out="y"):
    graph = helper.make_graph(
        nodes,
        "m",
        [helper.make_tensor_value_info("x", TP.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info(out, TP.FLOAT, None)],
        [onnx.numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_gemm_attributes_folded_exactly_or_refused(rng):
    W = rng.normal(size=(3, 4)).astype(np.float32)  # (in, out): transB=0
    c = rng.normal(size=(4,)).astype(np.float32)
    x = rng.normal(size=(6, 3)).astype(np.float32)
    for attrs in ({}, {"alpha": 0.5, "beta": 2.0}):
        graph = _mlp_graph(
            [helper.make_node("Gemm", ["x", "W", "c"], ["y"], **attrs)], {"W": W, "c": c}
        )
        np.testing.assert_allclose(ccinfer.from_onnx(graph)(x), run_ort(graph, x), atol=1e-5)
    graph = _mlp_graph(
        [helper.make_node("Gemm", ["x", "W", "c"], ["y"], name="g", transA=1)], {"W": W, "c": c}
    )
    _refused(graph, "Gemm node 'g'", "transA")


def test_mlp_shapes_refused(rng):
    W = rng.normal(size=(3, 4)).astype(np.float32)
    W2 = rng.normal(size=(4, 2)).astype(np.float32)
    no_relu = _mlp_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["h"]),
            helper.make_node("MatMul", ["h", "W2"], ["y"], name="second"),
        ],
        {"W": W, "W2": W2},
    )
    _refused(no_relu, "second", "without a Relu")
    relu_last = _mlp_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
        {"W": W},
    )
    _refused(relu_last, "last layer is followed by a Relu")
    tanh = _mlp_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["h"]),
            helper.make_node("Tanh", ["h"], ["y"], name="t"),
        ],
        {"W": W},
    )
    _refused(tanh, "Tanh node 't'", "operator Tanh is not supported")


def test_external_data_outside_the_model_folder_refused(tmp_path, rng):
    W = rng.normal(size=(3, 4)).astype(np.float32)
    graph = _mlp_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], {"W": W})
    tensor = graph.graph.initializer[0]
    secret = tmp_path / "secret.bin"
    secret.write_bytes(W.tobytes())
    folder = tmp_path / "model"
    folder.mkdir()
    tensor.ClearField("raw_data")
    tensor.data_location = TP.EXTERNAL
    for k, v in (("location", "../secret.bin"), ("length", str(W.nbytes))):
        entry = tensor.external_data.add()
        entry.key, entry.value = k, v
    onnx.save(graph, str(folder / "m.onnx"))
    _refused(folder / "m.onnx", "outside the model's folder")
    # Inside the folder it is read.
    (folder / "w.bin").write_bytes(W.tobytes())
    tensor.external_data[0].value = "w.bin"
    onnx.save(graph, str(folder / "m.onnx"))
    x = rng.normal(size=(2, 3)).astype(np.float32)
    np.testing.assert_allclose(ccinfer.from_onnx(folder / "m.onnx")(x), x @ W, atol=1e-5)
    _refused(graph.SerializeToString(), "pass the model's path")  # bytes: no folder


def test_oversized_declared_tensor_refused():
    tensor = TP(name="W", data_type=TP.FLOAT, dims=[1 << 20, 1 << 20])
    graph = _mlp_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], {})
    graph.graph.initializer.append(tensor)
    _refused(graph, "declares shape")


def test_not_onnx_bytes_refused():
    _refused(b"\x00\x01garbage that is not protobuf\xff\xff", "not an ONNX model")


def test_load_of_an_onnx_file_points_to_the_converter(tmp_path, rng):
    W = rng.normal(size=(3, 4)).astype(np.float32)
    path = tmp_path / "model.onnx"
    onnx.save(_mlp_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], {"W": W}), str(path))
    with pytest.raises(ValueError, match=r"ONNX model.*from_onnx.*ccinfer convert"):
        ccinfer.load(path)
    renamed = tmp_path / "model.safetensors"  # the content decides, not the extension
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="ONNX model"):
        CondMLP.load(renamed)
