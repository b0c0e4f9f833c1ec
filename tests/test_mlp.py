"""CondMLP: exact against the NumPy reference, full rank equals dense, plans agree, files."""

import numpy as np
import pytest

import ccinfer
from ccinfer import reference
from ccinfer.mlp import Estimator

from .conftest import integer_matrix

SIZES = [37, 64, 33, 17, 5]


def _integer_model(rng, sizes=SIZES, ranks=(4, 3, 2), taus=(0.0, 1.0, -2.0)):
    """Integer weights and integer estimator factors: every sum is exact in float32."""
    W = [integer_matrix(rng, (sizes[i + 1], sizes[i]), -2, 3) for i in range(len(sizes) - 1)]
    b = [integer_matrix(rng, (sizes[i + 1],), -3, 4) for i in range(len(sizes) - 1)]
    est = [
        Estimator(
            integer_matrix(rng, (W[i].shape[0], r), -2, 3),
            integer_matrix(rng, (r, W[i].shape[1]), -2, 3),
            t,
        )
        for i, (r, t) in enumerate(zip(ranks, taus, strict=True))
    ]
    return W, b, [*est, None]


def _sparse_integer_inputs(rng, n, k):
    X = integer_matrix(rng, (n, k), 0, 4)
    X[rng.random((n, k)) < 0.6] = 0
    return X


@pytest.mark.parametrize("plan", ["dense", "rows", "input_sparse", "rows_input_sparse"])
def test_exact_against_reference_every_plan(isa, rng, plan):
    W, b, est = _integer_model(rng)
    model = ccinfer.CondMLP(W, b, est)
    model.plan = [plan] * 3 + [plan if plan in ("dense", "input_sparse") else "dense"]
    X = _sparse_integer_inputs(rng, 40, SIZES[0])
    expected = reference.cond_mlp(W, b, est, X)
    for s in range(len(X)):
        np.testing.assert_array_equal(model(X[s]), expected[s])
    np.testing.assert_array_equal(model(X), expected)


def test_estimators_off_is_dense_network(rng):
    W, b, est = _integer_model(rng)
    model = ccinfer.CondMLP(W, b, est)
    model.estimators_enabled = False
    X = _sparse_integer_inputs(rng, 16, SIZES[0])
    np.testing.assert_array_equal(model(X), reference.cond_mlp(W, b, [None] * 4, X))


def test_full_rank_estimator_equals_dense(rng):
    sizes = [30, 40, 25, 6]
    W = [rng.standard_normal((sizes[i + 1], sizes[i]), dtype=np.float32) for i in range(3)]
    b = [rng.standard_normal(sizes[i + 1], dtype=np.float32) * 0.1 for i in range(3)]
    full = ccinfer.CondMLP.from_dense(W, b, ranks=[30, 25], tau=0.0)
    dense = ccinfer.CondMLP(W, b)
    X = rng.standard_normal((200, 30), dtype=np.float32)
    # A full-rank estimator has A B = W up to rounding, so it selects exactly the positive
    # units except where |W a + b| is at rounding level; those units are ~0 either way.
    np.testing.assert_allclose(full(X), dense(X), rtol=1e-4, atol=1e-4)


def test_stats_and_flop_bound(rng):
    W, b, est = _integer_model(rng)
    model = ccinfer.CondMLP(W, b, est)
    model.track_accuracy = True
    X = _sparse_integer_inputs(rng, 50, SIZES[0])
    model(X)
    stats = model.stats
    ref_masks = reference.cond_mlp_masks(W, b, est, X)
    for layer, (predicted, positive) in zip(stats["layers"][:-1], ref_masks, strict=True):
        assert layer["samples"] == 50
        assert layer["active_fraction"] == pytest.approx(predicted.mean())
        tp = (predicted & positive).sum()
        assert layer["recall"] == pytest.approx(tp / positive.sum())
        assert layer["precision"] == pytest.approx(tp / predicted.sum())
    assert stats["flop_bound_speedup"] > 0
    model.reset_stats()
    assert model.stats["layers"][0]["samples"] == 0


