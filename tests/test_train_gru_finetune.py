"""Tests of the fine-tuning tools of ccinfer.train.gru: the gate normalisation's scale and
offset (``affine``), distillation from a teacher and the `DensitySchedule`."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

import ccinfer
from ccinfer.datasets import encode_text

from ._torch import one_torch_thread, require_torch  # noqa: F401 (autouse fixture)

torch = require_torch()

from ccinfer.train.gru import CharLM, CharLMTrainer, DensitySchedule  # noqa: E402


def _text(n: int = 20000, seed: int = 0) -> np.ndarray:
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "fish", "sun"]
    rng = np.random.default_rng(seed)
    return encode_text(" ".join(words[i] for i in rng.integers(0, len(words), n // 3)))


def _parameters(model: CharLM) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


# ---- the normalisation's scale and offset -------------------------------------------------


@pytest.mark.parametrize(("gate", "rank"), [("lowrank", 6), ("block", 4)])
def test_affine_gate_exports_to_the_engine(gate, rank):
    """gamma and beta fold into W_z, b_z: the engine computes the module's eval mode."""
    torch.manual_seed(3)
    model = CharLM(16, 2, gate, rank, -0.3, affine=True)
    trainer = CharLMTrainer(model, _text(), seq_len=10, batch_size=8, lr=1e-2)
    for _ in range(5):  # running statistics away from their start
        trainer.train_step()
    with torch.no_grad():
        for cell in model.gru.layers:
            cell.bn.weight.uniform_(0.5, 2.0)
            cell.bn.bias.uniform_(-1.0, 1.0)
    model.eval()
    ids = _text(600, seed=1)[:300]
    with torch.no_grad():
        expected = model(torch.from_numpy(ids.astype(np.int64))[:, None])[0][:, 0].numpy()
    stack = ccinfer.GRUStack.from_char_lm(model)
    np.testing.assert_allclose(stack.run(ids.astype(np.int32)), expected, rtol=0, atol=1e-4)
    assert "affine=True" in repr(model.gru.layers[0])
    rebuilt = CharLM(**model.config())
    rebuilt.load_state_dict(model.state_dict())  # the config says what the weights need


def test_without_affine_the_normalisation_has_no_parameters():
    model = CharLM(16, 1, "lowrank", 4)
    assert model.gru.layers[0].bn.weight is None and not model.config()["affine"]
    assert not CharLM(16, 1, "dense", affine=True).gru.affine  # a dense gate has no norm


# ---- distillation ---------------------------------------------------------------------------


def test_distilling_from_an_identical_teacher_alone_has_no_gradient():
    """With distil = 1 the objective is the KL divergence to the teacher, which is zero with
    zero gradient when the teacher is the model itself (dense: no batch statistics); with
    distil = 0 the text's cross-entropy has a gradient."""
    largest = {}
    for distil in (1.0, 0.0):
        torch.manual_seed(5)
        model = CharLM(16, 1, "dense")
        trainer = CharLMTrainer(
            model, _text(), 10, 8, lr=1e-2, teacher=copy.deepcopy(model), distil=distil
        )
        teacher = trainer.teacher
        loss = trainer.train_step()  # the gradients stay until the next step
        assert loss > 1.0  # the reported loss is the text's either way
        assert teacher is not None and all(p.grad is None for p in teacher.parameters())
        assert all(p.requires_grad for p in teacher.parameters())  # the caller's, untouched
        largest[distil] = max(float(p.grad.abs().max()) for p in model.parameters())
    assert largest[1.0] < 1e-6 < 1e-2 < largest[0.0]


def test_distil_zero_is_training_without_a_teacher():
    runs = []
    for teacher in (None, CharLM(16, 1, "dense")):
        torch.manual_seed(6)
        model = CharLM(16, 1, "lowrank", 4)
        trainer = CharLMTrainer(
            model, _text(), seq_len=10, batch_size=8, lr=1e-2, teacher=teacher, distil=0.0
        )
        for _ in range(3):
            trainer.train_step()
        runs.append(_parameters(model))
    for name, value in runs[0].items():
        torch.testing.assert_close(runs[1][name], value, rtol=0, atol=0)


