"""``python -m ccinfer demo``: the shipped models, dense and conditional, measured side by side.

MNIST: the 10,000 test digits through the shipped conditional MLP, accuracy with estimators
and without (the control), the active fraction per layer, and latency at batch 1 and batch 64
against dense OpenBLAS on the same weights, timed interleaved in this run (DESIGN.md 4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import ccinfer

from . import timing
from .datasets import load_mnist

MNIST_MODEL = "mnist/mnist-50-35-25.safetensors"


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
        f"  flop-bound speed-up from these masks (DESIGN.md 1): {stats['flop_bound_speedup']:.2f}x"
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
