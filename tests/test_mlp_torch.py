"""CondMLP against the real thing: PyTorch's nn.Sequential, and the torch converter."""

import numpy as np
import pytest

import ccinfer

from ._torch import require_torch

torch = require_torch()


class _LeakyReLU(torch.nn.ReLU):
    """A ReLU subclass that computes something else: refused, not trusted by its base class."""

    def forward(self, x):
        return torch.nn.functional.leaky_relu(x, 0.1)


def _net(sizes, seed=0, dropout=True):
    torch.manual_seed(seed)
    layers = []
    for i in range(len(sizes) - 1):
        if dropout:
            layers.append(torch.nn.Dropout(0.3))
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).eval()


@pytest.mark.parametrize("sizes", [[784, 1000, 600, 400, 10], [7, 17, 1], [1, 257, 3]])
def test_parity_with_sequential_estimators_off(isa, rng, sizes):
    net = _net(sizes)
    model = ccinfer.CondMLP.from_torch(net)
    X = rng.random((33, sizes[0]), dtype=np.float32)
    with torch.inference_mode():
        expected = net(torch.from_numpy(X)).numpy()
    k = max(sizes)
    np.testing.assert_allclose(model(X), expected, rtol=1e-5, atol=1e-6 * np.sqrt(k) * 4)
    for s in range(3):
        np.testing.assert_allclose(model(X[s]), expected[s], rtol=1e-5, atol=1e-6 * np.sqrt(k) * 4)


def test_state_dict_equals_module(rng):
    net = _net([20, 30, 5], dropout=False)
    X = rng.random((8, 20), dtype=np.float32)
    a = ccinfer.CondMLP.from_torch(net, ranks=[5])
    b = ccinfer.CondMLP.from_torch(net.state_dict(), ranks=[5], activation="relu")
    np.testing.assert_array_equal(a(X), b(X))


def test_estimators_from_torch_match_reference(rng):
    from ccinfer import reference

    net = _net([50, 80, 40, 6])
    model = ccinfer.CondMLP.from_torch(net, ranks=[10, 8], tau=0.05)
    X = rng.random((64, 50), dtype=np.float32)
    ref = reference.cond_mlp(model.weights, model.biases, model.estimators, X)
    np.testing.assert_allclose(model(X), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "layers,match",
    [
        (
            lambda: torch.nn.Sequential(
                torch.nn.Linear(4, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)
            ),
            "unsupported layer Tanh \\(module '1'\\)",
        ),
        (
            lambda: torch.nn.Sequential(
                torch.nn.Linear(4, 4), torch.nn.GELU(), torch.nn.Linear(4, 2)
            ),
            "unsupported layer GELU \\(module '1'\\)",
        ),
        (
            lambda: torch.nn.Sequential(
                torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2), torch.nn.Softmax(-1)
            ),
            "unsupported layer Softmax \\(module '3'\\)",
        ),
        (
            lambda: torch.nn.Sequential(
                torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4, 2)
            ),
            "unsupported layer Flatten \\(module '2'\\)",
        ),
        (
            lambda: torch.nn.Sequential(
                torch.nn.Linear(4, 4), torch.nn.Sequential(torch.nn.ReLU()), torch.nn.Linear(4, 2)
            ),
            "unsupported layer Sequential",
        ),
        (
            lambda: torch.nn.Sequential(torch.nn.Linear(4, 4), _LeakyReLU(), torch.nn.Linear(4, 2)),
            "unsupported layer _LeakyReLU",
        ),
        (
            lambda: torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)),
            "expected Linear, ReLU",
        ),
        (
            lambda: torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()),
            "no ReLU after the last",
        ),
        (lambda: torch.nn.Sequential(torch.nn.Linear(4, 4, bias=False)), "without bias"),
        (lambda: torch.nn.Linear(4, 4), "expected nn.Sequential"),
        (lambda: [np.eye(4)], "expected a torch.nn.Sequential .*, got builtins.list"),
        (lambda: np.eye(4), "got numpy.ndarray"),
    ],
)
def test_unsupported_modules(layers, match):
    with pytest.raises(ValueError, match=match):
        ccinfer.CondMLP.from_torch(layers())


def test_flatten_first_is_skipped(rng):
    # MNIST networks often start with Flatten; the engine's input is (n, in) already.
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)
    ).eval()
    X = rng.random((4, 6), dtype=np.float32)
    with torch.inference_mode():
        expected = net(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(ccinfer.CondMLP.from_torch(net)(X), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("last", [torch.nn.GELU, torch.nn.Tanh, lambda: torch.nn.Softmax(-1)])
def test_state_dict_needs_the_activation_stated(last):
    # The reproducers: a GELU network's state_dict was accepted and computed as ReLU (off by
    # 0.1), and a softmax layer, which has no parameters, was silently dropped.
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 6), last(), torch.nn.Linear(6, 3))
    with pytest.raises(ValueError, match=r"CondMLP.from_torch: .*pass activation='relu'"):
        ccinfer.CondMLP.from_torch(net.state_dict())
    with pytest.raises(ValueError, match=r"activation must be one of \['relu'\].*'gelu'"):
        ccinfer.CondMLP.from_torch(net.state_dict(), activation="gelu")
    with pytest.raises(ValueError, match=r"unsupported layer"):
        ccinfer.CondMLP.from_torch(net, activation="relu")


def test_state_dict_with_other_parameters_is_refused():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.BatchNorm1d(6), torch.nn.Linear(6, 3))
    with pytest.raises(ValueError, match=r"unexpected parameter '1.running_mean'"):
        ccinfer.CondMLP.from_torch(net.state_dict(), activation="relu")
