"""Benchmarks: GRUStack steps, 27-1024-1024-27 with token input (the dissertation's character
model), conditional beside dense on weights of the same size, in the same run.

Groups (each at 1 and 2 threads):

- ``gru step 1 stream``: one time step of one stream: our dense step, the conditional
  ``lowrank`` (rank 16) step at z densities 0.1, 0.25, 0.5, OpenBLAS sgemv over the same
  matrices a dense step reads (the product alone, no gate maths: a lower bound for an
  OpenBLAS-based step) and PyTorch ``nn.GRU`` one step at a time (if installed).
- ``gru step batch 64``: one time step of 64 streams: our dense batched step (the block
  kernel at full density; no BLAS call inside a step), OpenBLAS sgemm over the same matrices
  (products only), and the ``block`` step (block 16, gating 64) at z densities 0.1, 0.25, 0.5.
- ``... float16``: the same steps with W_ih and W_hh stored in float16 (GRUStack
  ``weights="float16"``, as the shipped 27-1024-1024-27 files are): our dense step and the
  trained models only, in groups of their own so every ratio compares steps reading weights
  of the same size (the results are those of float32 copies of the same weights, bit for bit).
- Trained models (when shipped in models/text/): the 27-1024-1024-27 character models step
  over the held-out text (``ccinfer.datasets``, ``CCINFER_DATA`` or ``data/``), so the
  masks are the trained model's own: the unstructured model (rank 16, s = -0.75) in the one
  stream groups, the block model (16/64, s = -0.25) in the batch 64 groups (64 streams, each
  on its own stretch of the text). Their target is 0.8x the flop bound of the density
  measured while timing; the one stream case is also compared with ONNX Runtime's GRU.

How the z densities are set: the weights are random (no trained model exists yet), and the z
path is the model's own: ``z^lr = relu(W_zl x + U_zl h + b_zl)`` from the token and the
evolving state, then ``W_z z^lr + b_z`` (lowrank) or ``z_scale z^lr + z_shift`` (block). One
constant offset ``c`` in ``b_z`` / ``z_shift`` is found by bisection so that the z density over
a calibration run of random tokens is the asked one. The masks therefore change at every
step with the token and the state (nothing is replayed from a fixed pattern), and the density
actually seen while timing is measured (``model.stats``) and recorded in ``extra_info``.
The trained-model cases below give the same groups real masks.

Run (one suite at a time, on a quiet machine):

    python -m pytest bench/test_bench_gru.py --benchmark-only \\
        --benchmark-json=bench/results/gru.json --benchmark-max-time=1
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import ccinfer
from ccinfer import kernels

from . import paired
from .conftest import record

MODELS = Path(__file__).resolve().parents[1] / "models" / "text"
TRAINED = {
    "stream": MODELS / "char-unstructured-h1024-l2.safetensors",
    "batch": MODELS / "char-block-h1024-l2.safetensors",
}

V, H, RANK, GATING, N = 27, 1024, 16, 64, 64
DENSITIES = [0.1, 0.25, 0.5]
# z = 1 everywhere: the conditional path with nothing to skip (isolates skipping from the
# smaller weights of the conditional model, which has no z rows in W_ih and W_hh).
LOWRANK_DENSITIES = [*DENSITIES, 1.0]
STEPS = 4096  # token stream the timed calls walk through
# Steps of the trained batch-64 model before timing: from a zero state its second layer's z
# density climbs from 0.04 to a steady 0.36 over about 250 steps (0.13 at steps 50-100,
# 0.31 at 150-200), so timing must start later for the masks to be a running server's.
BATCH_WARM = 300
# Storage of W_ih and W_hh: float32 for every group; float16 (GRUStack weights="float16", as
# the shipped 27-1024-1024-27 files store them) for our dense step and the trained models, in
# groups of their own so each speed-up compares steps that read weights of the same size.
WEIGHTS = ["float32", "float16"]

_cache: dict = {}


def _weights(kind, d, h, seed):
    rng = np.random.default_rng(seed)
    g = 3 if kind == "dense" else 2

    def normal(shape, fan_in):
        return (rng.standard_normal(shape, dtype=np.float32) / np.sqrt(fan_in)).astype(np.float32)

    layer = {
        "kind": kind,
        "W_ih": normal((g * h, d), 1 if d == V else d),
        "W_hh": normal((g * h, h), h),
        "b_ih": normal((g * h,), 4),
        "b_hh": normal((g * h,), 4),
    }
    if kind == "lowrank":
        layer.update(
            W_zl=normal((RANK, d), 1 if d == V else d),
            U_zl=normal((RANK, h), h),
            b_zl=normal((RANK,), 4),
            W_z=normal((h, RANK), RANK),
            b_z=np.zeros(h, np.float32),
        )
    elif kind == "block":
        layer.update(
            W_zl=normal((GATING, d), 1 if d == V else d),
            U_zl=normal((GATING, h), h),
            b_zl=normal((GATING,), 4),
            z_scale=np.ones(GATING, np.float32),
            z_shift=np.zeros(GATING, np.float32),
        )
    return layer


def _model(kind, offset=0.0, weights="float32"):
    layers = [_weights(kind, V, H, 1), _weights(kind, H, H, 2)]
    for layer in layers:
        key = {"lowrank": "b_z", "block": "z_shift"}.get(kind)
        if key:
            layer[key] = layer[key] + np.float32(offset)
    rng = np.random.default_rng(3)
    output = (
        (rng.standard_normal((V, H)) / np.sqrt(H)).astype(np.float32),
        np.zeros(V, np.float32),
    )
    return ccinfer.GRUStack(layers, output, token_input=True, weights=weights)


def _density(model, tokens, batch):
    model.reset_stats()
    if batch:
        s = model.new_state(N)
        for t in range(12):
            model.step(tokens[t * N : (t + 1) * N], state=s)
    else:
        model.run(tokens[:96])
    layers = model.stats["layers"]
    return float(np.mean([entry["z_density"] for entry in layers]))


def tokens():
    if "tokens" not in _cache:
        _cache["tokens"] = np.random.default_rng(11).integers(0, V, STEPS * N).astype(np.int32)
    return _cache["tokens"]


def model_at(kind, density, batch=False):
    """The model whose z density over a calibration run is ``density`` (bisection on the
    offset of the z pre-activation)."""
    key = (kind, density, batch)
    if key not in _cache and density >= 1.0:
        _cache[key] = _model(kind, 100.0)
    if key not in _cache:
        lo, hi = -4.0, 4.0
        for _ in range(10):
            mid = (lo + hi) / 2
            if _density(_model(kind, mid), tokens(), batch) < density:
                lo = mid
            else:
                hi = mid
        _cache[key] = _model(kind, (lo + hi) / 2)
    return _cache[key]


def dense_model(weights="float32"):
    key = ("dense", weights)
    if key not in _cache:
        _cache[key] = _model("dense", weights=weights)
    return _cache[key]


def _stepper(model, batch):
    """A callable doing one step per call, walking through the token stream."""
    ids = tokens()
    state = model.new_state(N if batch else None)
    counter = [0]
    if batch:

        def step():
            t = counter[0] % STEPS
            counter[0] += 1
            return model.step(ids[t * N : (t + 1) * N], state=state)
    else:

        def step():
            t = counter[0] % (STEPS * N)
            counter[0] += 1
            return model.step(int(ids[t]), state=state)

    return step


def _weight_bytes(model):
    total = sum(a.nbytes for i in range(len(model.layers)) for a in model.layer_arrays(i).values())
    return total + model.output[0].nbytes


def _window_stats(model):
    """The flop bound and target of the masks a model met since its last ``reset_stats``."""
    stats = model.stats
    return {
        "flop_bound_speedup": stats["flop_bound_speedup"],
        # Target: at least 0.8x the flop-bound speed-up from the measured z density.
        "target": 0.8 * stats["flop_bound_speedup"],
        "z_density_per_layer": [round(entry["z_density"], 4) for entry in stats["layers"]],
    }


def _record_model(benchmark, model, group, case, role, batch, density=None):
    """Fill extra_info from the model's stats over the timed calls; `density`: the asked-for
    z density of a calibrated model, or "measured" for a trained one."""
    stats = model.stats
    macs = sum(entry["macs"] for entry in stats["layers"]) + model.output[0].size
    dense_macs = sum(entry["dense_macs"] for entry in stats["layers"]) + model.output[0].size
    n = N if batch else 1
    densities = [round(entry["z_density"], 4) for entry in stats["layers"]]
    wb = _weight_bytes(dense_model(model.weights))
    per_weight = 2 if model.weights == "float16" else 4  # W_ih, W_hh: the bulk of the reads
    record(
        benchmark,
        group=group,
        case=case,
        role=role,
        density=float(np.mean(densities)) if density is not None else None,
        useful_flops=2 * macs * n,
        dense_flops=2 * dense_macs * n,
        bytes_read=per_weight * macs,
        weight_bytes=wb,
        z_density_per_layer=densities,
        flop_bound_speedup=stats["flop_bound_speedup"],
        streams=n,
        # Target: at least 0.8x the flop-bound speed-up from the measured z density.
        target=0.8 * stats["flop_bound_speedup"] if role == "cond" else None,
    )


def _group(batch, threads, weights="float32"):
    """Cases are compared within a group, so each storage of the weights has its own."""
    storage = "" if weights == "float32" else f" {weights}"
    streams = f"batch {N}" if batch else "1 stream"
    return f"gru step {streams}{storage}, {threads} thr"


def _time_model(benchmark, model, step, case, role, batch, density=None):
    """Warm up, time ``step()`` in the group of its thread count and setting, and record the
    model's stats over the timed calls."""
    threads = ccinfer.get_num_threads()  # set by the bench_threads fixture
    group = _group(batch, threads, model.weights)
    step()
    model.reset_stats()
    benchmark.group = group
    benchmark(step)
    _record_model(benchmark, model, group, case, role, batch=batch, density=density)
    if role == "cond":  # the paired re-run's target comes from its own calls' masks
        paired.window(benchmark, model.reset_stats, lambda: _window_stats(model))


