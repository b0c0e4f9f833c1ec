"""Tests of the PyTorch training reference for the conditional GRU (ccinfer.train.gru)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccinfer.datasets import encode_text

from ._torch import one_torch_thread, require_torch  # noqa: F401 (autouse fixture)
from .conftest import DATA_DIR

torch = require_torch()

from ccinfer.train.gru import (  # noqa: E402
    CharLM,
    CharLMTrainer,
    CondGRU,
    CondGRUCell,
    cliptanh,
    evaluate_char_lm,
    load_char_splits,
    z_density,
)

CONDITIONAL = [("lowrank", 6), ("block", 4)]


def _words(n: int, seed: int = 0) -> np.ndarray:
    """Symbol ids of random words from a small vocabulary (learnable structure)."""
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"]
    rng = np.random.default_rng(seed)
    text = " ".join(words[i] for i in rng.integers(0, len(words), n // 3))
    return encode_text(text)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_layer(arrays: dict, prefix: str, x: np.ndarray, h: np.ndarray, dense: bool):
    """The inference step from exported arrays, in float64: x (T, B, d), h (B, h)."""
    a = {k[len(prefix) :]: v.astype(np.float64) for k, v in arrays.items() if k.startswith(prefix)}
    states, gates = [], []
    for x_t in x:
        if dense:
            n_h = h.shape[1]
            gi = x_t @ a["W_ih"].T + a["b_ih"]
            gh = h @ a["W_hh"].T + a["b_hh"]
            r = _sigmoid(gi[:, :n_h] + gh[:, :n_h])
            z = _sigmoid(gi[:, n_h : 2 * n_h] + gh[:, n_h : 2 * n_h])
            n = np.tanh(gi[:, 2 * n_h :] + r * gh[:, 2 * n_h :])
            h = (1 - z) * n + z * h
        else:
            zlr = np.maximum(x_t @ a["W_zl"].T + h @ a["U_zl"].T + a["b_zl"], 0)
            z = np.tanh(np.maximum(zlr @ a["W_z"].T + a["b_z"], 0))
            r = _sigmoid(x_t @ a["W_ir"].T + a["b_ir"] + h @ a["U_hr"].T + a["b_hr"])
            n = np.tanh(x_t @ a["W_in"].T + a["b_in"] + r * (h @ a["U_hn"].T + a["b_hn"]))
            h = h + z * (n - h)
        states.append(h)
        gates.append(z)
    return np.stack(states), np.stack(gates)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
def test_dense_equals_torch_gru(num_layers, batch_first):
    torch.manual_seed(0)
    gru = torch.nn.GRU(7, 33, num_layers, batch_first=batch_first)
    with torch.no_grad():  # biases away from zero, so every term is exercised
        for name, p in gru.named_parameters():
            if name.startswith("bias"):
                p.uniform_(-0.5, 0.5)
    ours = CondGRU.from_torch_gru(gru)
    x = torch.randn((5, 40, 7) if batch_first else (40, 5, 7))
    h0 = torch.randn(num_layers, 5, 33)
    with torch.no_grad():
        expected, expected_h = gru(x, h0)
        got, got_h = ours(x, h0)
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-6)
    torch.testing.assert_close(got_h, expected_h, rtol=0, atol=2e-6)


def test_dense_export_is_pytorch_layout():
    torch.manual_seed(1)
    gru = torch.nn.GRU(4, 8, 2)
    arrays = CondGRU.from_torch_gru(gru).export_numpy()
    assert sorted(arrays) == sorted(
        f"layers.{i}.{n}" for i in range(2) for n in ("W_ih", "W_hh", "b_ih", "b_hh")
    )
    np.testing.assert_array_equal(arrays["layers.1.W_ih"], gru.weight_ih_l1.detach().numpy())
    np.testing.assert_array_equal(arrays["layers.0.b_hh"], gru.bias_hh_l0.detach().numpy())


def test_cliptanh_is_exactly_zero_at_and_below_zero():
    u = torch.tensor([-1e30, -5.0, -1e-30, -0.0, 0.0, 1e-30, 0.5, 30.0], requires_grad=True)
    y = cliptanh(u)
    assert torch.equal(y[:6] == 0, torch.tensor([True] * 5 + [False]))
    assert torch.all(y[5:] > 0) and torch.all(y <= 1)
    y.sum().backward()
    assert torch.all(u.grad[:5] == 0)
    torch.testing.assert_close(y[6], torch.tanh(torch.tensor(0.5)))


@pytest.mark.parametrize("training", [True, False])
def test_block_gate_is_constant_within_a_block(training):
    torch.manual_seed(2)
    cell = CondGRUCell(5, 32, "block", rank=4, shift=-0.25)
    cell.train(training)
    x = torch.randn(30, 16, 5)
    trace = []
    with torch.no_grad():
        cell(x, None, trace)
    z = trace[0].view(30, 16, 4, 8)
    assert torch.equal(z, z[..., :1].expand_as(z))
    assert 0 < z_density(z) < 1
    w_z = cell.export_numpy()["W_z"]
    assert np.count_nonzero(w_z) == 32
    np.testing.assert_array_equal(np.nonzero(w_z)[1], np.arange(32) // 8)


def test_block_gate_needs_a_divisor():
    with pytest.raises(ValueError, match="must divide"):
        CondGRUCell(5, 30, "block", rank=4)
    with pytest.raises(ValueError, match="positive rank"):
        CondGRUCell(5, 30, "lowrank")


@pytest.mark.parametrize(("gate", "rank"), [("dense", None), *CONDITIONAL])
def test_exported_arrays_reproduce_eval_mode(gate, rank):
    torch.manual_seed(3)
    model = CondGRU(6, 16, 2, gate, rank, shift=-0.5)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
        for _ in range(20):  # running statistics away from their initial 0 and 1
            model(3 * torch.randn(10, 8, 6) + 1)
    model.eval()
    x = torch.randn(25, 3, 6)
    h0 = torch.randn(2, 3, 16)
    trace = []
    with torch.no_grad():
        out, h_n = model(x, h0, trace)
    arrays = model.export_numpy()
    states = x.double().numpy()
    for i in range(2):
        states, gates = _numpy_layer(
            arrays, f"layers.{i}.", states, h0[i].double().numpy(), gate == "dense"
        )
        np.testing.assert_allclose(trace[i].numpy(), gates, rtol=0, atol=1e-5)
        if gate != "dense":
            # Identical masks wherever the gate is not within rounding of the threshold.
            clear = (gates == 0) | (gates > 1e-5)
            assert np.array_equal((trace[i].numpy() > 0)[clear], (gates > 0)[clear])
    np.testing.assert_allclose(out.numpy(), states, rtol=0, atol=1e-5)
    np.testing.assert_allclose(h_n[-1].numpy(), states[-1], rtol=0, atol=1e-5)


@pytest.mark.parametrize(("gate", "rank"), CONDITIONAL)
def test_zero_gate_keeps_the_state(gate, rank):
    torch.manual_seed(4)
    cell = CondGRUCell(5, 16, gate, rank, shift=-0.75).eval()
    h = torch.randn(9, 16)
    x = torch.randn(1, 9, 5)
    trace = []
    with torch.no_grad():
        _, h_new = cell(x, h, trace)
    off = trace[0][0] == 0
    assert off.any() and (~off).any()
    assert torch.equal(h_new[off], h[off])
    cell.shift = -100.0  # every gate off: the whole state passes through unchanged
    with torch.no_grad():
        out, h_last = cell(torch.randn(7, 9, 5), h)
    assert torch.equal(h_last, h)
    assert torch.equal(out, h.expand(7, 9, 16))


def test_symbol_ids_are_a_column_lookup():
    torch.manual_seed(5)
    cell = CondGRUCell(27, 12, "lowrank", 4)
    ids = torch.randint(0, 27, (6, 3))
    one_hot = torch.nn.functional.one_hot(ids, 27).float()
    assert torch.equal(cell.project_input(ids), cell.project_input(one_hot))
    with pytest.raises(ValueError, match=r"0\.\.26"):
        cell.project_input(torch.tensor([[27]]))


@pytest.mark.parametrize(("gate", "rank"), [("dense", None), *CONDITIONAL])
def test_training_reduces_the_loss(gate, rank):
    torch.manual_seed(6)
    model = CharLM(32, 1, gate, rank, shift=-0.25)
    trainer = CharLMTrainer(model, _words(20000), seq_len=20, batch_size=8, lr=1e-2)
    losses = [trainer.train_step() for _ in range(40)]
    assert losses[0] > math.log(27) - 0.3
    assert np.mean(losses[-5:]) < losses[0] - 0.8
    result = evaluate_char_lm(model, _words(3000, seed=1), n_streams=4)
    assert result["bpc"] < losses[0] / math.log(2)
    if gate == "dense":
        assert result["z_density"] is None
    else:
        assert len(result["z_density"]) == 1 and 0 < result["z_density"][0] < 1


def test_checkpoint_resume_gives_the_same_next_loss(tmp_path):
    text = _words(20000)
    torch.manual_seed(7)
    first = CharLMTrainer(CharLM(24, 2, "block", 4, -0.25), text, 10, 4, reset_every=3)
    for _ in range(4):
        first.train_step()
    first.save(tmp_path / "ckpt", {"note": "four updates"})
    expected = [first.train_step() for _ in range(3)]  # crosses a state reset

    torch.manual_seed(8)  # different initial weights, all overwritten by the checkpoint
    second = CharLMTrainer(CharLM(24, 2, "block", 4, -0.25), text, 10, 4, reset_every=3)
    assert second.load(tmp_path / "ckpt") == {"note": "four updates"}
    assert (second.step, second.pos) == (4, 40)
    assert [second.train_step() for _ in range(3)] == expected

    other = CharLMTrainer(CharLM(24, 2, "block", 4, -0.5), text, 10, 4, reset_every=3)
    with pytest.raises(ValueError, match="settings"):
        other.load(tmp_path / "ckpt")


def test_streams_wrap_around_and_reset():
    trainer = CharLMTrainer(CharLM(8, 1), _words(300), seq_len=10, batch_size=4)
    length = trainer.streams.shape[1]
    for _ in range((length - 1) // 10 + 1):
        trainer.train_step()
    assert trainer.pos == 10  # the last update started again at the beginning


@pytest.mark.skipif(not (DATA_DIR / "text").is_dir(), reason=f"no data at {DATA_DIR}")
def test_char_splits_hold_out_the_end_of_each_corpus():
    train, valid = load_char_splits(DATA_DIR, "both")
    assert 0.049 < len(valid) / (len(train) + len(valid)) < 0.051
    austen_train, austen_valid = load_char_splits(DATA_DIR, "austen")
    np.testing.assert_array_equal(valid[: len(austen_valid)], austen_valid)
    np.testing.assert_array_equal(train[: len(austen_train)], austen_train)


# ---- the engine against the training module ------------------------------------------------


def _trained_looking_char_lm(hidden, layers, gate, rank, shift):
    """A CharLM with weights away from their init and batch-norm running statistics away from
    0 and 1 (a few training-mode passes), in eval mode."""
    torch.manual_seed(7)
    model = CharLM(hidden, layers, gate, rank, shift=shift)
    with torch.no_grad():
        for p in model.parameters():  # kept to the scale of the init: no chaotic recurrence
            scale = 0.3 / np.sqrt(p.shape[-1]) if p.ndim == 2 else 0.1
            p.add_(scale * torch.randn_like(p))
        model.train()
        for _ in range(5):
            model(torch.randint(0, 27, (40, 16)))
    return model.eval()


ENGINE_CASES = [  # gate, rank, layers, hidden, shift (chosen so both paths run)
    ("dense", None, 2, 64, 0.0),
    ("lowrank", 8, 1, 48, -0.25),
    ("lowrank", 16, 2, 96, -0.25),
    ("block", 8, 2, 64, -0.25),
    ("block", 4, 1, 32, -0.25),
    ("lowrank", 1, 1, 1, -0.25),
    ("lowrank", 16, 1, 1024, 0.0),
    ("block", 64, 1, 1024, -0.25),
]


def _module_states(model, ids):
    """Every layer's state after every step of one stream, (T, h) each, and the logits."""
    states, x = [], torch.from_numpy(ids)[:, None]
    with torch.no_grad():
        for cell in model.gru.layers:
            x, _ = cell(x, None)
            states.append(x[:, 0].double().numpy())
        logits = model.output(x[:, 0]).numpy()
    return states, logits


