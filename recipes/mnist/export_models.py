"""Turn the trained MNIST networks into shipped ccinfer models and write their model card.

Reads what ``train_mnist.py`` wrote (``mlp-<config>.safetensors`` and ``results.json``), then
with the ccinfer engine itself:

- builds the shipped model ``mnist-50-35-25.safetensors``: the control network with rank
  50-35-25 estimators added after training (SVD of its weights, tau = 0), float32;
- ships the network trained with 50-35-25 estimators in the loop as
  ``mnist-50-35-25-inloop.safetensors`` (float16 storage, its test error re-measured after the
  rounding);
- calibrates the control's estimators on a held-out slice of the training set (the last 5,000
  digits, never used for the test numbers) for at most a 0.1-point accuracy drop;
- measures test error, active fractions, estimator recall and precision on the 10,000 test
  digits, and latency at batch 1 and 64 against dense OpenBLAS on the same weights, timed
  interleaved in one run (docs/design.md section 4);
- writes the models to ``models/mnist/`` and ``results.json`` beside this script (the numbers
  of ``models/mnist/MODEL_CARD.md``).

Run from the project root after training::

    python recipes/mnist/export_models.py --artifacts build/artifacts/mnist
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

import ccinfer
from ccinfer.datasets import load_mnist
from ccinfer.demo import accuracy_and_stats, latency_table

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MODELS = REPO / "models" / "mnist"
RANK_SETS = {
    "50-35-25": (50, 35, 25),
    "25-25-25": (25, 25, 25),
    "15-10-5": (15, 10, 5),
    "10-10-5": (10, 10, 5),
}
PAPER = {"control": 1.124, "50-35-25": 1.150, "25-25-25": 1.234, "15-10-5": 1.525, "10-10-5": 3.273}


def load_trained(artifacts: Path, config: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    t = load_file(str(artifacts / f"mlp-{config}.safetensors"))
    n = len([k for k in t if k.endswith(".weight")])
    return [t[f"layers.{i}.weight"] for i in range(n)], [t[f"layers.{i}.bias"] for i in range(n)]


def measure(model: ccinfer.CondMLP, X: np.ndarray, y: np.ndarray) -> dict:
    """Test error (%) with estimators and without, and per-layer statistics, by the engine."""
    dense_error, error, stats = accuracy_and_stats(model, X, y)
    layers = [
        {
            k: round(v, 4)
            for k, v in layer.items()
            if k in ("active_fraction", "input_density", "recall", "precision")
        }
        for layer in stats["layers"][:-1]
    ]
    return {
        "error": round(error, 3),
        "dense_error": round(dense_error, 3),
        "layers": layers,
        "flop_bound_speedup": round(stats["flop_bound_speedup"], 3),
    }


def latency(model: ccinfer.CondMLP, X: np.ndarray, rounds: int) -> dict:
    """us per sample at batch 1 and 64, conditional vs dense OpenBLAS, 1 and 2 threads, the
    plan tuned at each thread count (the demo's measurement)."""
    out = {}
    previous = ccinfer.get_num_threads()
    for threads in (1, 2):
        ccinfer.set_num_threads(threads)
        tune = model.autotune(np.ascontiguousarray(X[:256]), repeats=5)
        out[f"{threads}t_plan"] = [tune["plan"], tune["single_sample_threads"]]
        for batch in (1, 64):
            t = latency_table(model, X, batch, rounds)
            out[f"{threads}t_batch{batch}"] = {
                "dense_us": round(t["dense"]["median_us"], 2),
                "conditional_us": round(t["conditional"]["median_us"], 2),
                "speedup": {k: round(v, 3) for k, v in t["speedup"].items()},
            }
    ccinfer.set_num_threads(previous)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=REPO / "build" / "artifacts" / "mnist")
    parser.add_argument("--data-dir", type=Path, help="default: $CCINFER_DATA, else ./data")
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args(argv)

    trained = json.loads((args.artifacts / "results.json").read_text())["configs"]
    X, y = load_mnist(args.data_dir, "test")
    Xtrain, ytrain = load_mnist(args.data_dir, "train")
    Xval, yval = np.ascontiguousarray(Xtrain[-5000:]), ytrain[-5000:]

    W, b = load_trained(args.artifacts, "control")
    results = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "build": ccinfer.build_info(),
            "date": time.strftime("%Y-%m-%d"),
        },
        "post_hoc": {},
        "in_loop": {},
    }
    control = ccinfer.CondMLP(W, b)
    results["control"] = measure(control, X, y)
    for name, ranks in RANK_SETS.items():
        results["post_hoc"][name] = measure(ccinfer.CondMLP.from_dense(W, b, ranks), X, y)
        if name in trained:
            Wi, bi = load_trained(args.artifacts, name)
            results["in_loop"][name] = measure(ccinfer.CondMLP.from_dense(Wi, bi, ranks), X, y)
            results["in_loop"][name]["test_error_torch"] = trained[name]["test_error"]

    shipped = ccinfer.CondMLP.from_dense(W, b, RANK_SETS["50-35-25"])
    card = {
        "source": "control network trained by recipes/mnist/train_mnist.py, rank 50-35-25 "
        "estimators from the SVD of its weights (tau = 0)",
        "test_error_percent": str(results["post_hoc"]["50-35-25"]["error"]),
        "control_test_error_percent": str(results["control"]["error"]),
        "input": "MNIST pixels / 255 as float32 in [0, 1], 784 = 28x28 row by row",
    }
    shipped.save(MODELS / "mnist-50-35-25.safetensors", card=card)
    results["latency"] = latency(shipped, X, args.rounds)

    if "50-35-25" in trained:
        Wi, bi = load_trained(args.artifacts, "50-35-25")
        inloop = ccinfer.CondMLP.from_dense(Wi, bi, RANK_SETS["50-35-25"])
        path = MODELS / "mnist-50-35-25-inloop.safetensors"
        inloop.save(
            path,
            card={
                "source": "trained with rank 50-35-25 estimators in the loop "
                "(SVD refreshed every epoch), stored as float16"
            },
            store_dtype=np.float16,
        )
        results["in_loop_float16_error"] = measure(ccinfer.load(path), X, y)["error"]

    calibrated = ccinfer.CondMLP(W, b)
    report = calibrated.calibrate(Xval, yval, max_accuracy_drop=0.001)
    results["calibrated"] = {"choice": report["layers"], "test": measure(calibrated, X, y)}
    (HERE / "results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