# ---- one stream ---------------------------------------------------------------------------------


@pytest.mark.parametrize("weights", WEIGHTS)
def test_step_dense(benchmark, bench_threads, weights):
    model = dense_model(weights)
    _check_against_reference(model)  # verify before timing
    _time_model(benchmark, model, _stepper(model, batch=False), "dense (ours)", "dense", False)


@pytest.mark.parametrize("density", LOWRANK_DENSITIES)
def test_step_lowrank(benchmark, bench_threads, density):
    model = model_at("lowrank", density)
    _check_against_reference(model)  # verify before timing
    step = _stepper(model, batch=False)
    _time_model(benchmark, model, step, f"lowrank r=16 z={density}", "cond", False, density)


def test_step_openblas_sgemv(benchmark, bench_threads):
    """The matrix-vector products a dense step needs, by OpenBLAS (no gate maths)."""
    model = dense_model()
    W_hh0 = model.layer_arrays(0)["W_hh"]
    W_ih1, W_hh1 = model.layer_arrays(1)["W_ih"], model.layer_arrays(1)["W_hh"]
    W_out = model.output[0]
    h = np.random.default_rng(0).uniform(-1, 1, H).astype(np.float32)
    y = np.empty(3 * H, np.float32)
    lg = np.empty(V, np.float32)

    def products():
        kernels.dense_gemv(W_hh0, h, out=y)
        kernels.dense_gemv(W_ih1, h, out=y)
        kernels.dense_gemv(W_hh1, h, out=y)
        kernels.dense_gemv(W_out, h, out=lg)

    benchmark.group = f"gru step 1 stream, {bench_threads} thr"
    benchmark(products)
    macs = 3 * W_hh0.size + W_out.size
    record(
        benchmark,
        group=f"gru step 1 stream, {bench_threads} thr",
        case="OpenBLAS sgemv (products only)",
        role="other",
        density=None,
        useful_flops=2 * macs,
        dense_flops=2 * macs,
        bytes_read=4 * macs,
        weight_bytes=_weight_bytes(model),
    )