def test_accuracy_without_estimators_counts_every_row_computed(rng):
    """Estimators off, every unit is computed: recall is 1 and precision the positive share,
    whatever rows an earlier pass with estimators left in the workspace."""
    W, b, est = _integer_model(rng)
    model = ccinfer.CondMLP(W, b, est)
    X = _sparse_integer_inputs(rng, 20, SIZES[0])
    for x in X:
        model(x)
    model.estimators_enabled = False
    model.track_accuracy = True
    model.reset_stats()
    for x in X:
        model(x)
    _, positive = zip(*reference.cond_mlp_masks(W, b, [None] * 4, X), strict=True)
    for layer, pos in zip(model.stats["layers"][:-1], positive, strict=True):
        assert layer["recall"] == 1.0
        assert layer["precision"] == pytest.approx(pos.mean())


@pytest.mark.parametrize("plan", ["dense", "rows", "input_sparse", "rows_input_sparse"])
def test_stats_same_for_every_thread_count(rng, plan):
    """A single-sample pass split over threads counts what the one-thread pass counts."""
    W, b, est = _integer_model(rng, sizes=[300, 400, 300, 200, 10])
    model = ccinfer.CondMLP(W, b, est)
    model.plan = [plan] * 3 + [plan if plan in ("dense", "input_sparse") else "dense"]
    X = _sparse_integer_inputs(rng, 30, 300)
    previous = ccinfer.get_num_threads()
    counts = []
    try:
        ccinfer.set_num_threads(2)
        for n in (1, 2):
            model.single_sample_threads = n
            model.reset_stats()
            for x in X:
                model(x)
            counts.append(model.stats["layers"])
    finally:
        ccinfer.set_num_threads(previous)
    assert counts[0] == counts[1]


def test_plan_validation(rng):
    W, b, est = _integer_model(rng)
    model = ccinfer.CondMLP(W, b, est)
    with pytest.raises(ValueError, match="unknown layer kernel 'fast'"):
        model.plan = ["fast"] * 4
    with pytest.raises(ValueError, match="plan needs 4 entries"):
        model.plan = ["dense"]
    with pytest.raises(ValueError, match="layer 3 has no estimator"):
        model.plan = ["rows"] * 4


def test_autotune_keeps_results(rng):
    W, b, est = _integer_model(rng)
    model = ccinfer.CondMLP(W, b, est)
    X = _sparse_integer_inputs(rng, 8, SIZES[0])
    before = model(X)
    report = model.autotune(X, repeats=2)
    assert len(report["plan"]) == 4 and set(report["us_per_sample"][0]) == set(ccinfer.mlp.KERNELS)
    assert "rows" not in report["us_per_sample"][3]
    np.testing.assert_array_equal(model(X), before)


def test_save_load_round_trip(tmp_path, rng):
    W, b, est = _integer_model(rng)
    model = ccinfer.CondMLP(W, b, est)
    path = tmp_path / "m.safetensors"
    model.save(path, card={"trained": "test"})
    loaded = ccinfer.load(path)
    assert isinstance(loaded, ccinfer.CondMLP)
    assert loaded.card == {"trained": "test"}
    assert [e.tau if e else None for e in loaded.estimators] == [0.0, 1.0, -2.0, None]
    X = _sparse_integer_inputs(rng, 10, SIZES[0])
    np.testing.assert_array_equal(loaded(X), model(X))


def test_float16_storage_round_trip(tmp_path, rng):
    W, b, est = _integer_model(rng)  # small integers are exact in float16
    model = ccinfer.CondMLP(W, b, est)
    path = tmp_path / "m16.safetensors"
    model.save(path, store_dtype=np.float16)
    model.save(tmp_path / "m32.safetensors")
    assert path.stat().st_size < 0.6 * (tmp_path / "m32.safetensors").stat().st_size
    X = _sparse_integer_inputs(rng, 10, SIZES[0])
    np.testing.assert_array_equal(ccinfer.load(path)(X), model(X))


def test_from_numpy_dict_and_pairs(rng):
    W, b, _ = _integer_model(rng)
    d = {
        f"layers.{i}.{kind}": v
        for i, (w, bb) in enumerate(zip(W, b, strict=True))
        for kind, v in (("weight", w), ("bias", bb))
    }
    X = _sparse_integer_inputs(rng, 5, SIZES[0])
    a = ccinfer.CondMLP.from_numpy(d, activation="relu")
    c = ccinfer.CondMLP.from_numpy(list(zip(W, b, strict=True)), activation="relu")
    np.testing.assert_array_equal(a(X), reference.cond_mlp(W, b, [None] * 4, X))
    np.testing.assert_array_equal(c(X), a(X))


