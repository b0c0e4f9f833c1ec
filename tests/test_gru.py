"""Dense GRUStack against torch.nn.GRU / GRUCell (the real thing no one here wrote)."""

from __future__ import annotations

import numpy as np
import pytest

import ccinfer

from ._torch import require_torch

torch = require_torch()
from torch import nn  # noqa: E402


@pytest.fixture
def one_thread():
    """One thread: results do not depend on it (test_cond_gru.py checks), and a two-thread
    step on a machine shared with training jobs can wait a scheduler time slice per layer."""
    previous = ccinfer.get_num_threads()
    ccinfer.set_num_threads(1)
    yield
    ccinfer.set_num_threads(previous)


def _torch_gru(input_size, hidden, layers, seed):
    torch.manual_seed(seed)
    gru = nn.GRU(input_size, hidden, num_layers=layers)
    # Larger biases than the default init so every gate works away from 0.5.
    with torch.no_grad():
        for name, p in gru.named_parameters():
            if name.startswith("bias"):
                p.uniform_(-1, 1)
    return gru


def _torch_run(gru, head, inputs):
    """Logits of every step, one step at a time (the way a stream runs)."""
    with torch.no_grad():
        out, _ = gru(torch.from_numpy(inputs)[:, None, :])
        return head(out[:, 0]).numpy()


@pytest.mark.parametrize("hidden", [1, 7, 64, 257])
@pytest.mark.parametrize("layers", [1, 2])
def test_dense_equals_torch_vector_input(isa, hidden, layers):
    d, T = 11, 60
    gru = _torch_gru(d, hidden, layers, seed=hidden + layers)
    head = nn.Linear(hidden, 5)
    model = ccinfer.GRUStack.from_torch(gru, head=head)
    X = np.random.default_rng(hidden).standard_normal((T, d)).astype(np.float32)
    expected = _torch_run(gru, head, X)
    np.testing.assert_allclose(model.run(X), expected, rtol=1e-4, atol=2e-5)
    # Step by step with the model's own state: the same as run.
    got = np.stack([model.step(x) for x in X])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize(("hidden", "layers"), [(64, 2), (257, 1), (1024, 1)])
def test_dense_equals_torch_1000_steps_token_input(one_thread, hidden, layers):
    """Token input as one-hot: 1000 steps, the state carried all the way."""
    V, T = 27, 1000
    gru = _torch_gru(V, hidden, layers, seed=3)
    head = nn.Linear(hidden, V)
    model = ccinfer.GRUStack.from_torch(gru, head=head, token_input=True)
    ids = np.random.default_rng(1).integers(0, V, T)
    onehot = np.eye(V, dtype=np.float32)[ids]
    expected = _torch_run(gru, head, onehot)
    got = model.run(ids)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=5e-5)
    # Hidden states too, through a state object.
    s = model.new_state()
    model.run(ids, state=s)
    with torch.no_grad():
        _, h_n = gru(torch.from_numpy(onehot)[:, None, :])
    for layer in range(layers):
        np.testing.assert_allclose(s.get_h(layer)[0], h_n[layer, 0].numpy(), atol=2e-5)


def test_embedding_and_grucell():
    V, e, hidden = 13, 6, 32
    torch.manual_seed(0)
    emb, cell, head = nn.Embedding(V, e), nn.GRUCell(e, hidden), nn.Linear(hidden, V)
    model = ccinfer.GRUStack.from_torch(cell, emb, head)
    assert model.token_input and model.input_size == V
    ids = np.random.default_rng(2).integers(0, V, 200)
    h = torch.zeros(1, hidden)
    expected = []
    with torch.no_grad():
        for t in ids:
            h = cell(emb(torch.tensor([int(t)])), h)
            expected.append(head(h)[0].numpy())
    np.testing.assert_allclose(model.run(ids), np.stack(expected), rtol=1e-4, atol=3e-5)


def test_batch_equals_torch_and_single_streams(isa):
    V, hidden, n, T = 27, 64, 9, 30
    gru = _torch_gru(V, hidden, 2, seed=5)
    head = nn.Linear(hidden, V)
    model = ccinfer.GRUStack.from_torch(gru, head=head, token_input=True)
    ids = np.random.default_rng(4).integers(0, V, (T, n))
    with torch.no_grad():
        out, _ = gru(torch.from_numpy(np.eye(V, dtype=np.float32)[ids]))
        expected = head(out).numpy()
    batch = model.new_state(n)
    singles = [model.new_state() for _ in range(n)]
    for t in range(T):
        got = model.step(ids[t], state=batch)
        np.testing.assert_allclose(got, expected[t], rtol=1e-4, atol=3e-5)
        for s in range(n):
            np.testing.assert_allclose(
                model.step(ids[t, s], state=singles[s]), got[s], rtol=1e-5, atol=1e-5
            )


def test_no_head_gives_hidden_state():
    gru = _torch_gru(4, 16, 1, seed=9)
    model = ccinfer.GRUStack.from_torch(gru)
    X = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32)
    with torch.no_grad():
        out, _ = gru(torch.from_numpy(X)[:, None, :])
    np.testing.assert_allclose(model.run(X), out[:, 0].numpy(), atol=2e-6)


def test_from_torch_refusals():
    with pytest.raises(ValueError, match="bidirectional"):
        ccinfer.GRUStack.from_torch(nn.GRU(3, 4, bidirectional=True))
    with pytest.raises(ValueError, match=r"expected nn\.GRU"):
        ccinfer.GRUStack.from_torch(nn.LSTM(3, 4))
    with pytest.raises(ValueError, match="max_norm"):
        ccinfer.GRUStack.from_torch(nn.GRU(3, 4), nn.Embedding(5, 3, max_norm=1.0))
    with pytest.raises(ValueError, match="embedding width"):
        ccinfer.GRUStack.from_torch(nn.GRU(3, 4), nn.Embedding(5, 2))