def test_step_torch(benchmark, bench_threads):
    torch = pytest.importorskip("torch")
    from torch import nn

    previous = torch.get_num_threads()
    torch.set_num_threads(bench_threads)
    try:
        torch.manual_seed(0)
        gru, head = nn.GRU(V, H, num_layers=2), nn.Linear(H, V)
        onehot = torch.eye(V)[:, None, None, :]  # (V, seq 1, batch 1, V)
        ids = tokens()
        state = {"h": torch.zeros(2, 1, H), "t": 0}

        @torch.no_grad()
        def step():
            t = state["t"] % STEPS
            state["t"] += 1
            out, state["h"] = gru(onehot[int(ids[t])], state["h"])
            return head(out[0, 0])

        benchmark.group = f"gru step 1 stream, {bench_threads} thr"
        benchmark(step)
    finally:
        torch.set_num_threads(previous)
    macs = 3 * H * H * 3 + V * H
    record(
        benchmark,
        group=f"gru step 1 stream, {bench_threads} thr",
        case=f"PyTorch {torch.__version__} nn.GRU",
        role="other",
        density=None,
        useful_flops=2 * macs,
        dense_flops=2 * macs,
        bytes_read=4 * macs,
        weight_bytes=_weight_bytes(dense_model()),
    )


# ---- a batch of 64 streams ----------------------------------------------------------------------


