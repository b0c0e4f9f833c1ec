"""Conditional GRUStack (lowrank and block kinds) against the NumPy reference, on every ISA;
batch vs single streams, threads, files and bad input."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import ccinfer
from ccinfer import reference

from .conftest import integer_matrix

KINDS = ("lowrank", "block")


def int_layer(rng, kind, d, h, r, z_bias=0):
    """Small-integer weights: every product and sum before a nonlinearity is exact, so the z
    masks (the sign of an integer) are exact on every ISA. ``z_bias`` shifts the z
    pre-activation (negative: sparser z)."""
    g = 3 if kind == "dense" else 2
    layer = {
        "kind": kind,
        "W_ih": integer_matrix(rng, (g * h, d), -2, 3),
        "W_hh": integer_matrix(rng, (g * h, h), -2, 3),
        "b_ih": integer_matrix(rng, (g * h,), -2, 3),
        "b_hh": integer_matrix(rng, (g * h,), -2, 3),
    }
    if kind == "dense":
        return layer
    layer.update(
        W_zl=integer_matrix(rng, (r, d), -1, 2),
        U_zl=integer_matrix(rng, (r, h), -1, 2),
        b_zl=integer_matrix(rng, (r,), -1, 2),
    )
    if kind == "lowrank":
        layer.update(
            W_z=integer_matrix(rng, (h, r), -1, 2), b_z=integer_matrix(rng, (h,), -1, 2) + z_bias
        )
    else:
        layer.update(
            z_scale=integer_matrix(rng, (r,), 1, 3),
            z_shift=integer_matrix(rng, (r,), -2, 2) + z_bias,
        )
    return layer


def float_layer(rng, kind, d, h, r, z_bias=0.0):
    """Random float weights scaled like a trained GRU's."""
    layer = int_layer(rng, kind, d, h, r)
    out = {"kind": kind}
    for name, a in layer.items():
        if name == "kind":
            continue
        if name == "z_scale":
            out[name] = rng.uniform(0.5, 2.0, a.shape).astype(np.float32)
        elif name in ("b_z", "z_shift"):
            out[name] = (rng.standard_normal(a.shape) * 0.5 + z_bias).astype(np.float32)
        else:
            fan_in = a.shape[1] if a.ndim == 2 else 4
            out[name] = (rng.standard_normal(a.shape) / np.sqrt(fan_in)).astype(np.float32)
    return out


def stack(rng, kinds, d, hs, r, token_input, v_out=7, maker=int_layer, **kw):
    layers, width = [], d
    for kind, h in zip(kinds, hs, strict=False):
        layers.append(maker(rng, kind, width, h, r, **kw))
        width = h
    output = (integer_matrix(rng, (v_out, width), -2, 3), integer_matrix(rng, (v_out,), -2, 3))
    return layers, output


def model_of(layers, output, token_input):
    return ccinfer.GRUStack.from_numpy(layers, output, token_input=token_input)


