"""Models that travel: every model class and GRUState pickle and deep-copy through the model
file's bytes and the state's arrays, so process pools and Dask ship them, and a restored
stream continues bit for bit; the plan autotune chose is saved with a CondMLP."""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import ccinfer
from ccinfer.io import read_model_file, write_model_file

from ._travel import (
    TOKENS_AFTER,
    TOKENS_BEFORE,
    continue_stream,
    mlp_forward,
    small_gru,
    small_mlp,
    step_state_only,
)


def sequential(seed: int = 0) -> ccinfer.Sequential:
    """CondMLP (20 -> 5), ReLU, a depth-2 tree-gated layer (5 -> 16), a linear head (16 -> 4)."""
    rng = np.random.default_rng(seed)
    tree = ccinfer.TreeGatedLinear(
        rng.standard_normal((5, 7, 16)).astype(np.float32),
        np.zeros(16, np.float32),
        gate_units=np.arange(3),
        tau=0.1,
        activation="relu",
    )
    head = ccinfer.CondMLP([rng.standard_normal((4, 16)).astype(np.float32)], [np.zeros(4, "f")])
    return ccinfer.Sequential([small_mlp(seed), "relu", tree, head])


def roundtrip(obj):
    return pickle.loads(pickle.dumps(obj))


# ---- pickling in one process ------------------------------------------------------------------


@pytest.mark.parametrize("weights", ["float32", "float16"])
@pytest.mark.parametrize("copier", [roundtrip, copy.deepcopy], ids=["pickle", "deepcopy"])
def test_gru_stream_continues_bit_for_bit(weights, copier):
    model = small_gru(weights=weights)
    model.card = {"trained": "nowhere"}
    state = model.new_state()
    continue_stream(model, state, TOKENS_BEFORE)
    model.step(7)  # the model's own stream travels too

    model2, state2 = copier((model, state))
    assert model2 is not model and model2.weights == weights
    assert model2.card == {"trained": "nowhere"}
    assert repr(model2) == repr(model)
    expected, expected_h = continue_stream(model, state, TOKENS_AFTER)
    got, got_h = continue_stream(model2, state2, TOKENS_AFTER)
    np.testing.assert_array_equal(got, expected)
    for a, b in zip(got_h, expected_h, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model2.step(4), model.step(4))


def test_gru_batch_state_roundtrip():
    model = small_gru()
    state = model.new_state(5)
    ids = np.array([1, 2, 3, 4, 5])
    model.step(ids, state=state)
    restored = roundtrip(state)
    assert restored.batch == 5 and restored.num_layers == 3
    np.testing.assert_array_equal(model.step(ids, state=restored), model.step(ids, state=state))


def test_restored_state_is_bound_by_the_first_model_that_fits():
    model, other = small_gru(seed=0), small_gru(seed=1)
    state = model.new_state()
    continue_stream(model, state, TOKENS_BEFORE)
    moved = roundtrip(state)
    # A model of the same widths (here: other weights) adopts it; then it is that model's.
    other.step(3, state=moved)
    with pytest.raises(ValueError, match="belongs to another model"):
        model.step(3, state=moved)
    # copy.copy and copy() stay bound to the model; deepcopy is a pickle round trip.
    for fork in (copy.copy(state), state.copy()):
        with pytest.raises(ValueError, match="belongs to another model"):
            other.step(3, state=fork)
    other.step(3, state=copy.deepcopy(state))


def test_restored_state_of_other_widths_is_refused():
    rng = np.random.default_rng(3)
    from ._travel import gru_layer

    narrow = ccinfer.GRUStack(
        [gru_layer(rng, "dense", 27, 8, 0)],
        (np.zeros((27, 8), np.float32), np.zeros(27, np.float32)),
        token_input=True,
    )
    moved = roundtrip(small_gru().new_state())
    with pytest.raises(ValueError, match="layer widths do not match"):
        narrow.step(1, state=moved)
    # Refused before binding: the right model still takes it.
    model = small_gru()
    model.step(1, state=moved)


