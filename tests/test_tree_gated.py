"""TreeGatedLinear: exact against the NumPy reference, depth 0 is a dense layer, only the path
rows of the non-zero inputs are read, threads agree, bad input, files, stacking."""

import tracemalloc

import numpy as np
import pytest

import ccinfer
from ccinfer import reference
from ccinfer.tree import TreeGatedLinear

from .conftest import integer_matrix


def _nodes(depth):
    return (2 << depth) - 1


def _sparse_inputs(rng, n, p, low=-3, high=4, zero=0.5):
    X = integer_matrix(rng, (n, p), low, high)
    X[rng.random((n, p)) < zero] = 0
    return X


def _gates(rng, source, p, nbits):
    if source == "threshold":
        return {"gate_units": rng.choice(p, nbits, replace=nbits > p).astype(np.int32), "tau": 0.5}
    # Half-integer biases: on integer data G x + c is never 0, so the bits are exact.
    return {
        "gate_weight": integer_matrix(rng, (nbits, p), -2, 3),
        "gate_bias": integer_matrix(rng, (nbits,), -3, 3) + 0.5,
    }


def _reference(layer, kwargs, X):
    return reference.tree_gated(
        layer.table, layer.bias, X, layer.path, activation=layer.activation, **kwargs
    )


@pytest.mark.parametrize("q", [1, 7, 17, 64, 130, 257])
@pytest.mark.parametrize("depth", [0, 1, 3])
@pytest.mark.parametrize("path", ["shared", "sliding"])
@pytest.mark.parametrize("source", ["threshold", "projection"])
def test_exact_against_reference(isa, rng, q, depth, path, source):
    p = 37
    table = integer_matrix(rng, (p, _nodes(depth), q), -3, 4)
    bias = integer_matrix(rng, (q,), -3, 4)
    kwargs = _gates(rng, source, p, max(depth, 1) + 2)
    activation = "relu" if q % 2 else "identity"
    layer = TreeGatedLinear(table, bias, path=path, activation=activation, **kwargs)
    X = _sparse_inputs(rng, 24, p)
    expected = _reference(layer, kwargs, X)
    np.testing.assert_array_equal(layer(X), expected)
    for x, e in zip(X[:6], expected[:6], strict=True):
        np.testing.assert_array_equal(layer(x), e)


@pytest.mark.parametrize("path", ["shared", "sliding"])
def test_random_data_within_tolerance(isa, rng, path):
    p, q, depth = 300, 96, 4
    table = rng.standard_normal((p, _nodes(depth), q), dtype=np.float32)
    bias = rng.standard_normal(q, dtype=np.float32)
    X = np.maximum(rng.standard_normal((32, p), dtype=np.float32), 0)
    kwargs = {"gate_units": rng.choice(p, 9, replace=False).astype(np.int32), "tau": 0.3}
    layer = TreeGatedLinear(table, bias, path=path, **kwargs)
    expected = _reference(layer, kwargs, X)
    terms = p * (depth + 1)
    np.testing.assert_allclose(layer(X), expected, rtol=0, atol=2e-6 * np.sqrt(terms) * 4 * 8)


def test_random_projection_gates_within_tolerance(isa, rng):
    p, q, depth, nbits = 200, 40, 3, 6
    table = rng.standard_normal((p, _nodes(depth), q), dtype=np.float32)
    G = rng.standard_normal((nbits, p), dtype=np.float32)
    c = rng.standard_normal(nbits, dtype=np.float32)
    X = np.maximum(rng.standard_normal((64, p), dtype=np.float32), 0)
    # A float32 projection may round to the other side of 0 where float64 gives ~1e-6:
    # compare the samples whose bits are far from their threshold.
    margin = np.abs(X.astype(np.float64) @ G.T + c).min(axis=1)
    X = np.ascontiguousarray(X[margin > 1e-3])
    kwargs = {"gate_weight": G, "gate_bias": c}
    layer = TreeGatedLinear(table, None, path="sliding", **kwargs)
    np.testing.assert_array_equal(layer.gates(X), reference.tree_gate_bits(X, **kwargs))
    np.testing.assert_allclose(
        layer(X), _reference(layer, kwargs, X), rtol=0, atol=2e-6 * np.sqrt(p * 4) * 32
    )


