"""CondMLP against the real thing: PyTorch's nn.Sequential, and the torch converter."""

import numpy as np
import pytest

import ccinfer

from ._torch import require_torch

torch = require_torch()


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
    b = ccinfer.CondMLP.from_torch(net.state_dict(), ranks=[5])
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
            "unsupported layer Tanh",
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
    ],
)
def test_unsupported_modules(layers, match):
    with pytest.raises(ValueError, match=match):
        ccinfer.CondMLP.from_torch(layers())