@pytest.mark.parametrize(
    ("state", "match"),
    [
        ((2, 1, [np.zeros((1, 4), np.float32)], [0]), "pickle version 2"),
        ((1, 0, [np.zeros((0, 4), np.float32)], []), "batch >= 1"),
        ((1, 1, [], [0]), "at least one layer"),
        (
            (1, 2, [np.zeros((1, 4), np.float32)], [0, 0]),
            r"h\[0\] must be float32 of shape \(2, \*\)",
        ),
        ((1, 1, [np.zeros((1, 4), np.float64)], [0]), r"h\[0\] must be float32"),
        ((1, 1, [np.zeros((1, 0), np.float32)], [0]), "no units"),
        ((1, 1, [np.full((1, 4), np.nan, np.float32)], [0]), "nan"),
        ((1, 2, [np.zeros((2, 4), np.float32)], [0]), "a step count per stream"),
        ((1, 1, [np.zeros((1, 4), np.float32)], [-1]), "step count must be >= 0"),
        ((1, 1, [np.zeros((1, 4), np.float32)]), "expected"),
        ((1, 1), "expected"),
    ],
)
def test_malformed_state_pickle_is_refused(state, match):
    blank = ccinfer.GRUState.__new__(ccinfer.GRUState)
    with pytest.raises(ValueError, match=f"GRUState.__setstate__: .*{match}"):
        blank.__setstate__(state)


def test_state_pickle_carries_step_counts():
    model = small_gru()
    one, batch = model.new_state(), model.new_state(3)
    for t in range(5):
        model.step(t % 4, state=one)
    batch.copy_stream(one, 0, 1)
    assert roundtrip(one).steps == 5
    assert roundtrip(batch).steps.tolist() == [0, 5, 0]
    assert copy.deepcopy(batch).steps.tolist() == [0, 5, 0]


def test_cond_mlp_keeps_estimators_plan_and_switches():
    model = small_mlp()
    X = np.random.default_rng(1).standard_normal((32, 20)).astype(np.float32)
    model.plan = ["rows_input_sparse", "input_sparse", "dense"]
    model.track_accuracy = True
    restored = roundtrip(model)
    assert restored.plan == model.plan
    assert restored.track_accuracy and restored.estimators_enabled
    assert restored.estimators[-1] is None
    for a, b in zip(restored.estimators[:-1], model.estimators[:-1], strict=True):
        np.testing.assert_array_equal(a.A, b.A)
        np.testing.assert_array_equal(a.B, b.B)
        assert a.tau == b.tau
    np.testing.assert_array_equal(restored(X), model(X))
    model.estimators_enabled = False
    assert not copy.deepcopy(model).estimators_enabled


def test_calibrated_estimators_survive():
    model = small_mlp()
    rng = np.random.default_rng(2)
    X = rng.standard_normal((200, 20)).astype(np.float32)
    model.calibrate(X, model.predict(X), max_accuracy_drop=0.05, ranks=[2, 4], tau_scales=[0, 1])
    restored = roundtrip(model)
    assert [e.rank if e else None for e in restored.estimators] == [
        e.rank if e else None for e in model.estimators
    ]
    np.testing.assert_array_equal(restored(X), model(X))


def test_tree_and_sequential_roundtrip():
    model = sequential()
    model.layers[0].estimators_enabled = False
    X = np.random.default_rng(4).standard_normal((16, 20)).astype(np.float32)
    for copier in (roundtrip, copy.deepcopy):
        restored = copier(model)
        np.testing.assert_array_equal(restored(X), model(X))
        assert repr(restored) == repr(model)
        assert not restored.layers[0].estimators_enabled
    tree = model.layers[2]
    Z = np.abs(model.layers[0](X))
    np.testing.assert_array_equal(roundtrip(tree)(Z), tree(Z))


def test_to_bytes_is_the_file_and_from_bytes_checks_kind(tmp_path):
    model = small_mlp()
    path = tmp_path / "m.safetensors"
    model.save(path, store_dtype=None)
    # The same model file (safetensors does not fix the order of header entries).
    from_bytes, from_file = read_model_file(model.to_bytes()), read_model_file(path)
    assert (from_bytes.kind, from_bytes.config) == (from_file.kind, from_file.config)
    assert from_bytes.tensors.keys() == from_file.tensors.keys()
    for name, tensor in from_file.tensors.items():
        np.testing.assert_array_equal(from_bytes.tensors[name], tensor)
    assert ccinfer.load(model.to_bytes()).sizes == model.sizes
    with pytest.raises(ValueError, match="holds a CondMLP, not a GRUStack"):
        ccinfer.GRUStack.from_bytes(model.to_bytes())
    with pytest.raises(ValueError, match=r"<bytes>: .*too short"):
        ccinfer.CondMLP.from_bytes(b"abc")


