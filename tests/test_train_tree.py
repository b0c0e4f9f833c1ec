"""Training reference of the tree-gated layer: matches the engine, its gradients are the
note's (constant gates; straight-through for projection gates), lazy decay equals eager decay,
export."""

import numpy as np
import pytest

import ccinfer
from ccinfer import reference

from ._torch import require_torch

torch = require_torch()
from torch import nn  # noqa: E402

from ccinfer.train.tree import LazyDecaySGD, TreeGated, export_sequential  # noqa: E402


def _layer(path="sliding", source="threshold", depth=3, p=20, q=6, **kwargs):
    torch.manual_seed(0)
    gates = {"gate_units": [0, 3, 5, 7, 11]} if source == "threshold" else {"num_bits": 5}
    layer = TreeGated(p, q, depth, path=path, **gates, **kwargs)
    with torch.no_grad():
        layer.table.normal_()  # every node non-zero, so a wrong row shows
    return layer


def _inputs(n=16, p=20, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.relu(torch.randn(n, p, generator=g))


@pytest.mark.parametrize("path", ["shared", "sliding"])
@pytest.mark.parametrize("source", ["threshold", "projection"])
def test_forward_matches_engine_and_reference(path, source):
    layer = _layer(path, source, activation="relu").eval()
    x = _inputs()
    with torch.no_grad():
        h = layer(x).numpy()
    engine = layer.to_ccinfer()
    X = x.numpy()
    np.testing.assert_allclose(engine(X), h, rtol=1e-5, atol=1e-5)
    kwargs = (
        {"gate_units": layer.gate_units.numpy(), "tau": 0.0}
        if source == "threshold"
        else {"gate_weight": engine._gate_weight, "gate_bias": engine._gate_bias}
    )
    expected = reference.tree_gated(
        layer.table.detach().numpy(),
        layer.bias.detach().numpy(),
        X,
        path,
        activation="relu",
        **kwargs,
    )
    np.testing.assert_allclose(h, expected, rtol=1e-5, atol=1e-5)


def test_table_gradient_touches_only_selected_rows():
    layer = _layer()
    x = _inputs()
    x[:, 13] = 0
    r = torch.randn(16, 6)
    (layer(x) * r).sum().backward()
    # Explicit per-sample weight matrices, gates constant: the same gradient.
    table = layer.table.detach().clone().requires_grad_(True)
    paths = layer.paths(layer.gate_bits(x))
    w_eff = table[torch.arange(20)[None, :, None], paths].sum(2)  # (n, p, q)
    (((x[:, :, None] * w_eff).sum(1) + layer.bias.detach()) * r).sum().backward()
    torch.testing.assert_close(layer.node_table.grad.view_as(table), table.grad)
    used = torch.zeros(20, layer.nodes, dtype=torch.bool)
    for s in range(16):
        for j in torch.nonzero(x[s]).flatten():
            used[j, paths[s, j]] = True
    assert (layer.node_table.grad.view_as(table)[~used] == 0).all()
    assert not used[13].any()


@pytest.mark.parametrize("path", ["shared", "sliding"])
def test_straight_through_is_the_multilinear_derivative(path):
    layer = _layer(path, "projection", depth=3, straight_through=True).train()
    x = _inputs(8)
    r = torch.randn(8, 6)
    (layer(x) * r).sum().backward()
    # The multilinear extension over all nodes, at the hard bits, with the straight-through
    # sigmoid: ind(2v+1) = ind(v) (1 - g), ind(2v+2) = ind(v) g along every unit's bits.
    G = layer.gate_weight.detach().clone().requires_grad_(True)
    c = layer.gate_bias.detach().clone().requires_grad_(True)
    z = x @ G.T + c
    soft = torch.sigmoid(z)
    g = (z > 0).float() + soft - soft.detach()
    gu = g[:, layer.bit_index]  # (n, p, k)
    ind = [torch.ones(8, 20)]
    for v in range(1, layer.nodes):
        parent, level = (v - 1) // 2, int(np.log2(v + 1))
        bit = gu[:, :, level - 1]
        ind.append(ind[parent] * (bit if v % 2 == 0 else 1 - bit))
    ind = torch.stack(ind, dim=-1)  # (n, p, nodes)
    h = torch.einsum("sj,sjv,jvq->sq", x, ind, layer.table.detach()) + layer.bias.detach()
    (h * r).sum().backward()
    torch.testing.assert_close(layer.gate_weight.grad, G.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(layer.gate_bias.grad, c.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sparse", [False, True])
def test_lazy_decay_equals_eager_decay(sparse):
    lazy = _layer(sparse=sparse)
    eager = _layer()
    lr, wd = 0.05, 0.3
    opt_lazy = LazyDecaySGD(lazy, lr, wd)
    opt_eager = torch.optim.SGD([eager.node_table], lr=lr, weight_decay=wd)
    for step in range(6):
        x = _inputs(4, seed=10 + step)
        x[:, step * 3 : step * 3 + 8] = 0  # rows go untouched for a while
        r = torch.randn(4, 6)
        for layer, opt in ((lazy, opt_lazy), (eager, opt_eager)):
            opt.zero_grad()
            (layer(x) * r).sum().backward()
            opt.step()
    opt_lazy.finalize()
    torch.testing.assert_close(lazy.node_table, eager.node_table, rtol=1e-5, atol=1e-6)


def test_lazy_decay_rejects_bad_settings():
    with pytest.raises(ValueError, match="lr \\* weight_decay < 1"):
        LazyDecaySGD(_layer(), lr=1.0, weight_decay=2.0)


def test_export_sequential_round_trip(tmp_path):
    torch.manual_seed(0)
    tree = TreeGated(16, 8, 2, path="sliding", gate_units=[1, 2, 3, 4], activation="relu")
    with torch.no_grad():
        tree.table.normal_()
    net = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), tree, nn.Linear(8, 3)).eval()
    x = _inputs(10, 12)
    with torch.no_grad():
        expected = net(x).numpy()
    model = export_sequential(net)
    np.testing.assert_allclose(model(x.numpy()), expected, rtol=1e-5, atol=1e-5)
    model.save(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(
        ccinfer.load(tmp_path / "m.safetensors")(x.numpy()), model(x.numpy())
    )
