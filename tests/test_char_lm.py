"""ccinfer.char_lm: training exports to GRUStack, bits per character, the timing steppers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

import ccinfer
from ccinfer import reference
from ccinfer.char_lm import (
    batch_stepper,
    bits_per_char,
    block_affine,
    dense_like,
    load_char_lm_export,
    stack_from_export,
    stream_stepper,
)

V = 27


def export_arrays(rng, gate, hidden, layers, rank):
    """Arrays laid out as CharLM.export_numpy() writes them (block: a block expansion)."""
    out, d = {}, V

    def normal(*shape):
        return (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)

    for i in range(layers):
        p = f"layers.{i}."
        if gate == "dense":
            out.update({p + "W_ih": normal(3 * hidden, d), p + "W_hh": normal(3 * hidden, hidden)})
            out.update({p + "b_ih": normal(3 * hidden), p + "b_hh": normal(3 * hidden)})
        else:
            for name, shape in (
                ("W_ir", (hidden, d)), ("W_in", (hidden, d)), ("U_hr", (hidden, hidden)),
                ("U_hn", (hidden, hidden)), ("b_ir", (hidden,)), ("b_in", (hidden,)),
                ("b_hr", (hidden,)), ("b_hn", (hidden,)), ("W_zl", (rank, d)),
                ("U_zl", (rank, hidden)), ("b_zl", (rank,)),
            ):  # fmt: skip
                out[p + name] = normal(*shape)
            if gate == "lowrank":
                out[p + "W_z"], out[p + "b_z"] = normal(hidden, rank), normal(hidden) - 0.3
            else:
                block = hidden // rank
                scale = rng.uniform(0.5, 2, rank).astype(np.float32)
                W_z = np.repeat(np.eye(rank, dtype=np.float32) * scale, block, axis=0)
                out[p + "W_z"] = W_z
                out[p + "b_z"] = np.repeat(rng.uniform(-1, 0, rank).astype(np.float32), block)
        d = hidden
    out["output.weight"], out["output.bias"] = normal(V, d), normal(V)
    return out


@pytest.mark.parametrize(("gate", "rank"), [("dense", None), ("lowrank", 5), ("block", 4)])
def test_export_equals_reference(rng, gate, rank):
    arrays = export_arrays(rng, gate, 16, 2, rank)
    model = stack_from_export(arrays, gate, 2)
    layers = [dict(model.layer_arrays(i), kind=model.layers[i]["kind"]) for i in range(2)]
    assert [layer["kind"] for layer in layers] == [gate] * 2
    hs = [np.zeros(16), np.zeros(16)]
    s = model.new_state()
    for t in rng.integers(0, V, 20):
        expected, hs, _ = reference.gru_stack_step(layers, model.output, int(t), hs)
        np.testing.assert_allclose(model.step(int(t), state=s), expected, rtol=1e-5, atol=1e-5)
    if gate == "block":  # one scale and shift per block, taken from the expansion
        scale, shift = block_affine(arrays["layers.0.W_z"], arrays["layers.0.b_z"])
        np.testing.assert_array_equal(layers[0]["z_scale"], scale)
        np.testing.assert_array_equal(layers[0]["z_shift"], shift)


def test_block_affine_refuses_mixed_blocks(rng):
    arrays = export_arrays(rng, "block", 16, 1, 4)
    b_z = arrays["layers.0.b_z"].copy()
    b_z[1] += 0.5
    with pytest.raises(ValueError, match="differ within a block"):
        block_affine(arrays["layers.0.W_z"], b_z)
    with pytest.raises(ValueError, match="not a multiple"):
        block_affine(np.zeros((10, 4), np.float32), np.zeros(10, np.float32))


def test_load_export_file(tmp_path, rng):
    arrays = export_arrays(rng, "lowrank", 8, 1, 3)
    config = {"hidden_size": 8, "num_layers": 1, "gate": "lowrank", "rank": 3}
    path = tmp_path / "m.safetensors"
    save_file(arrays, str(path), metadata={"config": json.dumps(config), "updates": "7"})
    model, meta = load_char_lm_export(path)
    assert meta["config"] == config and meta["updates"] == "7"
    assert model.layers[0]["kind"] == "lowrank" and model.layers[0]["hidden"] == 8
    save_file(arrays, str(path), metadata={"config": "{not json"})
    with pytest.raises(ValueError, match="metadata 'config' is not valid JSON"):
        load_char_lm_export(path)
    deep = {
        "config": json.dumps({**config, "gate": "x"})[:-1]
        + ', "z": '
        + "[" * 3000
        + "]" * 3000
        + "}"
    }
    save_file(arrays, str(path), metadata=deep)
    with pytest.raises(ValueError, match="metadata 'config' nests 3001 levels deep"):
        load_char_lm_export(path)
    save_file(arrays, str(path), metadata={"config": json.dumps({**config, "gate": ["lowrank"]})})
    with pytest.raises(ValueError, match=r"export config 'gate' must be one of"):
        load_char_lm_export(path)
    save_file(arrays, str(path))
    with pytest.raises(ValueError, match="not a character model export"):
        load_char_lm_export(path)


def test_bits_per_char_of_a_fixed_distribution(rng):
    """Output weights zero: every step predicts softmax(b), so the BPC is known in closed form."""
    arrays = export_arrays(rng, "dense", 8, 1, None)
    arrays["output.weight"][:] = 0
    b = arrays["output.bias"].astype(np.float64)
    model = stack_from_export(arrays, "dense", 1)
    ids = rng.integers(0, V, 500)
    log2p = (b - b.max() - np.log(np.exp(b - b.max()).sum())) / np.log(2)
    assert bits_per_char(model, ids) == pytest.approx(-log2p[ids[1:]].mean(), rel=1e-6)
    arrays["output.bias"][:] = 0
    assert bits_per_char(stack_from_export(arrays, "dense", 1), ids) == pytest.approx(np.log2(V))
    with pytest.raises(ValueError, match="at least 2 ids"):
        bits_per_char(model, ids[:1])


def test_steppers_walk_the_text(rng):
    model = stack_from_export(export_arrays(rng, "lowrank", 16, 1, 4), "lowrank", 1)
    tokens = rng.integers(0, V, 40).astype(np.int32)
    expected = model.run(tokens)
    step = stream_stepper(model, tokens)
    np.testing.assert_array_equal(np.stack([step(i) for i in range(40)]), expected)
    n, length = 4, 10
    step = batch_stepper(model, tokens, n)
    got = np.stack([step(i) for i in range(length)])  # (length, n, V)
    for s in range(n):
        np.testing.assert_allclose(
            got[:, s], model.run(tokens[s * length : (s + 1) * length]), rtol=1e-5, atol=1e-6
        )
    with pytest.raises(ValueError, match="cannot feed"):
        batch_stepper(model, tokens[:3], n)
    # warm: the first steps run before timing; the timed calls continue the same streams
    step = stream_stepper(model, tokens, warm=30)
    np.testing.assert_allclose(step(0), expected[30], rtol=1e-6, atol=1e-7)
    step = batch_stepper(model, tokens, n, warm=6)
    np.testing.assert_allclose(step(0)[1], model.run(tokens[10:17])[-1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="warm must be"):
        batch_stepper(model, tokens, n, warm=10)


def test_dense_like_has_the_same_shape(rng):
    model = stack_from_export(export_arrays(rng, "block", 32, 2, 4), "block", 2)
    dense = dense_like(model)
    assert [layer["kind"] for layer in dense.layers] == ["dense", "dense"]
    assert [layer["hidden"] for layer in dense.layers] == [32, 32]
    assert dense.input_size == model.input_size and dense.output_size == model.output_size
    assert isinstance(dense, ccinfer.GRUStack)