# ---- across processes -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_pool_continues_the_stream(method):
    model = small_gru(weights="float16")
    state = model.new_state()
    continue_stream(model, state, TOKENS_BEFORE)
    mlp = small_mlp()
    mlp.plan = ["input_sparse", "rows", "dense"]
    X = np.random.default_rng(5).standard_normal((8, 20)).astype(np.float32)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method)) as pool:
        remote = pool.submit(continue_stream, model, state, TOKENS_AFTER)
        remote_mlp = pool.submit(mlp_forward, mlp, X)
        got, got_h = remote.result(timeout=120)
        out, plan, text = remote_mlp.result(timeout=120)
    expected, expected_h = continue_stream(model, state, TOKENS_AFTER)
    np.testing.assert_array_equal(got, expected)
    for a, b in zip(got_h, expected_h, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out, mlp(X))
    assert plan == mlp.plan and text == repr(mlp)


def test_only_the_state_moves_between_workers(tmp_path):
    """Two workers each load the model from the file; the stream's state alone goes from the
    first to the second, and the result equals one process doing every step."""
    model = small_gru()
    path = str(tmp_path / "gru.safetensors")
    model.save(path)
    half = len(TOKENS_AFTER) // 2
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as a, ProcessPoolExecutor(1, mp_context=ctx) as b:
        first, state = a.submit(
            step_state_only, path, model.new_state(), TOKENS_AFTER[:half]
        ).result(timeout=120)
        second, state = b.submit(step_state_only, path, state, TOKENS_AFTER[half:]).result(
            timeout=120
        )
    local = model.new_state()
    expected, expected_h = continue_stream(model, local, TOKENS_AFTER)
    np.testing.assert_array_equal(np.concatenate([first, second]), expected)
    for layer, h in enumerate(expected_h):
        np.testing.assert_array_equal(state.get_h(layer), h)


def test_dask_local_cluster():
    if os.environ.get("CCINFER_REQUIRE_DASK") == "1":
        import distributed  # CI installs the dask extra: missing is a failure, not a skip
    else:
        distributed = pytest.importorskip("distributed")
    model = small_gru()
    state = model.new_state()
    continue_stream(model, state, TOKENS_BEFORE)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got, got_h = client.submit(continue_stream, model, state, TOKENS_AFTER).result(timeout=120)
    expected, expected_h = continue_stream(model, state, TOKENS_AFTER)
    np.testing.assert_array_equal(got, expected)
    for a, b in zip(got_h, expected_h, strict=True):
        np.testing.assert_array_equal(a, b)


# ---- the plan saved with the model ------------------------------------------------------------


def test_autotuned_plan_is_saved_and_loaded(tmp_path):
    model = small_mlp()
    X = np.random.default_rng(6).standard_normal((16, 20)).astype(np.float32)
    report = model.autotune(X, repeats=1)
    path = tmp_path / "tuned.safetensors"
    model.save(path)
    config = read_model_file(path).config
    assert config["plan"] == report["plan"]
    assert config["single_sample_threads"] == report["single_sample_threads"]
    loaded = ccinfer.CondMLP.load(path)
    assert loaded.plan == report["plan"]
    assert loaded.single_sample_threads == report["single_sample_threads"]
    # A plan set by hand is saved too, and differs from the default one.
    model.plan = ["dense", "dense", "dense"]
    model.save(path)
    assert ccinfer.load(path).plan == ["dense", "dense", "dense"]


def test_untuned_model_saves_no_plan_and_old_files_load(tmp_path):
    model = small_mlp()
    path = tmp_path / "plain.safetensors"
    model.save(path)
    config = read_model_file(path).config
    assert "plan" not in config and "single_sample_threads" not in config
    assert ccinfer.load(path).plan == model.plan
    # The shipped model predates saved plans.
    shipped = ccinfer.CondMLP.load("models/mnist/mnist-50-35-25.safetensors")
    assert "plan" not in read_model_file("models/mnist/mnist-50-35-25.safetensors").config
    assert len(shipped.plan) == 4