@pytest.mark.parametrize("activation", [None, "tanh", "gelu", "RELU", 1])
def test_from_numpy_needs_the_activation_stated(rng, activation):
    # The weights of a tanh network are accepted by shape alone; without the caller saying
    # the network is ReLU, from_numpy would silently compute another function.
    W, b, _ = _integer_model(rng)
    pairs = list(zip(W, b, strict=True))
    kwargs = {} if activation is None else {"activation": activation}
    match = "pass activation='relu'" if activation is None else "activation must be one of"
    with pytest.raises(ValueError, match=rf"CondMLP.from_numpy: .*{match}"):
        ccinfer.CondMLP.from_numpy(pairs, **kwargs)


def test_from_numpy_refuses_parameters_of_two_modules(rng):
    # "encoder.0" and "decoder.0" share index 0: grouping by index alone merged them.
    W, b, _ = _integer_model(rng)
    d = {"encoder.0.weight": W[0], "encoder.0.bias": b[0]}
    d |= {"decoder.0.weight": W[1], "decoder.0.bias": b[1]}
    with pytest.raises(ValueError, match=r"several modules \['decoder', 'encoder'\]"):
        ccinfer.CondMLP.from_numpy(d, activation="relu")


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda W, b: ccinfer.CondMLP(W, b[:-1]), r"4 weights but 3 biases"),
        (lambda W, b: ccinfer.CondMLP([W[0], W[2]], [b[0], b[2]]), r"input width"),
        (
            lambda W, b: ccinfer.CondMLP([w.astype(np.int32) for w in W], b),
            r"expected a floating-point array",
        ),
        (lambda W, b: ccinfer.CondMLP.from_dense(W, b, ranks=[1, 2]), r"need 3 ranks"),
        (lambda W, b: ccinfer.CondMLP.from_dense(W, b, ranks=[0, 2, 2]), r"rank must be in"),
        (
            lambda W, b: ccinfer.CondMLP.from_dense([np.where(W[0] > 0, np.nan, W[0]), *W[1:]], b),
            r"NaN or Inf",
        ),
    ],
)
def test_bad_construction(rng, make, match):
    W, b, _ = _integer_model(rng)
    with pytest.raises(ValueError, match=match):
        make(W, b)


@pytest.mark.parametrize(
    "x,match",
    [
        (np.ones(36, np.float32), r"x must be float32 of shape \(37,\)"),
        (np.ones(37, np.float64), r"got float64"),
        (np.ones((4, 37), np.float32)[:, ::1][::2], r"C-contiguous"),
        ([1.0] * 37, r"numpy.ndarray"),
        (np.ones((2, 2, 37), np.float32), r"x must be float32 of shape"),
    ],
)
def test_bad_input(rng, x, match):
    W, b, est = _integer_model(rng)
    model = ccinfer.CondMLP(W, b, est)
    with pytest.raises(ValueError, match=match):
        model(x)


def test_threads_do_not_change_results(rng):
    W, b, est = _integer_model(rng, sizes=[300, 400, 300, 200, 10])
    model = ccinfer.CondMLP(W, b, est)
    X = _sparse_integer_inputs(rng, 20, 300)
    previous = ccinfer.get_num_threads()
    try:
        outs = []
        for n in (1, 2):
            ccinfer.set_num_threads(n)
            outs.append(model(X))
    finally:
        ccinfer.set_num_threads(previous)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_single_sample_threads_setting(rng):
    W, b, est = _integer_model(rng, sizes=[300, 400, 300, 200, 10])
    model = ccinfer.CondMLP(W, b, est)
    X = _sparse_integer_inputs(rng, 6, 300)
    expected = reference.cond_mlp(W, b, est, X)
    for n in (0, 1, 2):
        model.single_sample_threads = n
        assert model.single_sample_threads == n
        for s in range(len(X)):
            np.testing.assert_array_equal(model(X[s]), expected[s])
    report = model.autotune(X, repeats=2)
    assert report["single_sample_threads"] in (0, 1)