def test_teacher_pulls_the_model_towards_its_predictions():
    torch.manual_seed(7)
    teacher = CharLM(16, 1, "dense").eval()
    model = CharLM(16, 1, "dense")
    ids = torch.from_numpy(_text(2000, seed=3)[:400].astype(np.int64)).view(8, 50).t()

    def divergence() -> float:
        with torch.no_grad():
            p = torch.log_softmax(teacher(ids)[0], -1)
            q = torch.log_softmax(model.eval()(ids)[0], -1)
        return float((p.exp() * (p - q)).sum(-1).mean())

    before = divergence()
    trainer = CharLMTrainer(
        model, _text(), seq_len=10, batch_size=8, lr=1e-2, teacher=teacher, distil=1.0
    )
    for _ in range(30):
        trainer.train_step()
    assert divergence() < 0.5 * before


def test_the_divergence_is_from_the_teacher_to_the_model():
    """The distillation term is KL(teacher || model), summed over symbols and averaged over
    positions: with distil = 1, the reported objective's gradient is that of this formula."""
    torch.manual_seed(13)
    teacher, model = CharLM(8, 1, "dense").eval(), CharLM(8, 1, "dense")
    text = _text()
    trainer = CharLMTrainer(model, text, seq_len=6, batch_size=4, teacher=teacher, distil=1.0)
    chunk = trainer.streams[:, :7].t().long()
    with torch.no_grad():
        p = torch.log_softmax(teacher(chunk[:-1])[0], -1)
    reference = copy.deepcopy(model)
    q = torch.log_softmax(reference(chunk[:-1])[0], -1)
    expected = (p.exp() * (p - q)).sum(-1).mean()  # KL(p || q); KL(q || p) differs
    expected.backward()
    trainer.train_step()
    for (name, got), want in zip(model.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(got.grad, want.grad, rtol=1e-5, atol=1e-7, msg=name)


def test_teacher_and_distil_are_checked():
    model = CharLM(16, 1, "lowrank", 4)
    with pytest.raises(ValueError, match="same symbols"):
        CharLMTrainer(model, _text(), 10, 8, teacher=CharLM(16, 1, vocab_size=30))
    with pytest.raises(ValueError, match="same symbols"):
        CharLMTrainer(model, _text(), 10, 8, teacher=torch.nn.Linear(3, 3))
    with pytest.raises(ValueError, match=r"distil must lie in \[0, 1\]"):
        CharLMTrainer(model, _text(), 10, 8, teacher=CharLM(16), distil=1.5)
    for distil in (float("nan"), "0.5"):
        with pytest.raises(ValueError, match=r"distil must lie in \[0, 1\]"):
            CharLMTrainer(model, _text(), 10, 8, teacher=CharLM(16), distil=distil)


def test_trainer_settings_are_checked_before_training():
    model = CharLM(16, 1, "lowrank", 4)
    before = _parameters(model)
    with pytest.raises(ValueError, match="density must be a DensitySchedule"):
        CharLMTrainer(model, _text(), 10, 8, density=0.5)
    with pytest.raises(ValueError, match="reset_every must be at least 1"):
        CharLMTrainer(model, _text(), 10, 8, reset_every=0)
    for name, value in _parameters(model).items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)