def _gate_preactivation(arrays, i, x, h):
    """The module's eval-mode z pre-activation of layer i (float64), from the exported arrays."""
    p = f"layers.{i}."
    W_zl = arrays[p + "W_zl"].astype(np.float64)
    zx = W_zl[:, x] if np.ndim(x) == 0 else W_zl @ x
    zlr = np.maximum(zx + arrays[p + "U_zl"] @ h + arrays[p + "b_zl"], 0.0)
    return arrays[p + "W_z"] @ zlr + arrays[p + "b_z"]


@pytest.mark.parametrize(("gate", "rank", "layers", "hidden", "shift"), ENGINE_CASES)
def test_engine_equals_training_module_over_1000_steps(isa, gate, rank, layers, hidden, shift):
    """GRUStack.from_char_lm computes the module's eval-mode maths over a 1000-step stream,
    free-running, to float32 rounding accumulated through the recurrence."""
    import ccinfer

    model = _trained_looking_char_lm(hidden, layers, gate, rank, shift)
    ids = np.random.default_rng(8).integers(0, 27, 1000)
    _, expected = _module_states(model, ids)
    got = ccinfer.GRUStack.from_char_lm(model).run(ids)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=2e-4)


@pytest.mark.parametrize(("gate", "rank", "layers", "hidden", "shift"), ENGINE_CASES[1:])
def test_engine_masks_equal_training_module(isa, gate, rank, layers, hidden, shift):
    """From the module's own state at each of 1000 steps, the engine gates off exactly the
    units the module gates off (z = 0: state kept bit for bit), except units whose gate
    pre-activation is within 1e-5 of 0, where the two sums' rounding decides; the new states
    and logits agree to float32 rounding."""
    import ccinfer

    model = _trained_looking_char_lm(hidden, layers, gate, rank, shift)
    ids = np.random.default_rng(9).integers(0, 27, 1000)
    states, logits = _module_states(model, ids)
    arrays = {k: v.astype(np.float64) for k, v in model.export_numpy().items()}
    engine = ccinfer.GRUStack.from_char_lm(model)
    state = engine.new_state()
    zero = np.zeros(hidden)
    borderline, off_units = 0, 0
    for t, token in enumerate(ids):
        before = [states[i][t - 1] if t else zero for i in range(layers)]
        for i in range(layers):
            state.set_h(i, before[i][None].astype(np.float32))
        engine.reset_stats()
        np.testing.assert_allclose(engine.step(int(token), state=state), logits[t], atol=2e-5)
        for i in range(layers):
            x = int(token) if i == 0 else states[i - 1][t]
            u = _gate_preactivation(arrays, i, x, before[i])
            h = state.get_h(i)[0]
            off = u < -1e-5
            off_units += off.sum()
            np.testing.assert_array_equal(h[off], before[i][off].astype(np.float32))
            np.testing.assert_allclose(h, states[i][t], atol=2e-5)
            near = np.abs(u) <= 1e-5
            active = round(engine.stats["layers"][i]["z_density"] * hidden)
            assert abs(active - np.count_nonzero(u > 0)) <= near.sum(), (t, i)
            borderline += near.sum()
    assert borderline <= 1e-3 * hidden * layers * len(ids)
    assert 0.05 < off_units / (hidden * layers * len(ids)) < 0.95  # both paths exercised


