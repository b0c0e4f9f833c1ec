"""GRUStack with weights="float16": W_ih and W_hh kept in half precision give, bit for bit, the
results of a float32 model of the same (rounded) weights, on every ISA, for one stream and for
batches of every layer kind; files stored in float16 load so; bad requests are refused."""

from __future__ import annotations

import numpy as np
import pytest

import ccinfer
from ccinfer import reference

from .test_cond_gru import float_layer, stack

BIG = ("W_ih", "W_hh")


def rounded_copy(layers):
    """The layers with W_ih and W_hh rounded to float16 and widened back to float32."""
    out = []
    for layer in layers:
        layer = dict(layer)
        for name in BIG:
            layer[name] = layer[name].astype(np.float16).astype(np.float32)
        out.append(layer)
    return out


def pair(layers, output, token_input):
    half = ccinfer.GRUStack(layers, output, token_input=token_input, weights="float16")
    full = ccinfer.GRUStack(rounded_copy(layers), output, token_input=token_input)
    return half, full


def inputs_for(rng, model, token_input, n=None):
    if token_input:
        return rng.integers(0, model.input_size, n)
    shape = (model.input_size,) if n is None else (n, model.input_size)
    return rng.standard_normal(shape).astype(np.float32)


# Widths off the SIMD grids: rows of 23, 35 and 100 weights leave tails of 16- and 8-lane
# loads (fewer than 8 halves in a row too).
@pytest.mark.parametrize(
    "kinds",
    [("dense", "dense"), ("lowrank", "lowrank"), ("block", "block"), ("dense", "block")],
)
@pytest.mark.parametrize("token_input", [True, False])
# Gating 5 divides both widths (blocks of 14 and 40 rows: the row-major kernel); gating 2
# gives blocks of 64 and 32 rows (whole panels: the packed panel kernel).
@pytest.mark.parametrize(("hs", "r"), [([35, 100], 5), ([64, 32], 2)])
def test_half_equals_float32_of_the_rounded_weights(isa, rng, kinds, token_input, hs, r):
    d = 23
    layers, output = stack(rng, kinds, d, hs, r, token_input, maker=float_layer)
    half, full = pair(layers, output, token_input)
    assert half.weights == "float16" and full.weights == "float32"
    s_half, s_full = half.new_state(), full.new_state()
    for _ in range(25):
        x = inputs_for(rng, half, token_input)
        np.testing.assert_array_equal(half.step(x, state=s_half), full.step(x, state=s_full))
    for layer in range(2):
        np.testing.assert_array_equal(s_half.get_h(layer), s_full.get_h(layer))
    n = 9
    b_half, b_full = half.new_state(n), full.new_state(n)
    for _ in range(12):
        x = inputs_for(rng, half, token_input, n)
        np.testing.assert_array_equal(half.step(x, state=b_half), full.step(x, state=b_full))
    for layer in range(2):
        np.testing.assert_array_equal(b_half.get_h(layer), b_full.get_h(layer))


@pytest.mark.parametrize("z_bias", [-1.5, 1.5])  # sparse rows, then the dense-kernel regime
def test_half_lowrank_batch_both_regimes(isa, rng, z_bias):
    layers, output = stack(rng, ("lowrank",), 19, [70], 6, False, maker=float_layer, z_bias=z_bias)
    half, full = pair(layers, output, False)
    b_half, b_full = half.new_state(33), full.new_state(33)
    for _ in range(6):
        x = inputs_for(rng, half, False, 33)
        np.testing.assert_array_equal(half.step(x, state=b_half), full.step(x, state=b_full))
    density = half.stats["layers"][0]["z_density"]
    assert (density < 0.4) if z_bias < 0 else (density > 0.4), density


def test_half_matches_the_numpy_reference(isa, rng):
    """One step from a random state against the float64 NumPy reference on the rounded
    weights (the half path is exact widening plus the float32 kernels)."""
    layers, output = stack(rng, ("dense", "lowrank"), 27, [48, 40], 4, True, maker=float_layer)
    half, _ = pair(layers, output, True)
    state = half.new_state()
    hs = [rng.standard_normal(h).astype(np.float32) * 0.5 for h in (48, 40)]
    for layer, h in enumerate(hs):
        state.set_h(layer, h[None, :])
    got = half.step(5, state=state)
    want, _, _ = reference.gru_stack_step(rounded_copy(layers), output, 5, hs, token_input=True)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_special_half_values_widen_exactly(isa, rng):
    """Subnormal, signed-zero and extreme float16 weights: widened exactly by the scalar
    conversion and by F16C alike."""
    layers, output = stack(rng, ("dense",), 17, [33], 1, False, maker=float_layer)
    specials = np.array(
        [6e-8, -6e-8, 3e-5, -0.0, 0.0, 65504.0, -65504.0, 1e-4, 2.0**-24, 2.0**-14],
        dtype=np.float32,
    )
    W_hh = layers[0]["W_hh"].copy()
    W_hh.flat[: specials.size * 7 : 7] = specials
    layers[0]["W_hh"] = W_hh
    half, full = pair(layers, output, False)
    s_half, s_full = half.new_state(), full.new_state()
    for _ in range(3):
        x = inputs_for(rng, half, False) * 1e-3  # small: keep 65504 * h finite
        np.testing.assert_array_equal(half.step(x, state=s_half), full.step(x, state=s_full))