@pytest.mark.parametrize("weights", WEIGHTS)
def test_batch_dense(benchmark, bench_threads, weights):
    model = dense_model(weights)
    _check_batch_against_reference(model)  # verify before timing
    _time_model(benchmark, model, _stepper(model, batch=True), "dense (ours)", "dense", True)


@pytest.mark.parametrize("density", DENSITIES)
def test_batch_block(benchmark, bench_threads, density):
    model = model_at("block", density, batch=True)
    _check_batch_against_reference(model)  # verify before timing
    step = _stepper(model, batch=True)
    _time_model(benchmark, model, step, f"block 16/64 z={density}", "cond", True, density)


def _check_against_reference(model, ids=None, warm=0):
    """Three steps against the NumPy reference, after `warm` steps of `ids` (default: the
    random token stream) so a trained model's gates are those of a running stream."""
    from ccinfer import reference

    ids = tokens() if ids is None else ids
    layers = [dict(model.layer_arrays(i), kind=model.layers[i]["kind"]) for i in range(2)]
    s = model.new_state()
    if warm:
        model.run(ids[:warm], state=s)
    hs = [s.get_h(i)[0].astype(np.float64) for i in range(2)]
    for t in ids[warm : warm + 3]:
        got = model.step(int(t), state=s)
        expected, hs, _ = reference.gru_stack_step(layers, model.output, int(t), hs)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def _check_batch_against_reference(model, n=4, steps=2, ids=None, warm=0):
    """A batch step of n streams row by row against the NumPy reference of each stream, after
    `warm` batch steps of `ids` (default: the random token stream)."""
    from ccinfer import reference

    ids = tokens() if ids is None else ids
    layers = [dict(model.layer_arrays(i), kind=model.layers[i]["kind"]) for i in range(2)]
    state = model.new_state(n)
    rows = ids[: n * (warm + steps)].reshape(warm + steps, n)
    for t in rows[:warm]:
        model.step(np.ascontiguousarray(t), state=state)
    hs = [[state.get_h(i)[s].astype(np.float64) for i in range(2)] for s in range(n)]
    for t in rows[warm:]:
        got = model.step(np.ascontiguousarray(t), state=state)
        for s in range(n):
            expected, hs[s], _ = reference.gru_stack_step(layers, model.output, int(t[s]), hs[s])
            np.testing.assert_allclose(got[s], expected, rtol=1e-4, atol=1e-4)