def test_from_char_lm_refuses_broken_exports():
    import ccinfer
    from ccinfer.char_lm import stack_from_export

    model = _trained_looking_char_lm(32, 2, "block", 4, shift=0.0)
    arrays = model.export_numpy()
    with pytest.raises(ValueError, match="arrays beyond layer 0"):
        stack_from_export(arrays, "block", 1)
    with pytest.raises(ValueError, match=r"missing array 'layers\.1\.W_ir'"):
        stack_from_export({k: v for k, v in arrays.items() if k != "layers.1.W_ir"}, "block", 2)
    broken = dict(arrays)
    broken["layers.0.W_z"] = broken["layers.0.W_z"].copy()
    broken["layers.0.W_z"][0, 1] = 0.5
    with pytest.raises(ValueError, match="not a block expansion"):
        stack_from_export(broken, "block", 2)
    with pytest.raises(ValueError, match="gate must be one of"):
        stack_from_export(arrays, "sparse", 2)
    assert isinstance(ccinfer.GRUStack.from_char_lm(model), ccinfer.GRUStack)


@pytest.mark.parametrize(("gate", "rank"), CONDITIONAL)
def test_gates_unseen_by_batch_norm_stay_closed(gate, rank):
    """With close_unseen_gates, a gate whose running variance is below eps (batch norm saw it
    only at 0) is shut in eval mode instead of firing on u = z^lr / sqrt(eps); the export and
    the engine agree. Without it the running statistics decide (the gate opens)."""
    import ccinfer

    model = _trained_looking_char_lm(16, 1, gate, rank, shift=0.0)
    cell = model.gru.layers[0]
    with torch.no_grad():
        cell.bn.running_mean[0] = 0.0
        cell.bn.running_var[0] = 1e-20
    ids = np.random.default_rng(3).integers(0, 27, 300)
    width = 1 if gate == "lowrank" else cell.block_size
    for close in (False, True):
        assert model.close_unseen_gates(close) == [1]
        trace: list = []
        with torch.no_grad():
            expected, _ = model(torch.from_numpy(ids)[:, None], None, trace)
        z = trace[0][:, 0].numpy()
        assert np.all(z[:, :width] == 0) == close and np.any(z[:, width:] > 0)
        np.testing.assert_allclose(
            ccinfer.GRUStack.from_char_lm(model).run(ids), expected[:, 0].numpy(), atol=2e-5
        )


