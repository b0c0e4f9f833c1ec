"""``python -m ccinfer demo``: the shipped models, dense and conditional, measured side by side.

MNIST: the 10,000 test digits through the shipped conditional MLP, accuracy with estimators
and without (the control), the active fraction per layer, and latency at batch 1 and batch 64
against dense OpenBLAS on the same weights, timed interleaved in this run
(docs/design.md section 4).

Text: the shipped character models (conditional GRUs, dissertation ch. 4) generate from a
prompt; on held-out text each reports bits per character, its z density per layer, and the
latency of one step of one stream against the dense GRU control, timed interleaved in this run
on that text (so the masks are the model's own and change every step).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import ccinfer

from . import timing
from .char_lm import bits_per_char, dense_like, stream_stepper
from .datasets import decode_text, encode_text, load_mnist, load_text, text_split

MNIST_MODEL = "mnist/mnist-50-35-25.safetensors"
CHAR_DENSE = "text/char-dense-h256.safetensors"
CHAR_CONDITIONAL = ("text/char-unstructured-h256.safetensors", "text/char-block-h256.safetensors")
# The dissertation-size models (27-1024-1024-27), timed against a dense stack of their shape
# stored like them (float16); models/text/MODEL_CARD.md says how far they were trained.
CHAR_LARGE = (
    "text/char-block-h1024-l2.safetensors",
    "text/char-unstructured-h1024-l2.safetensors",
)
PROMPT = "and it came to pass that "
WARM_UP = 500


def models_dir() -> Path:
    """The shipped models: inside the installed package, or models/ of a source checkout."""
    for candidate in (
        Path(ccinfer.__file__).parent / "models",
        Path(ccinfer.__file__).resolve().parents[2] / "models",
    ):
        if (candidate / MNIST_MODEL).exists():
            return candidate
    raise ValueError(
        "ccinfer demo: the shipped models are missing (looked in the package and "
        "in models/ of a source checkout)"
    )


def latency_table(model: ccinfer.CondMLP, X: np.ndarray, batch: int, rounds: int) -> dict:
    """Conditional vs dense OpenBLAS (same weights, estimators off, plan dense), interleaved;
    inputs rotate through the test digits so masks change call to call."""
    n_batches = len(X) // batch
    batches = [np.ascontiguousarray(X[i * batch : (i + 1) * batch]) for i in range(n_batches)]
    if batch == 1:
        batches = [b[0] for b in batches]
    dense = ccinfer.CondMLP(model.weights, model.biases)  # plan: dense everywhere

    def run_dense(i):
        dense(batches[i % n_batches])

    def run_cond(i):
        model(batches[i % n_batches])

    times = timing.compare(
        {"dense": run_dense, "conditional": run_cond},
        rounds,
        calls_per_round=1 if batch > 1 else 20,
    )
    return {
        "dense": timing.summarize(times["dense"] / batch),
        "conditional": timing.summarize(times["conditional"] / batch),
        "speedup": timing.paired_speedup(times["dense"], times["conditional"]),
    }


def accuracy_and_stats(model: ccinfer.CondMLP, X: np.ndarray, y: np.ndarray):
    """Test error (%) without and with the estimators, and the model's stats of the conditional
    pass with recall and precision counted (the whole test set, by the engine)."""
    model.estimators_enabled = False
    dense_err = 100 * float((model.predict(X) != y).mean())
    model.estimators_enabled = True
    model.reset_stats()
    model.track_accuracy = True
    cond_err = 100 * float((model.predict(X) != y).mean())
    stats = model.stats
    model.track_accuracy = False
    return dense_err, cond_err, stats


def mnist_demo(data_dir: str | None, rounds: int = 200) -> None:
    path = models_dir() / MNIST_MODEL
    model = ccinfer.load(path)
    X, y = load_mnist(data_dir, "test")
    print(
        f"MNIST model {path.name}: sizes {model.sizes}, estimator ranks "
        f"{[e.rank for e in model.estimators if e]}"
    )

    dense_err, cond_err, stats = accuracy_and_stats(model, X, y)
    print(f"  test error on 10,000 digits: dense {dense_err:.2f}%   conditional {cond_err:.2f}%")
    for i, layer in enumerate(stats["layers"][:-1]):
        print(
            f"  layer {i}: active {layer['active_fraction']:6.1%}   input non-zero "
            f"{layer['input_density']:6.1%}   recall {layer['recall']:6.1%}   precision "
            f"{layer['precision']:6.1%}"
        )
    print(
        "  flop-bound speed-up from these masks (docs/design.md section 1): "
        f"{stats['flop_bound_speedup']:.2f}x"
    )

    previous = ccinfer.get_num_threads()
    for threads in sorted({1, previous}):
        ccinfer.set_num_threads(threads)
        # The best kernels depend on the thread count: choose them again for each.
        tune = model.autotune(np.ascontiguousarray(X[:256]), repeats=5)
        print(
            f"  {threads} thread(s): plan chosen by measurement {tune['plan']}, "
            f"{'one thread' if tune['single_sample_threads'] == 1 else 'all threads'} "
            f"per single sample"
        )
        for batch in (1, 64):
            t = latency_table(model, X, batch, rounds if batch == 1 else max(rounds // 4, 20))
            print(
                f"  {threads} thread(s), batch {batch:2d}: dense OpenBLAS "
                f"{t['dense']['median_us']:7.1f} us/sample   conditional "
                f"{t['conditional']['median_us']:7.1f} us/sample   speed-up "
                f"{t['speedup']['median']:.2f}x (IQR {t['speedup']['q1']:.2f}-"
                f"{t['speedup']['q3']:.2f})"
            )
    ccinfer.set_num_threads(previous)


def step_latency(dense: ccinfer.GRUStack, model: ccinfer.GRUStack, tokens, rounds: int) -> dict:
    """One step of one stream, conditional against dense, interleaved (ccinfer.timing)."""
    times = timing.compare(
        {
            "dense": stream_stepper(dense, tokens, 200),
            "conditional": stream_stepper(model, tokens, 200),
        },
        rounds,
        calls_per_round=20,
    )
    return {
        "dense": timing.summarize(times["dense"]),
        "conditional": timing.summarize(times["conditional"]),
        "speedup": timing.paired_speedup(times["dense"], times["conditional"]),
    }


def text_demo(data_dir: str | None, rounds: int = 200, symbols: int = 50_000) -> None:
    """The character models: a sample from the prompt, BPC and z density on the first
    `symbols` held-out symbols, and step latency against the dense control."""
    root = models_dir()
    _, valid = text_split(load_text(data_dir, "both"))
    valid = valid[:symbols]
    tokens = valid[:20_000]
    dense = ccinfer.load(root / CHAR_DENSE)
    models = [(name, ccinfer.load(root / name), dense, "dense") for name in CHAR_CONDITIONAL]
    for name in CHAR_LARGE:
        if (root / name).exists():  # timed against a dense stack of its size
            large = ccinfer.load(root / name)
            models.append((name, large, dense_like(large), "dense (same shape)"))
    print(f"Text models on {len(valid):,} held-out symbols of Austen + King James Bible:")
    print(f"  {Path(CHAR_DENSE).stem}: {bits_per_char(dense, valid):.3f} bits/char (control)")
    prompt = encode_text(PROMPT)
    for name, model, reference, reference_name in models:
        model.reset_stats()
        bpc = bits_per_char(model, valid)
        stats = model.stats
        density = ", ".join(f"{layer['z_density']:.2f}" for layer in stats["layers"])
        print(
            f"  {Path(name).stem} ({model}): {bpc:.3f} bits/char, z density per layer "
            f"[{density}], flop-bound speed-up {stats['flop_bound_speedup']:.2f}x"
        )
        # From a zero state every gate may be shut (z = 0 keeps h = 0), and training only
        # rarely starts from one (the state is reset every 1000 updates): warm it on text.
        state = model.new_state()
        model.run(valid[:WARM_UP], state=state)
        ids = model.generate(prompt, 120, temperature=0.6, seed=0, state=state)
        print(f"    sample (state warmed on {WARM_UP} symbols): {PROMPT}{decode_text(ids)}")
        t = step_latency(reference, model, tokens, rounds)
        print(
            f"    one step, 1 stream, {ccinfer.get_num_threads()} thread(s): {reference_name} "
            f"{t['dense']['median_us']:7.1f} us   conditional "
            f"{t['conditional']['median_us']:7.1f} us   speed-up {t['speedup']['median']:.2f}x "
            f"(IQR {t['speedup']['q1']:.2f}-{t['speedup']['q3']:.2f})"
        )