# ---- exact one-step checks against the reference (small-integer data) ----------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("token_input", [True, False])
@pytest.mark.parametrize("h", [1, 7, 64, 257])
def test_one_step_exact_masks(isa, rng, kind, token_input, h):
    # block: g gates must divide h (1 for the odd sizes); lowrank: any rank.
    d, r = 11, (5 if kind == "lowrank" else 4 if h == 64 else 1)
    layers, output = stack(rng, [kind], d, [h], r, token_input)
    model = model_of(layers, output, token_input)
    for _ in range(4):
        h0 = integer_matrix(rng, (h,), -1, 2)
        if token_input:
            x = int(rng.integers(0, d))
            xv = np.eye(d)[x]
        else:
            x = integer_matrix(rng, (d,), -2, 3)
            xv = x
        s = model.new_state()
        s.set_h(0, h0[None])
        model.reset_stats()
        logits = model.step(x, state=s)
        h1 = s.get_h(0)[0]
        ref_h, ref_z, _ = reference.cond_gru_step(kind, xv, h0, layers[0])
        off = ref_z == 0
        # z == 0 keeps the state bit for bit; z > 0 units match the reference.
        np.testing.assert_array_equal(h1[off], h0[off])
        np.testing.assert_allclose(h1, ref_h, atol=1e-6, rtol=0)
        assert model.stats["layers"][0]["z_density"] == pytest.approx((~off).mean())
        np.testing.assert_allclose(logits, h1 @ output[0].T + output[1], atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("r", [8, 2])  # block layers: blocks of 16 rows, or 64 (whole panels)
def test_batch_one_step_exact_masks(isa, rng, kind, r):
    d, h, n = 9, 64, 13
    layers, output = stack(rng, [kind], d, [h], r, token_input=False)
    model = model_of(layers, output, False)
    H0 = integer_matrix(rng, (n, h), -1, 2)
    X = integer_matrix(rng, (n, d), -2, 3)
    s = model.new_state(n)
    s.set_h(0, H0)
    model.step(X, state=s)
    H1 = s.get_h(0)
    ref_h, ref_z, _ = reference.cond_gru_step(kind, X, H0, layers[0])
    off = ref_z == 0
    assert 0.1 < off.mean() < 0.9  # both paths exercised
    np.testing.assert_array_equal(H1[off], H0[off])
    np.testing.assert_allclose(H1, ref_h, atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch", [None, 5])
def test_z_zero_keeps_state_bit_for_bit(rng, kind, batch):
    """A z path pushed far negative: every z is 0, no unit changes, logits are W_out h + b."""
    layers, output = stack(rng, [kind, kind], 6, [32, 16], 4, token_input=True, z_bias=-100)
    model = model_of(layers, output, True)
    s = model.new_state(batch)
    n = 1 if batch is None else batch
    H = [
        rng.standard_normal((n, 32), dtype=np.float32),
        rng.standard_normal((n, 16), dtype=np.float32),
    ]
    s.set_h(0, H[0])
    s.set_h(1, H[1])
    x = 3 if batch is None else np.arange(n) % 6
    model.reset_stats()
    for _ in range(3):
        logits = model.step(x, state=s)
    np.testing.assert_array_equal(s.get_h(0), H[0])
    np.testing.assert_array_equal(s.get_h(1), H[1])
    np.testing.assert_allclose(
        logits, (H[1] @ output[0].T + output[1]).reshape(logits.shape), rtol=1e-5, atol=1e-5
    )
    st = model.stats["layers"]
    assert st[0]["z_density"] == 0 and st[1]["z_density"] == 0
    assert st[0]["rows_skipped_per_step"] == 2 * 32  # token input: only W_hh rows
    assert st[1]["rows_skipped_per_step"] == 4 * 16


# ---- sequences with float weights ------------------------------------------------------------


def _ref_sequence(layers, output, inputs, token_input, hs0):
    """Reference logits and z of every step; returns also the states."""
    hs = [np.asarray(h, np.float64) for h in hs0]
    logits, zs = [], []
    for x in inputs:
        lg, hs, z = reference.gru_stack_step(layers, output, x, hs, token_input)
        logits.append(lg)
        zs.append(z)
    return np.array(logits), zs, hs


@pytest.mark.parametrize(
    "kinds", [("lowrank",), ("block",), ("lowrank", "block"), ("block", "dense", "lowrank")]
)
@pytest.mark.parametrize("token_input", [True, False])
def test_sequence_matches_reference(isa, rng, kinds, token_input):
    d, T = 10, 40
    hs = [48, 32, 16][: len(kinds)]
    layers, output = stack(rng, kinds, d, hs, 4, token_input, maker=float_layer)
    model = model_of(layers, output, token_input)
    inputs = rng.integers(0, d, T) if token_input else rng.standard_normal((T, d), dtype=np.float32)
    s = model.new_state()
    got = model.run(inputs, state=s)
    ref, zs, ref_h = _ref_sequence(layers, output, inputs, token_input, [np.zeros(h) for h in hs])
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    for layer, h in enumerate(ref_h):
        np.testing.assert_allclose(s.get_h(layer)[0], h, atol=2e-5)
    density = [np.mean([z[i] > 0 for z in zs]) for i in range(len(kinds)) if zs[0][i] is not None]
    assert all(0.05 < a < 0.95 for a in density), density


@pytest.mark.parametrize("kinds", [("lowrank", "lowrank"), ("block", "block"), ("dense", "block")])
@pytest.mark.parametrize("hidden", [64, 512])  # 512: the batch step streams the weights
def test_batch_rows_equal_single_streams(isa, rng, kinds, hidden):
    """Row s of a batch step is the single-stream step of stream s: the same z masks (the
    units whose state did not move) wherever the z pre-activation is not within rounding of
    0, states to rounding (the batch kernels sum in another order)."""
    V, n, T = 27, 16, 12
    layers, output = stack(rng, kinds, V, [hidden, hidden], 8, True, maker=float_layer)
    model = model_of(layers, output, True)
    ids = rng.integers(0, V, (T, n))
    batch = model.new_state(n)
    singles = [model.new_state() for _ in range(n)]
    for t in range(T):
        before = [batch.get_h(layer).copy() for layer in range(2)]
        got = model.step(ids[t], state=batch)
        inputs = [np.eye(V)[ids[t]], batch.get_h(0)]
        for s in range(n):
            one_before = [singles[s].get_h(layer)[0].copy() for layer in range(2)]
            np.testing.assert_allclose(
                model.step(ids[t, s], state=singles[s]), got[s], rtol=1e-4, atol=1e-5
            )
            for layer in range(2):
                kept_single = singles[s].get_h(layer)[0] == one_before[layer]
                kept_batch = batch.get_h(layer)[s] == before[layer][s]
                if kinds[layer] != "dense":
                    _, u = reference.cond_gru_z(
                        kinds[layer], inputs[layer][s], before[layer][s], layers[layer]
                    )
                    clear = np.abs(u) > 1e-4 * np.sqrt(hidden / 64)  # rounding grows with k
                    off = clear & (u <= 0)
                    assert kept_single[off].all() and kept_batch[off].all()
                    # On: a unit whose single-stream state moved visibly moved in the batch
                    # too (a z just above 0 may move a state by less than its rounding).
                    moved = np.abs(singles[s].get_h(layer)[0] - one_before[layer]) > 1e-6
                    np.testing.assert_array_equal(kept_batch[clear & (u > 0) & moved], False)
                np.testing.assert_allclose(
                    singles[s].get_h(layer)[0], batch.get_h(layer)[s], atol=1e-5
                )
                singles[s].set_h(layer, batch.get_h(layer)[s : s + 1])  # no drift


def test_list_of_states_is_a_batch(rng):
    layers, output = stack(rng, ["block"], 5, [32], 4, True, maker=float_layer)
    model = model_of(layers, output, True)
    states = [model.new_state() for _ in range(3)]
    twins = [model.new_state() for _ in range(3)]
    for _ in range(5):
        ids = rng.integers(0, 5, 3)
        got = model.step(ids, state=states)
        for i in range(3):
            np.testing.assert_allclose(model.step(ids[i], state=twins[i]), got[i], atol=1e-5)
    for s, tw in zip(states, twins, strict=True):
        np.testing.assert_allclose(s.get_h(0), tw.get_h(0), atol=1e-5)


# ---- threads -----------------------------------------------------------------------------------


def _in_threads(work, count):
    """[work(0), ..., work(count - 1)], each in its own Python thread, all started at once;
    an exception in any of them fails the test."""
    got = [None] * count
    errors = []

    def run(i):
        try:
            got[i] = work(i)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return got


@pytest.mark.parametrize("kinds", [("lowrank", "block"), ("dense", "lowrank")])
def test_one_and_two_threads_identical(isa, rng, kinds):
    # Big enough that a single-stream step takes two threads (kGruStepWorkPerThreadScale).
    layers, output = stack(rng, kinds, 27, [512, 384], 16, True, maker=float_layer)
    model = model_of(layers, output, True)
    ids = rng.integers(0, 27, (20, 8))
    previous = ccinfer.get_num_threads()
    results = []
    try:
        for nth in (1, 2):
            ccinfer.set_num_threads(nth)
            one, many = model.new_state(), model.new_state(8)
            single = np.stack([model.step(int(t[0]), state=one) for t in ids])
            results.append((single, np.stack([model.step(t, state=many) for t in ids])))
    finally:
        ccinfer.set_num_threads(previous)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_independent_streams_from_two_threads(rng):
    """Two Python threads step their own streams at once (GIL released): each gets exactly
    what it gets alone."""
    layers, output = stack(rng, ["lowrank", "block"], 27, [256, 128], 16, True, maker=float_layer)
    model = model_of(layers, output, True)
    seqs = [rng.integers(0, 27, 300) for _ in range(2)]
    expected = [model.run(seq) for seq in seqs]

    def work(i):
        s = model.new_state()
        return np.stack([model.step(int(t), state=s) for t in seqs[i]])

    got = _in_threads(work, 2)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e)


def test_first_batch_steps_from_four_threads(rng):
    """The first batch step packs the model's panels (once); four Python threads making their
    first batch steps at once on a fresh model each get what a model stepped alone gets."""
    layers, output = stack(rng, ["dense", "block"], 27, [96, 64], 16, True, maker=float_layer)
    ids = rng.integers(0, 27, (30, 5))
    alone = model_of(layers, output, True)
    s = alone.new_state(5)
    expected = np.stack([alone.step(t, state=s) for t in ids])
    model = model_of(layers, output, True)
    start = threading.Barrier(4)

    def work(_):
        state = model.new_state(5)
        start.wait()
        return np.stack([model.step(t, state=state) for t in ids])

    for g in _in_threads(work, 4):
        np.testing.assert_array_equal(g, expected)


# ---- generation, files -----------------------------------------------------------------------


def test_run_generate_and_reset(rng):
    layers, output = stack(rng, ["lowrank"], 7, [32], 4, True, v_out=7, maker=float_layer)
    model = model_of(layers, output, True)
    seq = rng.integers(0, 7, 25)
    np.testing.assert_array_equal(model.run(seq), np.stack([model.step(int(t)) for t in seq]))
    model.reset()
    np.testing.assert_array_equal(model.step(int(seq[0])), model.run(seq[:1])[0])
    a = model.generate([1, 2, 3], 50, temperature=0.8, seed=7)
    b = model.generate([1, 2, 3], 50, temperature=0.8, seed=7)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (50,) and a.min() >= 0 and a.max() < 7
    greedy = model.generate([1, 2, 3], 10, temperature=0)
    s = model.new_state()
    logits = model.run(np.array([1, 2, 3]), state=s)[-1]
    for t in greedy:
        assert t == np.argmax(logits)
        logits = model.step(int(t), state=s)


@pytest.mark.parametrize("token_input", [True, False])
def test_save_load_round_trip(tmp_path, rng, token_input):
    layers, output = stack(
        rng, ["lowrank", "block", "dense"], 9, [24, 16, 8], 4, token_input, maker=float_layer
    )
    model = model_of(layers, output, token_input)
    model.card = {"trained": "no"}
    path = tmp_path / "gru.safetensors"
    model.save(path)
    loaded = ccinfer.load(path)
    assert isinstance(loaded, ccinfer.GRUStack) and loaded.card == {"trained": "no"}
    assert loaded.layers == model.layers
    seq = rng.integers(0, 9, 30) if token_input else rng.standard_normal((30, 9), np.float32)
    np.testing.assert_array_equal(loaded.run(seq), model.run(seq))
    model.save(tmp_path / "half.safetensors", store_dtype=np.float16)
    half = ccinfer.load(tmp_path / "half.safetensors")
    np.testing.assert_allclose(half.run(seq), model.run(seq), atol=0.05)


def _rewrite(tmp_path, model, *, config=None, drop=None, add=None, reshape=None):
    from ccinfer.io import write_model_file

    mf = model.to_model_file()
    if config:
        mf.config.update(config)
    if drop:
        del mf.tensors[drop]
    if add:
        mf.tensors[add] = np.zeros(3, np.float32)
    if reshape:
        mf.tensors[reshape] = mf.tensors[reshape][:-1]
    path = tmp_path / "bad.safetensors"
    write_model_file(path, mf)
    return path


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"drop": "layers.0.W_zl"}, "missing tensor 'layers.0.W_zl'"),
        ({"add": "layers.0.extra"}, "unexpected tensors"),
        ({"reshape": "layers.1.z_scale"}, "layers.1.z_scale"),
        ({"config": {"input": "bytes"}}, "'input'"),
        ({"config": {"layers": [{"kind": "lstm", "hidden": 8}]}}, "layer 0"),
        (
            {
                "config": {
                    "layers": [
                        {"kind": "lowrank", "hidden": 8},
                        {"kind": "block", "hidden": 6, "gating": 4},
                    ]
                }
            },
            "rank|gating",
        ),
        (
            {
                "config": {
                    "layers": [
                        {"kind": "lowrank", "hidden": 8, "rank": 2},
                        {"kind": "block", "hidden": 6, "gating": 4},
                    ]
                }
            },
            "divide",
        ),
        ({"config": {"output_size": 0}}, "output_size"),
        ({"config": {"extra": 1}}, "unknown keys"),
    ],
)
def test_malformed_files(tmp_path, rng, change, match):
    layers, output = stack(rng, ["lowrank", "block"], 5, [8, 8], 2, True, maker=float_layer)
    model = model_of(layers, output, True)
    with pytest.raises(ValueError, match=match):
        ccinfer.load(_rewrite(tmp_path, model, **change))