def test_slim_checkpoint_resumes(tmp_path):
    from ccinfer.train.gru import slim_checkpoint

    torch.manual_seed(11)
    text = _words(20000)
    trainer = CharLMTrainer(CharLM(16, 1, "block", 4, -0.25), text, seq_len=10, batch_size=4)
    for _ in range(5):
        trainer.train_step()
    trainer.save(tmp_path / "full")
    slim_checkpoint(tmp_path / "full", tmp_path / "slim")
    full_size = (tmp_path / "full.safetensors").stat().st_size
    assert (tmp_path / "slim.safetensors").stat().st_size < full_size / 2
    resumed = CharLMTrainer(CharLM(16, 1, "block", 4, -0.25), text, seq_len=10, batch_size=4)
    resumed.load(tmp_path / "slim")
    assert (resumed.step, resumed.pos) == (trainer.step, trainer.pos)
    assert torch.equal(resumed.state, trainer.state)
    restored = resumed.model.state_dict()
    for name, a in trainer.model.state_dict().items():
        b = restored[name]
        expected = a.half().to(a.dtype) if a.is_floating_point() else a
        assert torch.equal(b, expected), name
    assert resumed.optimizer.state_dict()["state"] == {}  # Adam starts again
    assert math.isfinite(resumed.train_step()) and resumed.step == trainer.step + 1
    # A full checkpoint of the resumed run (Adam 1 step old at update 6) loads again.
    resumed.train_step()
    resumed.save(tmp_path / "again")
    again = CharLMTrainer(CharLM(16, 1, "block", 4, -0.25), text, seq_len=10, batch_size=4)
    again.load(tmp_path / "again")
    assert (again.step, again.adam_start) == (7, 5)
    steps = {int(v["step"]) for v in again.optimizer.state_dict()["state"].values()}
    assert steps == {2}