@pytest.mark.parametrize(
    ("plan", "threads", "match"),
    [
        (["dense", "dense"], 0, "'plan' must be a list of 3 entries"),
        (["dense", "fast", "dense"], 0, r"'plan'\[1\] must be one of"),
        (["dense", "dense", "dense"], -1, "'single_sample_threads' must be an integer in"),
        (["dense", "dense", "dense"], True, "'single_sample_threads' must be an integer in"),
        (["dense", "dense", "rows"], 0, "'plan' .* cannot run"),
    ],
)
def test_bad_saved_plan_is_refused(tmp_path, plan, threads, match):
    mf = small_mlp().to_model_file()
    mf.config.update(plan=plan, single_sample_threads=threads)
    path = tmp_path / "bad.safetensors"
    write_model_file(path, mf)
    with pytest.raises(
        ValueError, match=f"ccinfer.load: .*bad.safetensors: CondMLP config {match}"
    ):
        ccinfer.load(path)
    assert json.dumps(plan)  # the plan is plain JSON in the file


# ---- sizes, repr, typed loading ---------------------------------------------------------------


def test_every_model_has_input_size_and_output_size():
    seq = sequential()
    mlp, tree, gru = seq.layers[0], seq.layers[2], small_gru()
    assert (mlp.input_size, mlp.output_size) == (20, 5) == (mlp.sizes[0], mlp.sizes[-1])
    assert (mlp.in_features, mlp.out_features) == (20, 5)
    assert (tree.input_size, tree.output_size) == (5, 16) == (tree.in_features, tree.out_features)
    assert (seq.input_size, seq.output_size) == (20, 4) == (seq.in_features, seq.out_features)
    assert (gru.input_size, gru.output_size) == (27, 27)


def test_reprs_name_kind_sizes_weights_and_plan():
    seq = sequential()
    mlp, tree = seq.layers[0], seq.layers[2]
    assert repr(mlp) == (
        "CondMLP(20 -> 64[rank 8] -> 48[rank 6] -> 5, weights=float32, "
        f"plan=[{', '.join(mlp.plan)}])"
    )
    mlp.plan = ["dense", "dense", "dense"]
    assert repr(mlp).endswith("plan=[dense, dense, dense] (chosen))")
    assert repr(tree) == (
        "TreeGatedLinear(5 -> 16, depth=2, path=shared, gates=threshold(3 bits), "
        "activation=relu, weights=float32)"
    )
    assert repr(seq).startswith("Sequential(\n  CondMLP(20 -> ") and "'relu'" in repr(seq)
    assert repr(small_gru(weights="float16")) == (
        "GRUStack(tokens(27) -> lowrank(48, 6), block(64, 8), dense(32) -> 27, weights=float16)"
    )


def test_load_with_kind(tmp_path):
    path = tmp_path / "g.safetensors"
    small_gru().save(path)
    assert isinstance(ccinfer.load(path, kind=ccinfer.GRUStack), ccinfer.GRUStack)
    assert isinstance(ccinfer.GRUStack.load(path), ccinfer.GRUStack)
    with pytest.raises(ValueError, match=r"g.safetensors holds a GRUStack, not a CondMLP"):
        ccinfer.load(path, kind=ccinfer.CondMLP)
    with pytest.raises(ValueError, match="holds a GRUStack, not a Sequential"):
        ccinfer.Sequential.load(path)


def test_unpickled_arrays_are_accepted():
    """An array that went through pickle (a task's input on a worker) has a dtype object that is
    not numpy's singleton; it is the same dtype and must not be refused."""
    rng = np.random.default_rng(7)
    X = roundtrip(rng.standard_normal((4, 20)).astype(np.float32))
    assert X.dtype is not np.dtype(np.float32)
    model = small_mlp()
    np.testing.assert_array_equal(model(X), model(np.array(X, copy=True, dtype=np.float32)))
    W = roundtrip(rng.standard_normal((6, 20)).astype(np.float32))
    mask = roundtrip(rng.random((4, 6)) < 0.5)
    Y = ccinfer.kernels.cond_gemv_batch(W, X, mask)
    np.testing.assert_allclose(Y[mask], (X @ W.T)[mask], rtol=1e-5)
    # Still refused: another byte order is another dtype.
    with pytest.raises(ValueError, match="must be float32"):
        model(X.astype(">f4"))


def test_float16_gru_saved_as_it_is_loads_as_float16(tmp_path):
    model = small_gru(weights="float16")
    path = tmp_path / "half.safetensors"
    model.save(path, store_dtype=None)
    stored = read_model_file(path).stored
    assert stored["layers.0.W_ih"] == "F16" and stored["layers.0.b_ih"] == "F32"
    loaded = ccinfer.GRUStack.load(path)
    assert loaded.weights == "float16"
    ids = np.array(TOKENS_AFTER)
    np.testing.assert_array_equal(loaded.run(ids), model.run(ids))