def test_depth_zero_is_a_dense_layer(isa, rng):
    p, q = 123, 77
    W = rng.standard_normal((q, p), dtype=np.float32)
    b = rng.standard_normal(q, dtype=np.float32)
    layer = TreeGatedLinear(np.ascontiguousarray(W.T[:, None, :]), b)
    assert layer.depth == 0 and layer.num_bits == 0 and layer.gate_source == "none"
    X = np.maximum(rng.standard_normal((10, p), dtype=np.float32), 0)
    for x in X:
        # The same chain as the input-sparse GEMV: bit for bit, not just close.
        np.testing.assert_array_equal(
            layer(x), ccinfer.kernels.sparse_input_gemv(np.ascontiguousarray(W.T), x, bias=b)
        )
    np.testing.assert_allclose(layer(X), X @ W.T + b, rtol=1e-5, atol=1e-4)
    grown = TreeGatedLinear.from_dense(W, b, 3, gate_units=np.arange(3), activation="relu")
    np.testing.assert_allclose(grown(X), np.maximum(X @ W.T + b, 0), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("path", ["shared", "sliding"])
def test_only_path_rows_of_nonzero_inputs_are_read(isa, rng, path):
    p, q, depth = 50, 33, 3
    table = integer_matrix(rng, (p, _nodes(depth), q), -3, 4)
    kwargs = {"gate_units": np.array([0, 1, 2, 3, 4], np.int32), "tau": 0.5}
    X = _sparse_inputs(rng, 16, p, 1, 4, zero=0.7)
    X[:, :5] = integer_matrix(rng, (16, 5), 0, 2)  # gate units stay integer 0/1
    clean = TreeGatedLinear(table, path=path, **kwargs)
    expected = _reference(clean, kwargs, X)
    bits = reference.tree_gate_bits(X, **kwargs)
    paths = reference.tree_paths(bits, p, depth, path)
    for s, x in enumerate(X):
        # NaN in every row the sample must not read: zero inputs' whole trees and every node
        # off the active inputs' paths. One NaN read would poison the output.
        poisoned = np.full_like(table, np.nan)
        for j in np.flatnonzero(x):
            poisoned[j, paths[s, j]] = table[j, paths[s, j]]
        layer = TreeGatedLinear.__new__(TreeGatedLinear)  # skip the finite check of the copy
        layer._core = ccinfer._core.TreeGatedLinear(
            poisoned,
            np.zeros(q, np.float32),
            path,
            kwargs["gate_units"],
            0.5,
            None,
            None,
            "identity",
        )
        np.testing.assert_array_equal(layer._core.forward(x), expected[s])
        stats = layer._core.stats()
        assert stats["node_rows"] == np.count_nonzero(x) * (depth + 1)
    clean.reset_stats()
    clean(X)
    assert clean.stats == {
        "samples": 16,
        "inputs_nonzero": np.count_nonzero(X),
        "node_rows": np.count_nonzero(X) * (depth + 1),
    }


def test_threads_and_batch_identical(rng):
    p, q, depth = 512, 520, 2
    table = rng.standard_normal((p, _nodes(depth), q), dtype=np.float32)
    bias = rng.standard_normal(q, dtype=np.float32)
    layer = TreeGatedLinear(table, bias, path="sliding", gate_units=np.arange(5) * 7, tau=0.1)
    X = np.maximum(rng.standard_normal((9, p), dtype=np.float32), 0)
    previous = ccinfer.get_num_threads()
    try:
        results = {}
        for threads in (1, 2):
            ccinfer.set_num_threads(threads)
            results[threads] = (layer(X), np.stack([layer(x) for x in X]))
    finally:
        ccinfer.set_num_threads(previous)
    for batch, single in results.values():
        np.testing.assert_array_equal(batch, single)
    np.testing.assert_array_equal(results[1][0], results[2][0])
    np.testing.assert_array_equal(results[1][1], results[2][1])


def test_empty_batch_and_all_zero_input(rng):
    layer = TreeGatedLinear(
        integer_matrix(rng, (6, 3, 4)),
        np.ones(4, np.float32),
        gate_units=np.array([1], np.int32),
        activation="relu",
    )
    assert layer(np.zeros((0, 6), np.float32)).shape == (0, 4)
    np.testing.assert_array_equal(layer(np.zeros(6, np.float32)), np.ones(4, np.float32))


# ---- bad input ---------------------------------------------------------------------------------


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
    except ValueError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_too_deep_raises_before_allocating():
    W = np.zeros((128, 784), np.float32)
    b = np.zeros(128, np.float32)
    with pytest.raises(ValueError, match=r"exceeds the limit of 4 GiB \(k too large"):
        TreeGatedLinear.from_dense(W, b, 20, gate_units=np.arange(20))
    with pytest.raises(ValueError, match=r"depth k must be in \[0, 24\], got 25"):
        TreeGatedLinear.from_dense(W, b, 25, gate_units=np.arange(25))
    with pytest.raises(ValueError, match="depth k must be in"):
        ccinfer.tree.table_shape(3, 3, -1)
    # 784 * (2^21 - 1) * 128 float32 would be 840 GB: nothing near that may be allocated.
    assert _peak_bytes(lambda: TreeGatedLinear.from_dense(W, b, 20)) < 1 << 20


def test_bad_table_shape(rng):
    with pytest.raises(ValueError, match=r"1, 3, 7, 15, \.\.\. nodes per unit, got 5"):
        TreeGatedLinear(np.zeros((4, 5, 3), np.float32), gate_units=np.arange(2))
    with pytest.raises(ValueError, match=r"table must have shape \(p, 2\^\(k\+1\) - 1, q\)"):
        TreeGatedLinear(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="p and out_features q must be >= 1"):
        TreeGatedLinear(np.zeros((0, 3, 3), np.float32), gate_units=np.arange(1))
    with pytest.raises(ValueError, match=r"bias: expected shape \(3,\)"):
        TreeGatedLinear(np.zeros((4, 1, 3), np.float32), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"table must be float32 of shape \(\*, 3, \*\)"):
        ccinfer._core.TreeGatedLinear(
            np.zeros((4, 3, 3)),
            None,
            "shared",
            np.arange(1, dtype=np.int32),
            0.0,
            None,
            None,
            "identity",
        )


def test_bad_gates(rng):
    table = np.zeros((6, 7, 3), np.float32)  # depth 2
    with pytest.raises(ValueError, match=r"gate_units entry 6 is out of range \[0, 6\)"):
        TreeGatedLinear(table, gate_units=[0, 6])
    with pytest.raises(ValueError, match=r"gate_units\[1\] = -1 is out of range \[0, 6\)"):
        ccinfer._core.TreeGatedLinear(
            table, None, "shared", np.array([0, -1], np.int32), 0.0, None, None, "identity"
        )
    with pytest.raises(ValueError, match="gate_units must be int32"):
        ccinfer._core.TreeGatedLinear(
            table, None, "shared", np.array([0, 1]), 0.0, None, None, "identity"
        )
    with pytest.raises(ValueError, match="gate_units must be a 1-D integer array"):
        TreeGatedLinear(table, gate_units=np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="depth 2 needs at least 2 gating bits, got 1"):
        TreeGatedLinear(table, gate_units=[0])
    with pytest.raises(ValueError, match="depth 2 needs gating bits"):
        TreeGatedLinear(table)
    with pytest.raises(ValueError, match="not both"):
        TreeGatedLinear(table, gate_units=[0, 1], gate_weight=np.zeros((2, 6), np.float32))
    with pytest.raises(ValueError, match=r"gate_weight must have shape \(nbits, 6\), got \(2, 5\)"):
        TreeGatedLinear(table, gate_weight=np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"gate_weight must be float32 of shape \(\*, 6\)"):
        ccinfer._core.TreeGatedLinear(
            table, None, "shared", None, 0.0, np.zeros((2, 5), np.float32), None, "identity"
        )
    with pytest.raises(ValueError, match="path must be one of"):
        TreeGatedLinear(table, gate_units=[0, 1], path="random")
    with pytest.raises(ValueError, match="activation must be one of"):
        TreeGatedLinear(table, gate_units=[0, 1], activation="tanh")
    with pytest.raises(ValueError, match="tau must be finite"):
        TreeGatedLinear(table, gate_units=[0, 1], tau=float("nan"))


def test_bad_inputs_to_call(rng):
    layer = TreeGatedLinear(np.zeros((6, 3, 4), np.float32), gate_units=[0])
    with pytest.raises(ValueError, match=r"x must be float32 of shape \(6,\), got float64"):
        layer(np.zeros(6))
    with pytest.raises(
        ValueError, match=r"x must be float32 of shape \(\*, 6\), got float32 \(2, 5\)"
    ):
        layer(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        layer(np.zeros((6, 2), np.float32).T)
    with pytest.raises(ValueError, match=r"x must be a numpy\.ndarray"):
        layer([0.0] * 6)


# ---- files and stacking ------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["threshold", "projection"])
def test_save_load_round_trip(tmp_path, rng, source):
    p, q, depth = 20, 9, 2
    kwargs = _gates(rng, source, p, 4)
    layer = TreeGatedLinear(
        integer_matrix(rng, (p, _nodes(depth), q)),
        integer_matrix(rng, (q,)),
        path="sliding",
        activation="relu",
        **kwargs,
    )
    path = tmp_path / "tree.safetensors"
    layer.save(path, card={"note": "test"})
    loaded = ccinfer.load(path)
    assert isinstance(loaded, TreeGatedLinear)
    assert (loaded.depth, loaded.path, loaded.activation, loaded.gate_source) == (
        depth,
        "sliding",
        "relu",
        source,
    )
    assert loaded.card == {"note": "test"}
    X = _sparse_inputs(rng, 12, p)
    np.testing.assert_array_equal(loaded(X), layer(X))


def test_load_is_strict(tmp_path, rng):
    from ccinfer.io import write_model_file

    layer = TreeGatedLinear(integer_matrix(rng, (5, 3, 2)), gate_units=[1, 2], tau=0.0)
    mf = layer.to_model_file()
    mf.config["gates"]["units"] = [1, 5]
    write_model_file(tmp_path / "a.safetensors", mf)
    with pytest.raises(ValueError, match=r"'units'\[1\] must be an integer in \[0, 4\], got 5"):
        ccinfer.load(tmp_path / "a.safetensors")
    mf = layer.to_model_file()
    mf.config["depth"] = 3
    write_model_file(tmp_path / "b.safetensors", mf)
    with pytest.raises(ValueError, match=r"tensor 'table' has shape \(5, 3, 2\), the config needs"):
        ccinfer.load(tmp_path / "b.safetensors")
    mf = layer.to_model_file()
    mf.config["depth"] = 30
    write_model_file(tmp_path / "c.safetensors", mf)
    with pytest.raises(ValueError, match=r"'depth' must be an integer in \[0, 24\], got 30"):
        ccinfer.load(tmp_path / "c.safetensors")
    mf = layer.to_model_file()
    mf.tensors["extra"] = np.zeros(1, np.float32)
    write_model_file(tmp_path / "d.safetensors", mf)
    with pytest.raises(ValueError, match="unexpected tensors"):
        ccinfer.load(tmp_path / "d.safetensors")


def test_sequential_with_mlp_layers(tmp_path, rng):
    W1, b1 = integer_matrix(rng, (24, 30), -2, 3), integer_matrix(rng, (24,))
    W3, b3 = integer_matrix(rng, (5, 16), -2, 3), integer_matrix(rng, (5,))
    kwargs = {"gate_units": np.array([3, 8, 1, 20], np.int32), "tau": 0.0}
    tree = TreeGatedLinear(
        integer_matrix(rng, (24, 15, 16)),
        integer_matrix(rng, (16,)),
        path="sliding",
        activation="relu",
        **kwargs,
    )
    model = ccinfer.Sequential(
        [ccinfer.CondMLP([W1], [b1]), "relu", tree, ccinfer.CondMLP([W3], [b3])]
    )
    X = _sparse_inputs(rng, 20, 30, 0, 3)
    h = np.maximum(X.astype(np.float64) @ W1.T + b1, 0).astype(np.float32)
    h = reference.tree_gated(tree.table, tree.bias, h, "sliding", activation="relu", **kwargs)
    expected = (h.astype(np.float64) @ W3.T + b3).astype(np.float32)
    np.testing.assert_array_equal(model(X), expected)
    np.testing.assert_array_equal(np.stack([model(x) for x in X]), expected)
    model.save(tmp_path / "stack.safetensors")
    loaded = ccinfer.load(tmp_path / "stack.safetensors")
    assert [type(s).__name__ if not isinstance(s, str) else s for s in loaded.layers] == [
        "CondMLP",
        "relu",
        "TreeGatedLinear",
        "CondMLP",
    ]
    np.testing.assert_array_equal(loaded(X), expected)
    with pytest.raises(ValueError, match="stage 1 takes 16 inputs but the previous stage gives 24"):
        ccinfer.Sequential([ccinfer.CondMLP([W1], [b1]), ccinfer.CondMLP([W3], [b3])])
    with pytest.raises(ValueError, match="'relu' must follow a layer"):
        ccinfer.Sequential(["relu", tree])