def test_float16_files_load_as_float16(tmp_path, rng):
    layers, output = stack(rng, ("block", "lowrank"), 27, [32, 24], 4, True, maker=float_layer)
    model = ccinfer.GRUStack(layers, output, token_input=True)
    model.save(tmp_path / "f32.safetensors")
    model.save(tmp_path / "f16.safetensors", store_dtype=np.float16)
    assert ccinfer.load(tmp_path / "f32.safetensors").weights == "float32"
    loaded = ccinfer.load(tmp_path / "f16.safetensors")
    assert loaded.weights == "float16"
    # The same numbers as a float32 model of the file's (float16) values.
    widened = [
        {"kind": c["kind"]}
        | {k: np.asarray(v, np.float32) for k, v in loaded.layer_arrays(i).items()}
        for i, c in enumerate(loaded.layers)
    ]
    full = ccinfer.GRUStack(widened, loaded.output, token_input=True)
    s1, s2 = loaded.new_state(), full.new_state()
    for t in rng.integers(0, 27, 20):
        np.testing.assert_array_equal(loaded.step(int(t), state=s1), full.step(int(t), state=s2))
    # A float16 model saved as float32 keeps its (exactly widened) values.
    loaded.save(tmp_path / "again.safetensors")
    again = ccinfer.load(tmp_path / "again.safetensors")
    assert again.weights == "float32"
    np.testing.assert_array_equal(again.layer_arrays(0)["W_hh"], loaded.layer_arrays(0)["W_hh"])


def test_bad_weight_requests(rng):
    layers, output = stack(rng, ("dense",), 5, [8], 1, False, maker=float_layer)
    with pytest.raises(ValueError, match="weights must be one of"):
        ccinfer.GRUStack(layers, output, token_input=False, weights="bfloat16")
    layers[0]["W_hh"] = layers[0]["W_hh"].copy()
    layers[0]["W_hh"][3, 2] = 1e5
    with pytest.raises(ValueError, match="exceed float16's range"):
        ccinfer.GRUStack(layers, output, token_input=False, weights="float16")
    # float32 storage takes the same weights as they are.
    assert ccinfer.GRUStack(layers, output, token_input=False).weights == "float32"


def test_with_weights_converts_storage_only(rng):
    layers, output = stack(rng, ("lowrank", "block"), 27, [32, 24], 4, True, maker=float_layer)
    model = ccinfer.GRUStack(layers, output, token_input=True)
    model.card = {"note": "kept"}
    half = model.with_weights("float16")
    assert half.weights == "float16" and half.card == {"note": "kept"}
    assert half.layer_arrays(1)["W_hh"].dtype == np.float16
    back = half.with_weights("float32")  # exact: every weight is a float16 value
    assert back.weights == "float32"
    np.testing.assert_array_equal(back.layer_arrays(1)["W_hh"], half.layer_arrays(1)["W_hh"])
    s1, s2 = half.new_state(), back.new_state()
    for t in rng.integers(0, 27, 10):
        np.testing.assert_array_equal(half.step(int(t), state=s1), back.step(int(t), state=s2))
    with pytest.raises(ValueError, match="weights must be one of"):
        model.with_weights("int8")


def test_core_refuses_mixed_storage(rng):
    """The binding takes W_ih and W_hh both float16 or both float32 (the Python class always
    converts both; a direct caller of the core must not get a half-float layer)."""
    from ccinfer import _core

    layers, output = stack(rng, ("dense",), 5, [8], 1, False, maker=float_layer)
    arrays = dict(layers[0])
    del arrays["kind"]
    arrays["W_hh"] = arrays["W_hh"].astype(np.float16)
    spec = [{"kind": "dense", "hidden": 8, "rank": None, "arrays": arrays}]
    with pytest.raises(ValueError, match="both be float16 or float32"):
        _core.GRUStack(spec, False, 5, *output)
    arrays["W_ih"] = arrays["W_ih"].astype(np.float16)
    core = _core.GRUStack(spec, False, 5, *output)  # both float16: accepted
    assert core is not None