def test_staggered_resets_zero_each_stream_on_its_own_update():
    """Stream b is zeroed before the updates u with (u + b * R // B) % R == 0; the others
    carry their state."""
    torch.manual_seed(14)
    R, B = 4, 8
    trainer = CharLMTrainer(
        CharLM(8, 1, "dense"), _text(), seq_len=5, batch_size=B, reset_every=R,
        stagger_resets=True,
    )  # fmt: skip
    trainer.train_step()
    for _ in range(6):
        carried = trainer.state.clone()
        step = trainer.step
        zeroed = [b for b in range(B) if (step + b * R // B) % R == 0]
        seen = {}

        def record(module, args, _seen=seen):
            _seen["h0"] = args[1]

        handle = trainer.model.register_forward_pre_hook(record)
        trainer.train_step()
        handle.remove()
        h0 = seen["h0"]
        for b in range(B):
            if b in zeroed:
                assert torch.count_nonzero(h0[:, b]) == 0
            else:
                torch.testing.assert_close(h0[:, b], carried[:, b], rtol=0, atol=0)
        assert 0 < len(zeroed) < B


def test_per_layer_shifts_are_part_of_the_config():
    """After steering, the layers' shifts differ; config() keeps each, so CharLM(**config)
    rebuilds the same model."""
    torch.manual_seed(15)
    model = CharLM(16, 2, "lowrank", 4, affine=True)
    trainer = CharLMTrainer(
        model, _text(), seq_len=10, batch_size=8, density=DensitySchedule(0.3, gain=3.0)
    )
    for _ in range(5):
        trainer.train_step()
    config = model.config()
    assert isinstance(config["shift"], list) and len(set(config["shift"])) == 2
    rebuilt = CharLM(**json.loads(json.dumps(config)))
    rebuilt.load_state_dict(model.state_dict())
    ids = torch.from_numpy(_text(400, seed=4)[:120].astype(np.int64)).view(4, 30).t()
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(ids)[0], model.eval()(ids)[0])
    with pytest.raises(ValueError, match="2 layers need 2 shifts"):
        CharLM(16, 2, "lowrank", 4, shift=[0.0])


# ---- the density schedule -------------------------------------------------------------------


def test_schedule_moves_linearly_then_holds():
    schedule = DensitySchedule(0.4, anneal=100)
    assert schedule.at(0, 0.9) == pytest.approx(0.9)
    assert schedule.at(50, 0.9) == pytest.approx(0.65)
    assert schedule.at(100, 0.9) == schedule.at(10**6, 0.9) == 0.4
    assert DensitySchedule(0.3).at(0, 0.9) == 0.3
    assert DensitySchedule(**schedule.config()) == schedule


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": 0.0}, r"target must lie in \(0, 1\)"),
        ({"target": 1.0}, r"target must lie in \(0, 1\)"),
        ({"target": 0.5, "anneal": -1}, "anneal >= 0"),
        ({"target": 0.5, "gain": 0.0}, "gain in"),
        ({"target": float("nan")}, "target must be a finite number"),
        ({"target": "0.5"}, "target must be a finite number"),
        ({"target": 0.5, "anneal": float("nan")}, "anneal must be an int"),
        ({"target": 0.5, "anneal": 10.5}, "anneal must be an int"),
        ({"target": 0.5, "gain": float("inf")}, "gain must be a finite number"),
    ],
)
def test_schedule_refuses_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DensitySchedule(**kwargs)


def test_a_dense_model_has_no_density_to_steer():
    with pytest.raises(ValueError, match="no z density"):
        CharLMTrainer(CharLM(16), _text(), 10, 8, density=DensitySchedule(0.5))


@pytest.mark.parametrize(("gate", "rank", "target"), [("lowrank", 4, 0.2), ("block", 4, 0.7)])
def test_schedule_holds_every_layer_at_its_target(gate, rank, target):
    """Whatever s the model starts at, the steered shifts bring each layer's training-mode
    density to the target and keep it there."""
    torch.manual_seed(8)
    model = CharLM(16, 2, gate, rank, shift=0.0)
    trainer = CharLMTrainer(
        model, _text(), seq_len=10, batch_size=16, lr=3e-3, density=DensitySchedule(target)
    )
    for _ in range(120):
        trainer.train_step()
    trace: list = []
    tail = []
    for _ in range(20):
        chunk = trainer.streams[:, trainer.pos : trainer.pos + 10].t().long()
        model.train()
        with torch.no_grad():
            model(chunk, trainer.state, trace)
        trainer.train_step()
    for layer in range(2):
        tail = [float(torch.count_nonzero(z)) / z.numel() for z in trace[layer::2]]
        assert abs(np.mean(tail) - target) < 0.05
    assert len({cell.shift for cell in model.gru.layers}) == 2  # each layer its own