# ---- bad input ---------------------------------------------------------------------------------


@pytest.fixture
def token_model(rng):
    layers, output = stack(rng, ["lowrank", "block"], 6, [16, 8], 2, True, maker=float_layer)
    return model_of(layers, output, True)


@pytest.fixture
def vector_model(rng):
    layers, output = stack(rng, ["block"], 6, [16], 4, False, maker=float_layer)
    return model_of(layers, output, False)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (6, "out of range"),
        (-1, "out of range"),
        (2.0, "must be an int"),
        (np.array([1, 6]), "out of range"),
        (np.array([1.0, 2.0]), "integers"),
        (np.zeros((2, 2), np.int64), "1-D array"),
        (True, "must be an int"),
        ("a", "int"),
    ],
)
def test_bad_tokens(token_model, x, match):
    state = token_model.new_state(2) if np.ndim(x) == 1 else None
    with pytest.raises(ValueError, match=match):
        token_model.step(x, state=state)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.zeros(6, np.float64), "float32"),
        (np.zeros(5, np.float32), r"\(6,\)"),
        (np.zeros((3, 6), np.float32)[:, ::2], "x|X"),
        (np.zeros((2, 3, 6), np.float32), "shape"),
        ([0.0] * 6, "numpy.ndarray"),
    ],
)
def test_bad_vectors(vector_model, x, match):
    with pytest.raises(ValueError, match=match):
        vector_model.step(
            x, state=vector_model.new_state(np.shape(x)[0] if np.ndim(x) == 2 else None)
        )


