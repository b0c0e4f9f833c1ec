"""What the golden outputs are: every shipped model on fixed inputs, on every ISA.

One definition for both sides: ``tools/record_golden.py`` runs it against an older build of
ccinfer to write ``models.npz``, and ``tests/test_golden.py`` runs it against this build and
compares. It uses only the public API both builds have (``ccinfer.load`` by path, ``step``,
``run``, ``new_state``, ``predict``-free calls, ``stats``), and imports nothing of the
repository but data files, so the build under test is whichever ``ccinfer`` is imported.

A case is a name and a function returning a list of arrays (the model's outputs, then its
final states) and a JSON string (the model's statistics after the calls). Outputs are compared
by a digest of their bytes; a few leading values are kept beside it so that a mismatch says
how far off it is.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
SAMPLE = REPO / "python" / "ccinfer" / "data" / "sample.npz"

MLP_FILES = ("mnist/mnist-50-35-25.safetensors", "mnist/mnist-50-35-25-inloop.safetensors")
TREE_FILES = ("tree/mnist-tree-k4.safetensors",)
GRU_FILES = (
    "text/char-dense-h256.safetensors",
    "text/char-unstructured-h256.safetensors",
    "text/char-block-h256.safetensors",
    "text/char-dense-h1024-l2.safetensors",
    "text/char-unstructured-h1024-l2.safetensors",
    "text/char-block-h1024-l2.safetensors",
)
# Every kernel a CondMLP layer can run (mlp.KERNELS), each forced on all layers, and the
# plan the file carries.
MLP_PLANS = (None, "dense", "rows", "input_sparse", "rows_input_sparse")

MNIST_BATCH = 64  # off the 16-sample tiles: 4 whole tiles
BATCH_STREAMS = 5  # off the SIMD widths
# Steps (one stream, batch) of the small and the 27-1024-1024-27 models: few for the large
# ones, which cost about 30 times more per step on the scalar ISA.
STEPS = {"small": (32, 12), "large": (10, 4)}
HEAD = 8  # leading values kept beside each digest

Result = tuple[list[np.ndarray], str]


@functools.cache
def inputs() -> dict[str, np.ndarray]:
    """The shipped data sample (real digits and real text), read as plain arrays."""
    with np.load(SAMPLE) as f:
        images = f["mnist_images"].reshape(len(f["mnist_images"]), -1)
        return {
            "images": (images[:MNIST_BATCH].astype(np.float32) / np.float32(255.0)),
            "text": f["text_ids"][:2000].astype(np.int32),
        }


def digest(a: np.ndarray) -> str:
    """dtype, shape and the bytes: equal digests are equal arrays, bit for bit."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()[:32]


def head(a: np.ndarray) -> np.ndarray:
    out = np.full(HEAD, np.nan, np.float32)
    flat = np.asarray(a, np.float32).reshape(-1)[:HEAD]
    out[: flat.size] = flat
    return out


def _stats(model) -> str:
    return json.dumps(model.stats, sort_keys=True, default=float)


def _mlp_case(ccinfer, path: Path, x: np.ndarray, plan, estimators: bool, threads: int):
    def run() -> Result:
        ccinfer.set_num_threads(threads)
        model = ccinfer.load(path)
        model.estimators_enabled = estimators
        if plan is not None:  # on every layer that can run it (rows need an estimator)
            needs_estimator = plan.startswith("rows")
            model.plan = [
                plan if est is not None or not needs_estimator else current
                for est, current in zip(model.estimators, model.plan, strict=True)
            ]
        # With the estimators off, the recorded build's accuracy counts read a row list the
        # single-sample pass never fills, so they vary from run to run: they are recorded only
        # with the estimators on.
        model.track_accuracy = estimators
        model.reset_stats()
        one = np.stack([model(x[i]) for i in range(3)])
        batch = model(x)
        return [one, batch], _stats(model)

    return run


def _tree_case(ccinfer, path: Path, x: np.ndarray, threads: int):
    def run() -> Result:
        ccinfer.set_num_threads(threads)
        model = ccinfer.load(path)
        return [np.stack([model(x[i]) for i in range(3)]), model(x)], ""

    return run