def test_batch_openblas_sgemm(benchmark, bench_threads):
    """The matrix products a dense batched step needs, by OpenBLAS sgemm (no gate maths)."""
    model = dense_model()
    W_hh0 = model.layer_arrays(0)["W_hh"]
    W_ih1, W_hh1 = model.layer_arrays(1)["W_ih"], model.layer_arrays(1)["W_hh"]
    W_out = model.output[0]
    Hs = np.random.default_rng(0).uniform(-1, 1, (N, H)).astype(np.float32)

    def products():
        kernels.dense_gemm(W_hh0, Hs)
        kernels.dense_gemm(W_ih1, Hs)
        kernels.dense_gemm(W_hh1, Hs)
        kernels.dense_gemm(W_out, Hs)

    group = f"gru step batch {N}, {bench_threads} thr"
    benchmark.group = group
    benchmark(products)
    macs = 3 * W_hh0.size + W_out.size
    record(
        benchmark,
        group=group,
        case="OpenBLAS sgemm (products only)",
        role="other",
        density=None,
        useful_flops=2 * macs * N,
        dense_flops=2 * macs * N,
        bytes_read=4 * macs,
        weight_bytes=_weight_bytes(model),
    )


# ---- trained character models on real text -----------------------------------------------------


def _text_tokens():
    """Held-out symbols of the training corpus (the last 5%), int32."""
    if "text" not in _cache:
        from ccinfer.datasets import load_text, text_split

        try:
            _, valid = text_split(load_text(os.environ.get("CCINFER_DATA"), "both"))
        except (ValueError, FileNotFoundError) as exc:
            pytest.skip(f"needs the text corpus: {exc}")
        _cache["text"] = valid.astype(np.int32)
    return _cache["text"]


def _trained(setting, weights):
    path = TRAINED[setting]
    if not path.exists():
        pytest.skip(f"{path.name} is not shipped")
    model = ccinfer.load(path)
    if [layer["hidden"] for layer in model.layers] != [H, H]:
        pytest.fail(f"{path.name}: expected two layers of {H}")
    return model if model.weights == weights else model.with_weights(weights)


def _ort_case():
    try:
        import onnxruntime
    except ImportError:
        return None
    return f"ONNX Runtime {onnxruntime.__version__} nn.GRU"


def _calls(fn):
    """A zero-argument step from a stepper ``fn(i)`` (ccinfer.char_lm), counting the calls."""
    counter = [0]

    def step():
        counter[0] += 1
        return fn(counter[0])

    return step


@pytest.mark.parametrize("weights", WEIGHTS)
def test_step_trained_unstructured(benchmark, bench_threads, weights):
    from ccinfer.char_lm import stream_stepper

    model = _trained("stream", weights)
    _check_against_reference(model, _text_tokens(), warm=200)  # verify before timing
    step = _calls(stream_stepper(model, _text_tokens(), warm=200))
    case = "trained unstructured r=16 s=-0.75 (text)"
    _time_model(benchmark, model, step, case, "cond", False, density="measured")
    # Target: 3x faster than ONNX Runtime's GRU (and 5x PyTorch's): shown as "vs baseline"
    # (ONNX Runtime and PyTorch run float32, so in the float32 group).
    if weights == "float32":
        benchmark.extra_info["baseline"] = _ort_case()


@pytest.mark.parametrize("weights", WEIGHTS)
def test_batch_trained_block(benchmark, bench_threads, weights):
    from ccinfer.char_lm import batch_stepper

    model = _trained("batch", weights)
    _check_batch_against_reference(model, ids=_text_tokens(), warm=50)  # verify before timing
    step = _calls(batch_stepper(model, _text_tokens(), N, warm=BATCH_WARM))
    case = "trained block 16/64 s=-0.25 (text)"
    _time_model(benchmark, model, step, case, "cond", True, density="measured")
