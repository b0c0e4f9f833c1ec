"""Tests of the PyTorch training reference for the conditional MLP (ccinfer.train.mlp)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ._torch import require_torch
from .conftest import DATA_DIR

torch = require_torch()

from ccinfer.train.mlp import (  # noqa: E402
    EstimatedMLP,
    evaluate,
    low_rank_factors,
    make_mlp,
    state_to_numpy,
    train_mlp,
    train_step,
)

SMALL_SIZES = (20, 32, 24, 16, 5)


def _batch(n=300, d=784, classes=10, seed=0):
    """Inputs in [0, 1] with labels a fixed random linear function of them (learnable)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=gen)
    teacher = torch.randn(d, classes, generator=gen)
    return x, ((x - 0.5) @ teacher).argmax(dim=1)


@settings(max_examples=25, deadline=None)
@given(
    out_features=st.integers(1, 40),
    in_features=st.integers(1, 40),
    seed=st.integers(0, 2**31 - 1),
)
def test_full_rank_factors_give_the_exact_sign(out_features, in_features, seed):
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(out_features, in_features, generator=gen)
    b = torch.randn(out_features, generator=gen)
    a = torch.randn(8, in_features, generator=gen)
    factor_a, factor_b = low_rank_factors(w, min(w.shape))
    assert factor_a.shape == (out_features, min(w.shape))
    assert factor_b.shape == (min(w.shape), in_features)
    exact = a @ w.T + b
    estimate = (a @ factor_b.T) @ factor_a.T + b
    assert torch.all(((estimate > 0) == (exact > 0)) | (exact.abs() < 1e-4))


def test_full_rank_estimator_masks_match_the_network():
    torch.manual_seed(0)
    net = make_mlp().eval()
    x, _ = _batch(64)
    model = EstimatedMLP(net, ranks=(784, 600, 400))
    trace = []
    with torch.no_grad():
        logits = model(x, trace)
        dense = net(x)
    assert len(trace) == 3
    for t in trace:
        assert torch.all((t.mask == (t.pre > 0)) | (t.pre.abs() < 1e-4))
    # Where the masks agree exactly, the network is unchanged.
    if all(torch.equal(t.mask, t.pre > 0) for t in trace):
        torch.testing.assert_close(logits, dense)


def test_masked_layer_output_is_relu_times_mask():
    torch.manual_seed(1)
    net = make_mlp(SMALL_SIZES).eval()
    model = EstimatedMLP(net, ranks=(3, 2, 1))
    trace = []
    with torch.no_grad():
        model(torch.rand(50, SMALL_SIZES[0]), trace)
    for t in trace:
        torch.testing.assert_close(t.out, torch.relu(t.pre) * t.mask, rtol=0, atol=0)
    assert not torch.equal(trace[0].mask, trace[0].pre > 0)  # rank 3 of 20 is not exact


def test_estimator_is_refreshed_from_the_current_weights():
    torch.manual_seed(2)
    net = make_mlp(SMALL_SIZES)
    model = EstimatedMLP(net, ranks=(2, 2, 2))
    before = model.factors[0][0].clone()
    with torch.no_grad():
        net[1].weight.mul_(2.0)
    assert torch.equal(model.factors[0][0], before)
    model.refresh()
    torch.testing.assert_close(model.factors[0][0], 2.0 * before)


@pytest.mark.parametrize(("ranks", "l1"), [(None, 0.0), ((10, 10, 5), 0.0), ((10, 10, 5), 1e-4)])
def test_training_step_reduces_the_loss(ranks, l1):
    torch.manual_seed(0)
    x, y = _batch()
    model = EstimatedMLP(make_mlp(), ranks)
    optimizer = torch.optim.Adam(model.net.parameters(), lr=1e-3)

    def eval_loss():
        model.eval()
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(model(x), y).item()

    before = eval_loss()
    objective = train_step(model, optimizer, x, y, l1)
    assert np.isfinite(objective)
    assert model.training
    assert eval_loss() < before


def test_rank_checks():
    net = make_mlp(SMALL_SIZES)
    with pytest.raises(ValueError, match="2 ranks given for 3 hidden layers"):
        EstimatedMLP(net, ranks=(2, 2))
    with pytest.raises(ValueError, match="rank 21 out of range"):
        EstimatedMLP(net, ranks=(21, 2, 2))


def test_make_mlp_structure():
    net = make_mlp()
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Dropout", "Linear", "ReLU"] * 3 + ["Dropout", "Linear"]
    assert [m.p for m in net if isinstance(m, torch.nn.Dropout)] == [0.3, 0.5, 0.5, 0.5]
    assert all(torch.count_nonzero(m.bias) == 0 for m in net if isinstance(m, torch.nn.Linear))


def test_state_to_numpy_layout_and_parity():
    torch.manual_seed(3)
    net = make_mlp().eval()
    weights, biases = state_to_numpy(net)
    assert [w.shape for w in weights] == [(1000, 784), (600, 1000), (400, 600), (10, 400)]
    assert [b.shape for b in biases] == [(1000,), (600,), (400,), (10,)]
    for w, b in zip(weights, biases, strict=True):
        assert w.dtype == np.float32
        assert b.dtype == np.float32
        assert w.flags.c_contiguous
    np.testing.assert_array_equal(weights[0], net[1].weight.detach().numpy())
    # Dropout is the identity at inference: the network is the plain ReLU chain.
    x = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    a = x
    for w, b in zip(weights[:-1], biases[:-1], strict=True):
        a = np.maximum(a @ w.T + b, 0)
    logits = a @ weights[-1].T + biases[-1]
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)
    # The arrays are copies: changing them leaves the model alone.
    weights[0][:] = 0
    assert torch.count_nonzero(net[1].weight) > 0


def test_evaluate_statistics():
    torch.manual_seed(4)
    net = make_mlp(SMALL_SIZES)
    x, y = _batch(200, SMALL_SIZES[0], SMALL_SIZES[-1])
    dense = evaluate(net, x.numpy(), y.numpy())
    assert net.training  # mode restored
    assert set(dense) == {"error", "density"}
    assert 0 <= dense["error"] <= 100
    assert all(0 < d < 1 for d in dense["density"])
    full = evaluate(net, x, y, ranks=(20, 24, 16))
    assert full["error"] == pytest.approx(dense["error"])
    assert full["recall"] == pytest.approx([1, 1, 1])
    assert full["precision"] == pytest.approx([1, 1, 1])
    assert full["computed"] == pytest.approx(dense["density"])
    low = evaluate(net, x, y, ranks=(1, 1, 1))
    for key in ("recall", "precision", "computed", "density"):
        assert all(0 <= v <= 1 for v in low[key])


@pytest.mark.skipif(not (DATA_DIR / "mnist").is_dir(), reason=f"no MNIST at {DATA_DIR}")
def test_train_mlp_end_to_end_on_a_subset():
    net, metrics = train_mlp(
        DATA_DIR, ranks=(10, 10, 5), epochs=1, max_train=512, batch_size=128, progress=False
    )
    assert not net.training
    assert len(metrics["train_loss"]) == len(metrics["test_error_per_epoch"]) == 1
    assert metrics["test_error"] == metrics["estimated"]["error"]
    assert metrics["test_error_dense"] == metrics["dense"]["error"]
    assert metrics["test_error"] < 90  # better than chance after 4 steps
    assert metrics["estimated"]["ranks"] == [10, 10, 5]