def test_annealing_follows_the_schedule_from_the_first_measured_density():
    torch.manual_seed(9)
    model = CharLM(16, 1, "lowrank", 4, shift=1.0)  # starts with most gates open
    schedule = DensitySchedule(0.3, anneal=60, gain=2.0)
    trainer = CharLMTrainer(model, _text(), seq_len=10, batch_size=16, lr=3e-3, density=schedule)
    trainer.train_step()
    start = trainer.density_start
    assert start is not None and start > 0.6
    measured = []
    for _ in range(59):
        trace: list = []
        chunk = trainer.streams[:, trainer.pos : trainer.pos + 10].t().long()
        model.train()
        with torch.no_grad():
            model(chunk, trainer.state, trace)
        measured.append((trainer.step, float(torch.count_nonzero(trace[0])) / trace[0].numel()))
        trainer.train_step()
    late = [d - schedule.at(step, start) for step, d in measured[20:]]
    assert abs(np.mean(late)) < 0.06  # it tracks the moving target, not only the end


def test_resuming_a_steered_run_continues_it_exactly(tmp_path):
    """Shifts, the starting density and the teacher's state are in the checkpoint: stopping
    and resuming gives the same model as running through."""
    text = _text()

    torch.manual_seed(12)
    teacher = CharLM(16, 1, "dense").eval()

    def trainer_for(seed: int = 10) -> CharLMTrainer:
        torch.manual_seed(seed)
        model = CharLM(16, 1, "lowrank", 4, affine=True)
        return CharLMTrainer(
            model, text, seq_len=10, batch_size=8, lr=3e-3, reset_every=7, stagger_resets=True,
            teacher=teacher, distil=0.5, density=DensitySchedule(0.4, anneal=5),
        )  # fmt: skip

    through = trainer_for()
    for _ in range(12):
        through.train_step()
    first = trainer_for()
    for _ in range(6):
        first.train_step()
    first.save(tmp_path / "ck")
    second = trainer_for(seed=99)  # different weights: all must come from the checkpoint
    second.load(tmp_path / "ck")
    for _ in range(6):
        second.train_step()
    for name, value in _parameters(through.model).items():
        torch.testing.assert_close(_parameters(second.model)[name], value, rtol=0, atol=0)
    assert second.model.gru.layers[0].shift == through.model.gru.layers[0].shift
    assert second.density_start == through.density_start


def test_checkpoints_written_before_these_settings_still_load(tmp_path):
    torch.manual_seed(11)
    trainer = CharLMTrainer(CharLM(16, 1, "lowrank", 4), _text(), seq_len=10, batch_size=8)
    trainer.train_step()
    trainer.save(tmp_path / "ck")
    meta = json.loads((tmp_path / "ck.json").read_text())
    for key in ("stagger_resets", "distil", "density"):
        del meta["settings"][key]
    del meta["settings"]["model"]["affine"]
    del meta["shifts"], meta["density_start"]
    (tmp_path / "ck.json").write_text(json.dumps(meta))
    fresh = CharLMTrainer(CharLM(16, 1, "lowrank", 4), _text(), seq_len=10, batch_size=8)
    fresh.load(tmp_path / "ck")
    assert fresh.step == 1
    other = CharLMTrainer(
        CharLM(16, 1, "lowrank", 4, affine=True), _text(), seq_len=10, batch_size=8
    )
    with pytest.raises(ValueError, match="differ"):
        other.load(tmp_path / "ck")


def test_a_shipped_checkpoint_still_resumes():
    """The repository's own training state, written before these settings existed."""
    path = Path(__file__).resolve().parents[1] / "recipes/text/checkpoints/char-block-h256.ckpt"
    meta = json.loads(path.with_name(path.name + ".json").read_text())
    settings = meta["settings"]
    assert "affine" not in settings["model"] and "density" not in settings
    ids = np.zeros(settings["batch_size"] * settings["stream_length"], np.uint8)
    trainer = CharLMTrainer(
        CharLM(**settings["model"]), ids, settings["seq_len"], settings["batch_size"],
        settings["lr"], settings["clip_norm"], settings["reset_every"],
    )  # fmt: skip
    trainer.load(path)
    assert trainer.step == meta["step"] and trainer.model.gru.layers[0].shift == -0.25