def _gru_case(ccinfer, path: Path, text: np.ndarray, weights: str, threads: int, steps):
    def run() -> Result:
        ccinfer.set_num_threads(threads)
        model = ccinfer.load(path)
        if model.weights != weights:
            model = model.with_weights(weights)
        layers = len(model.layers)
        stream_steps, batch_steps = steps
        seq = text[:stream_steps]
        # One stream, one token per call.
        model.reset_stats()
        state = model.new_state()
        stream = np.stack([model.step(int(t), state=state) for t in seq])
        stream_h = [state.get_h(i) for i in range(layers)]
        stats = _stats(model)
        # The same tokens in one call.
        whole = model.run(seq)
        # A batch: streams start at different places of the text.
        starts = np.arange(BATCH_STREAMS) * 97
        bstate = model.new_state(BATCH_STREAMS)
        batch = np.stack(
            [
                model.step(np.ascontiguousarray(text[starts + t]), state=bstate)
                for t in range(batch_steps)
            ]
        )
        batch_h = [bstate.get_h(i) for i in range(layers)]
        return [stream, *stream_h, whole, batch, *batch_h], stats

    return run


def cases(ccinfer) -> Iterator[tuple[str, Callable[[], Result]]]:
    """(name, run) for every case on the active ISA; the caller sets the ISA."""
    data = inputs()
    for rel in MLP_FILES:
        for plan in MLP_PLANS:
            for estimators in (True, False):
                for threads in (1, 2):
                    name = f"{rel}|plan={plan}|est={int(estimators)}|t={threads}"
                    yield (
                        name,
                        _mlp_case(ccinfer, MODELS / rel, data["images"], plan, estimators, threads),
                    )
    for rel in TREE_FILES:
        for threads in (1, 2):
            yield f"{rel}|t={threads}", _tree_case(ccinfer, MODELS / rel, data["images"], threads)
    for rel in GRU_FILES:
        small = "h256" in rel
        for weights in ("float32", "float16"):
            for threads in (1, 2) if small else (2,):
                name = f"{rel}|{weights}|t={threads}"
                steps = STEPS["small" if small else "large"]
                yield name, _gru_case(ccinfer, MODELS / rel, data["text"], weights, threads, steps)


Recorded = tuple[list[str], list[np.ndarray], str]


def record(ccinfer, isas) -> dict[str, Recorded]:
    """Every case on every ISA in ``isas``: {"<isa>|<case>": (digests, heads, stats)}. A call
    refused with ValueError records the digest "ValueError" (not its message, which may be
    reworded)."""
    out: dict[str, Recorded] = {}
    previous_isa, previous_threads = ccinfer.get_isa(), ccinfer.get_num_threads()
    try:
        for isa in isas:
            ccinfer.set_isa(isa)
            for name, run in cases(ccinfer):
                try:
                    arrays, stats = run()
                except ValueError:  # a plan a layer cannot run: the refusal is the result
                    out[f"{isa}|{name}"] = (["ValueError"], [], "")
                    continue
                digests = [digest(a) for a in arrays]
                out[f"{isa}|{name}"] = (digests, [head(a) for a in arrays], stats)
    finally:
        ccinfer.set_isa(previous_isa)
        ccinfer.set_num_threads(previous_threads)
    return out


def save(path: Path, recorded: dict[str, Recorded], source: str) -> None:
    """One .npz of plain arrays (no pickles): per case its digests (comma-joined), statistics
    and the rows of ``heads`` that belong to it."""
    keys = sorted(recorded)
    heads, first = [], []
    for k in keys:
        first.append(len(heads))
        heads.extend(recorded[k][1])
    np.savez_compressed(
        path,
        source=np.str_(source),
        keys=np.array(keys),
        digests=np.array([",".join(recorded[k][0]) for k in keys]),
        stats=np.array([recorded[k][2] for k in keys]),
        heads=np.array(heads, np.float32).reshape(-1, HEAD),
        first_head=np.array(first, np.int64),
    )


def load(path: Path) -> tuple[str, dict[str, Recorded]]:
    """The source description and the cases ``save`` wrote."""
    with np.load(path) as f:
        keys, digests, stats = f["keys"].tolist(), f["digests"].tolist(), f["stats"].tolist()
        heads, first = f["heads"], f["first_head"]
        source = str(f["source"])
    out: dict[str, Recorded] = {}
    for i, k in enumerate(keys):
        d = digests[i].split(",")
        n = 0 if d == ["ValueError"] else len(d)
        out[k] = (d, list(heads[first[i] : first[i] + n]), stats[i])
    return source, out