def test_bad_states(token_model, vector_model, rng):
    other = token_model.new_state()
    twin = model_of(*stack(rng, ["lowrank", "block"], 6, [16, 8], 2, True, maker=float_layer), True)
    with pytest.raises(ValueError, match="another model"):
        twin.step(1, state=other)
    with pytest.raises(ValueError, match="holds 3 stream"):
        token_model.step(1, state=token_model.new_state(3))
    with pytest.raises(ValueError, match="holds 2 stream"):
        token_model.step(np.array([1, 2, 3]), state=token_model.new_state(2))
    with pytest.raises(ValueError, match="GRUState"):
        token_model.step(1, state="not a state")
    with pytest.raises(ValueError, match="another model"):
        twin.step(np.array([1, 2]), state=[twin.new_state(), other])
    with pytest.raises(ValueError, match="twice"):
        s = token_model.new_state()
        token_model.step(np.array([1, 2]), state=[s, s])
    token_model.step(1)
    with pytest.raises(ValueError, match="own state holds 1"):
        token_model.step(np.array([1, 2]))
    with pytest.raises(ValueError, match=r"\(2, 16\)"):
        token_model.new_state(2).set_h(0, np.zeros((2, 15), np.float32))
    with pytest.raises(ValueError, match=r"token ids, not vectors"):
        token_model._core.step_vector(token_model.new_state(), np.zeros(6, np.float32))
    # A failed call leaves the state untouched.
    s = token_model.new_state()
    s.set_h(0, np.ones((1, 16), np.float32))
    with pytest.raises(ValueError):
        token_model.step(99, state=s)
    np.testing.assert_array_equal(s.get_h(0), np.ones((1, 16), np.float32))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda L: L[0].pop("W_zl"), "missing"),
        (lambda L: L[0].update(W_z=np.zeros((3, 3), np.float32)), "W_z"),
        (
            lambda L: L[1].update(
                z_scale=np.ones(3, np.float32),
                z_shift=np.ones(3, np.float32),
                W_zl=np.ones((3, 16), np.float32),
                U_zl=np.ones((3, 8), np.float32),
                b_zl=np.ones(3, np.float32),
            ),
            "divide",
        ),
        (lambda L: L[0].update(kind="gru"), "kind"),
        (lambda L: L[0].update(extra=1), "unexpected"),
        (lambda L: L[1].update(W_ih=np.zeros((16, 15), np.float32)), "W_ih"),
        (lambda L: L[0].update(b_ih=np.full(32, np.nan, np.float32)), "NaN"),
        (lambda L: L[0].update(rank=3), "'rank' is 3"),
    ],
)
def test_bad_construction(rng, change, match):
    layers, output = stack(rng, ["lowrank", "block"], 6, [16, 8], 2, True, maker=float_layer)
    change(layers)
    with pytest.raises(ValueError, match=match):
        model_of(layers, output, True)
