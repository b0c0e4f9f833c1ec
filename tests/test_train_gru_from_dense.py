"""Tests of the path from a trained dense GRU to a conditional one (train.gru.from_dense)."""

from __future__ import annotations

import numpy as np
import pytest

import ccinfer
from ccinfer.datasets import encode_text

from ._torch import one_torch_thread, require_torch  # noqa: F401 (autouse fixture)

torch = require_torch()

from ccinfer.train.gru import (  # noqa: E402
    CharLM,
    CharLMTrainer,
    DensitySchedule,
    conditional_from_dense,
    dense_char_lm,
    evaluate_char_lm,
    fit_char_lm,
    update_budget,
)

VOCAB = 27
# A short calibration run keeps these tests fast: 32 streams of 150 symbols.
CALIBRATION = {"n_streams": 32, "steps": 150}
CALIBRATION_SYMBOLS = 32 * 150


def _words(n: int, seed: int = 0) -> np.ndarray:
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "fish", "sun"]
    rng = np.random.default_rng(seed)
    return encode_text(" ".join(words[i] for i in rng.integers(0, len(words), n // 3)))


@pytest.fixture(scope="module")
def trained_dense():
    """A small dense character model trained to well below chance on word text (a few s)."""
    torch.manual_seed(0)
    model = CharLM(32, 1, "dense")
    text = _words(40000, seed=1)
    trainer = CharLMTrainer(model, text, seq_len=20, batch_size=16, lr=1e-2)
    for _ in range(150):
        trainer.train_step()
    return model.eval(), text, _words(3000, seed=2)


def _logits(model: CharLM, ids: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(ids.astype(np.int64))[:, None])[0][:, 0].numpy()


def _bpc(model: CharLM, ids: np.ndarray) -> float:
    return evaluate_char_lm(model, ids, n_streams=8)["bpc"]


# ---- taking a dense GRU in --------------------------------------------------------------------


def test_dense_char_lm_from_torch_gru_stack_and_state_dict_compute_the_same():
    torch.manual_seed(1)
    gru, head = torch.nn.GRU(VOCAB, 24, 2), torch.nn.Linear(24, VOCAB)
    ids = _words(200)
    one_hot = torch.nn.functional.one_hot(torch.from_numpy(ids.astype(np.int64)), VOCAB)
    with torch.no_grad():
        expected = head(gru(one_hot.float()[:, None])[0])[:, 0].numpy()
    from_module = dense_char_lm(gru, head)
    from_state = dense_char_lm(gru.state_dict(), (head.weight.detach(), head.bias.detach()))
    stack = ccinfer.GRUStack.from_torch(gru, head=head, token_input=True)
    from_stack = dense_char_lm(stack)
    for model in (from_module, from_state, from_stack, dense_char_lm(from_stack)):
        assert model.gru.num_layers == 2 and model.gru.gate == "dense" and not model.training
        np.testing.assert_allclose(_logits(model, ids), expected, rtol=0, atol=2e-5)
    np.testing.assert_allclose(stack.run(ids.astype(np.int32)), expected, rtol=0, atol=2e-5)


def test_dense_char_lm_refuses_what_it_cannot_take():
    torch.manual_seed(2)
    gru = torch.nn.GRU(VOCAB, 16)
    with pytest.raises(ValueError, match="needs its head"):
        dense_char_lm(gru)
    with pytest.raises(ValueError, match="predicts 5 symbols but the input has 27"):
        dense_char_lm(gru, torch.nn.Linear(16, 5))
    with pytest.raises(ValueError, match="unidirectional"):
        dense_char_lm(torch.nn.GRU(VOCAB, 16, bidirectional=True), torch.nn.Linear(32, VOCAB))
    with pytest.raises(ValueError, match="gate 'lowrank'"):
        dense_char_lm(CharLM(16, 1, "lowrank", 4))
    conditional = ccinfer.GRUStack.from_char_lm(CharLM(16, 1, "block", 4).eval())
    with pytest.raises(ValueError, match="every layer must be dense"):
        dense_char_lm(conditional)
    vector = ccinfer.GRUStack.from_torch(gru, head=torch.nn.Linear(16, VOCAB))
    with pytest.raises(ValueError, match="token input"):
        dense_char_lm(vector)
    with pytest.raises(ValueError, match="lacks"):
        dense_char_lm({"weight_ih_l0": gru.weight_ih_l0}, (np.zeros((27, 16)), np.zeros(27)))
    with pytest.raises(ValueError, match="expected a GRUStack"):
        dense_char_lm("model.onnx")


# ---- the initialisation -----------------------------------------------------------------------


def _dense_update_preactivation(dense: CharLM, ids: np.ndarray, n_streams: int):
    """``-a`` of the dense update gate and the inputs it was computed from, every step."""
    length = len(ids) // n_streams
    streams = torch.from_numpy(ids[: n_streams * length].astype(np.int64))
    streams = streams.view(n_streams, length).t()
    cell = dense.gru.layers[0]
    h = cell.hidden_size
    with torch.no_grad():
        states, _ = cell(streams)
        h_prev = torch.cat([torch.zeros_like(states[:1]), states[:-1]])
        a = cell.project_input(streams)[..., h : 2 * h] + h_prev @ cell.weight_hh[h : 2 * h].t()
    return -(a + cell.bias_hh[h : 2 * h]), streams, h_prev


@pytest.mark.parametrize("gate", ["lowrank", "block"])
def test_full_rank_gate_follows_the_dense_update_gate_exactly(trained_dense, gate):
    """At full rank (lowrank) or with one unit per block, batch norm's input is the dense
    update gate's pre-activation -a plus a constant per unit, on the text it was lifted on."""
    dense, text, _ = trained_dense
    model, info = conditional_from_dense(dense, text, gate, 32, **CALIBRATION)
    assert info["svd_energy"] == (pytest.approx([1.0]) if gate == "lowrank" else None)
    neg_a, streams, h_prev = _dense_update_preactivation(dense, text[:CALIBRATION_SYMBOLS], 32)
    cell = model.gru.layers[0]
    with torch.no_grad():
        zlr = torch.relu(
            cell.project_input(streams)[..., 2 * 32 :] + h_prev @ cell.weight_zl_hh.t()
        )
        assert torch.all(zlr > 0)  # the lift keeps the ReLU the identity on this text
        u = zlr @ cell.weight_z.t() if gate == "lowrank" else zlr
    offset = (u - neg_a).flatten(0, 1)
    assert offset.std(0).max() < 1e-5 * neg_a.flatten(0, 1).std(0).min()


def test_copies_everything_but_the_update_gate(trained_dense):
    dense, text, _ = trained_dense
    model, _ = conditional_from_dense(dense, text, "lowrank", 8, **CALIBRATION)
    got, want = model.export_numpy(), dense.export_numpy()
    h = 32
    rows = {"r": slice(0, h), "n": slice(2 * h, 3 * h)}
    for gate, part in rows.items():
        np.testing.assert_array_equal(got[f"layers.0.W_i{gate}"], want["layers.0.W_ih"][part])
        np.testing.assert_array_equal(got[f"layers.0.U_h{gate}"], want["layers.0.W_hh"][part])
        np.testing.assert_array_equal(got[f"layers.0.b_i{gate}"], want["layers.0.b_ih"][part])
        np.testing.assert_array_equal(got[f"layers.0.b_h{gate}"], want["layers.0.b_hh"][part])
    np.testing.assert_array_equal(got["output.weight"], want["output.weight"])
    np.testing.assert_array_equal(got["output.bias"], want["output.bias"])


def test_svd_energy_is_the_kept_share_of_the_update_gate(trained_dense):
    dense, text, _ = trained_dense
    cell = dense.gru.layers[0]
    M = torch.cat([cell.weight_ih[32:64], cell.weight_hh[32:64]], 1).detach().double().numpy()
    s = np.linalg.svd(M, compute_uv=False)
    for rank in (3,):
        _, info = conditional_from_dense(dense, text, "lowrank", rank, **CALIBRATION)
        assert info["svd_energy"][0] == pytest.approx(np.sum(s[:rank] ** 2) / np.sum(s**2))


@pytest.mark.parametrize(("gate", "rank"), [("lowrank", 8), ("block", 8)])
def test_given_the_dense_gate_values_the_converted_model_is_the_dense_model(
    trained_dense, gate, rank
):
    """Everything but the update gate's function is the dense model's: fed the dense model's
    fractions of new state, 1 - z (PyTorch's z = 1 keeps), the converted cell computes its
    states and logits."""
    dense, text, held_out = trained_dense
    model, _ = conditional_from_dense(dense, text, gate, rank, **CALIBRATION)
    ids = torch.from_numpy(held_out[:400].astype(np.int64)).view(8, 50).t()
    trace: list = []
    with torch.no_grad():
        expected, _ = dense(ids, None, trace)
    new_fraction = iter((1 - trace[0]).unbind(0))
    cell = model.gru.layers[0]
    cell.update_gate = lambda zlr: next(new_fraction)  # instance attribute: this model only
    with torch.no_grad():
        got, _ = model(ids)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def _converted_gate(model: CharLM, streams, h_prev) -> torch.Tensor:
    """The converted layer's update gate on the dense model's states (eval mode), (T * B, h)."""
    cell = model.gru.layers[0]
    h = cell.hidden_size
    with torch.no_grad():
        zlr = torch.relu(cell.project_input(streams)[..., 2 * h :] + h_prev @ cell.weight_zl_hh.t())
        return cell.eval().update_gate(zlr.flatten(0, 1)).detach()


def test_full_rank_conversion_takes_the_dense_gates_fraction_of_new_state(trained_dense):
    """With the whole update gate kept, the fitted scale and offset make the conditional gate
    follow the dense one, and the converted model scores nearly what the dense one does,
    with nearly every gate open (the dense model shuts almost none)."""
    dense, text, held_out = trained_dense
    model, info = conditional_from_dense(dense, text, "lowrank", 32, **CALIBRATION)
    assert info["gate_error"][0] < 0.05
    assert info["density"][0] > 0.8
    assert _bpc(model, held_out) < _bpc(dense, held_out) + 0.1
    # what info reports is this gate's, on the calibration text with the dense states
    neg_a, streams, h_prev = _dense_update_preactivation(dense, text[:CALIBRATION_SYMBOLS], 32)
    z = _converted_gate(model, streams, h_prev)
    fraction = torch.sigmoid(neg_a).detach().flatten(0, 1)
    assert float(((z - fraction) ** 2).mean().sqrt()) == pytest.approx(info["gate_error"][0])
    assert float(torch.count_nonzero(z)) / z.numel() == pytest.approx(info["density"][0])
    cell = model.gru.layers[0]
    assert cell.affine and model.config()["affine"] and cell.shift == 0.0
    low_rank, low_info = conditional_from_dense(dense, text, "lowrank", 2, **CALIBRATION)
    assert low_rank.gru.layers[0].affine
    assert low_info["gate_error"][0] > 2 * info["gate_error"][0]


def test_block_conversion_fits_each_blocks_mean(trained_dense):
    """One gate per block follows the block's mean fraction of new state: closer than the
    best gate per block that ignores the input (the block's mean fraction over the text)."""
    dense, text, _ = trained_dense
    model, info = conditional_from_dense(dense, text, "block", 4, **CALIBRATION)
    cell = model.gru.layers[0]
    assert cell.bn.weight.shape == (4,)
    neg_a, streams, h_prev = _dense_update_preactivation(dense, text[:CALIBRATION_SYMBOLS], 32)
    fraction = torch.sigmoid(neg_a).detach().flatten(0, 1)
    z = _converted_gate(model, streams, h_prev)
    assert float(((z - fraction) ** 2).mean().sqrt()) == pytest.approx(info["gate_error"][0])
    block_mean = fraction.view(len(fraction), 4, 8).mean((0, 2)).repeat_interleave(8)
    constant = float(((fraction - block_mean) ** 2).mean().sqrt())
    assert info["gate_error"][0] < constant
    assert 0 < info["density"][0] <= 1


def test_conversion_under_no_grad_gives_the_same_model(trained_dense):
    dense, text, _ = trained_dense
    model, info = conditional_from_dense(dense, text, "lowrank", 4, **CALIBRATION)
    with torch.no_grad():
        again, info_again = conditional_from_dense(dense, text, "lowrank", 4, **CALIBRATION)
    assert info_again == info
    for name, value in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[name], value, rtol=0, atol=0)


def test_two_layers_are_each_fitted():
    torch.manual_seed(4)
    dense = CharLM(16, 2, "dense").eval()
    text = _words(20000)
    model, info = conditional_from_dense(dense, text, "lowrank", 16, **CALIBRATION)
    assert len(info["density"]) == len(info["gate_error"]) == 2
    assert max(info["gate_error"]) < 0.05
    assert all(cell.affine for cell in model.gru.layers)


def test_refuses_bad_arguments(trained_dense):
    dense, text, _ = trained_dense
    with pytest.raises(ValueError, match="needs a dense CharLM"):
        conditional_from_dense(CharLM(32, 1, "lowrank", 4), text)
    with pytest.raises(ValueError, match="'lowrank' or 'block'"):
        conditional_from_dense(dense, text, "dense")
    with pytest.raises(ValueError, match=r"symbol ids must lie in 0..26"):
        conditional_from_dense(dense, np.full(1000, 27))
    with pytest.raises(ValueError, match="must divide"):
        conditional_from_dense(dense, text, "block", 5)
    with pytest.raises(ValueError, match="at least 128 ids"):
        conditional_from_dense(dense, text[:100])


# ---- fine-tuning and export -------------------------------------------------------------------


@pytest.mark.parametrize(("gate", "rank"), [("lowrank", 8), ("block", 8)])
def test_fine_tuned_model_exports_and_loads(trained_dense, tmp_path, gate, rank):
    dense, text, held_out = trained_dense
    model, _ = conditional_from_dense(dense, text, gate, rank, **CALIBRATION)
    calls = []

    def measure(m):
        calls.append(m.training)
        return evaluate_char_lm(m, held_out, n_streams=8)

    metrics = fit_char_lm(
        model, text, held_out, 30, seq_len=20, batch_size=16, lr=1e-3, eval_every=10,
        evaluate=measure, progress=False,
    )  # fmt: skip
    assert [e["step"] for e in metrics["history"]] == [10, 20, 30]
    assert calls == [False] * 3 and not model.training
    assert metrics["updates"] == 30 and metrics["settings"]["model"]["gate"] == gate
    stack = ccinfer.GRUStack.from_char_lm(model)
    path = tmp_path / "converted.safetensors"
    stack.save(path)
    loaded = ccinfer.load(path)
    assert [layer["kind"] for layer in loaded.layers] == [gate]
    ids = held_out[:300]
    np.testing.assert_allclose(
        loaded.run(ids.astype(np.int32)), _logits(model, ids), rtol=0, atol=1e-4
    )


def test_fine_tuning_with_teacher_and_schedule_shuts_gates_and_improves(trained_dense):
    """The documented route: convert, then fine-tune with the dense model as teacher while the
    schedule lowers the density; the model ends near the target density and better than the
    conversion left it at that density."""
    dense, text, held_out = trained_dense
    model, _ = conditional_from_dense(dense, text, "lowrank", 8, **CALIBRATION)
    untrained = CharLM(32, 1, "lowrank", 8, affine=True)
    untrained.load_state_dict(model.state_dict())
    fit_char_lm(
        model, text, held_out, 80, seq_len=20, batch_size=16, lr=3e-3, reset_every=10,
        stagger_resets=True, teacher=dense, density=DensitySchedule(0.4, anneal=40), progress=False,
    )  # fmt: skip
    measured = evaluate_char_lm(model, held_out, n_streams=8)
    assert abs(measured["z_density"][0] - 0.4) < 0.15
    for cell in untrained.gru.layers:  # the conversion, shut to the same density by s alone
        cell.shift = model.gru.layers[0].shift
    assert measured["bpc"] < evaluate_char_lm(untrained.eval(), held_out, n_streams=8)["bpc"]


def test_fine_tuning_improves_the_converted_model(trained_dense):
    dense, text, held_out = trained_dense
    model, _ = conditional_from_dense(dense, text, "lowrank", 8, **CALIBRATION)
    before = _bpc(model, held_out)
    fit_char_lm(model, text, held_out, 60, seq_len=20, batch_size=16, lr=3e-3, progress=False)
    assert _bpc(model, held_out) < before - 0.005


# ---- how sparse a dense model could be ---------------------------------------------------------


def test_update_budget_keeping_everything_is_the_dense_model(trained_dense):
    dense, _, held_out = trained_dense
    budget = update_budget(dense, held_out, (1.0, 0.5, 0.1), n_streams=8, steps=200)
    full, half, tenth = budget["bpc"]
    reference = evaluate_char_lm(dense, held_out[: 8 * 200], n_streams=8)["bpc"]
    assert full["by_update"] == pytest.approx(reference, abs=1e-4)
    assert full["by_fraction"] == pytest.approx(reference, abs=1e-4)
    # the largest updates matter most: keeping them beats keeping the largest gate values
    assert half["by_update"] <= half["by_fraction"] + 1e-6
    assert tenth["by_update"] > full["by_update"]
    assert budget["symbols"] == 8 * 199
    quantiles = budget["new_state_fraction"][0]
    assert 0 <= quantiles["0.1"] <= quantiles["0.5"] <= quantiles["0.75"] <= 1


def test_update_budget_on_two_layers_and_bad_input():
    torch.manual_seed(5)
    dense = CharLM(12, 2, "dense").eval()
    text = _words(3000)
    budget = update_budget(dense, text, (1.0,), n_streams=4, steps=100)
    reference = evaluate_char_lm(dense, text[:400], n_streams=4)["bpc"]
    assert budget["bpc"][0]["by_update"] == pytest.approx(reference, abs=1e-4)
    assert len(budget["new_state_fraction"]) == 2
    with pytest.raises(ValueError, match="needs a dense CharLM"):
        update_budget(CharLM(12, 1, "lowrank", 4), text)
    with pytest.raises(ValueError, match=r"kept fractions must lie in \(0, 1\]"):
        update_budget(dense, text, (0.0,))
    with pytest.raises(ValueError, match=r"symbol ids must lie in 0\.\.26"):
        update_budget(dense, np.full(500, 30))
    with pytest.raises(ValueError, match="at least 128 ids"):
        update_budget(dense, text[:50])
