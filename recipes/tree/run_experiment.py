"""MNIST experiment for the tree-gated layer (Cho & Bengio 2014; docs/design.md section 3).

Network: 784 -> dense ReLU 256 -> middle layer -> 10 logits. The middle layer is

- ``tree k``: a tree-gated layer 256 -> 128 with ReLU, depth k in {0, 1, 2, 4, 6}, gating bits
  ``h[0:16] > 0`` (the signs of the first 16 hidden ReLU units: free, no extra parameters),
  sliding paths (unit j reads bits floor(j/k) .. floor(j/k) + k - 1 modulo 16);
- ``dense =flops k``: a dense ReLU layer 256 -> w with the FLOPs of the tree layer at a dense
  input, 2 * 256 * w = (k + 2) * 256 * 128, w = 64 (k + 2);
- ``dense =params k``: a dense ReLU layer 256 -> w with the parameters of the tree table,
  256 * w = 256 * 128 * (2^(k+1) - 1).

Every model is trained the same way: plain SGD, lr 0.1, batch 64, L2 weight decay 1e-4 (eager
for dense weights; lazy for the tree table, which equals eager decay), a fixed number of epochs
(default 5) on the 60,000 training digits, one thread; test error on the 10,000 test digits,
computed by the ccinfer engine after export. Latency: the exported models in the engine, one
thread, batch 1 and batch 64, steady state, all models interleaved in blocks of calls over
rotating test digits (``latencies``).

Run from the repository root (waits for nothing: start it when the machine is quiet)::

    python recipes/tree/run_experiment.py --epochs 5

The shipped model goes to ``models/tree/``, ``results.json`` beside this script.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import ccinfer
from ccinfer.datasets import load_mnist
from ccinfer.train.tree import LazyDecaySGD, TreeGated, export_sequential

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HIDDEN, WIDTH, NBITS = 256, 128, 16
LR, WEIGHT_DECAY, BATCH = 0.1, 1e-4, 64


def build(kind: str, depth: int) -> nn.Sequential:
    """The network for one row of the table."""
    if kind == "tree":
        middle = TreeGated(
            HIDDEN,
            WIDTH,
            depth,
            path="sliding",
            gate_units=list(range(NBITS)),
            activation="relu",
            sparse=True,
        )
        return nn.Sequential(nn.Linear(784, HIDDEN), nn.ReLU(), middle, nn.Linear(WIDTH, 10))
    width = 64 * (depth + 2) if kind == "dense =flops" else WIDTH * ((2 << depth) - 1)
    return nn.Sequential(
        nn.Linear(784, HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, width),
        nn.ReLU(),
        nn.Linear(width, 10),
    )


def train(net: nn.Sequential, X: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> float:
    """Plain SGD with L2 decay; the tree table through LazyDecaySGD. Returns seconds."""
    trees = [m for m in net if isinstance(m, TreeGated)]
    lazy = [LazyDecaySGD(t, LR, WEIGHT_DECAY) for t in trees]
    tables = {id(t.node_table) for t in trees}
    dense = [p for p in net.parameters() if id(p) not in tables]
    opt = torch.optim.SGD(dense, lr=LR, weight_decay=WEIGHT_DECAY)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), BATCH):
            idx = order[i : i + BATCH]
            opt.zero_grad()
            for o in lazy:
                o.zero_grad()
            F.cross_entropy(net(X[idx]), y[idx]).backward()
            opt.step()
            for o in lazy:
                o.step()
    for o in lazy:
        o.finalize()
    net.eval()
    return time.perf_counter() - start


def middle_params(net: nn.Sequential) -> int:
    middle = net[2]
    if isinstance(middle, TreeGated):
        return middle.node_table.numel() + middle.bias.numel()
    return sum(p.numel() for p in middle.parameters())


def latencies(models: dict, inputs: dict, rounds: int, block: int = 32, warm: int = 4) -> dict:
    """Median microseconds per call of every model in steady state: in every round each model
    (in a new random order) runs a block of ``block`` calls on rotating inputs, the first
    ``warm`` untimed, so its weights are as warm as when it serves alone, and all models share
    the same stretch of machine time (call-by-call interleaving would instead measure every
    model with its weights evicted by the others)."""
    times = {name: [] for name in models}
    names = list(models)
    rng = np.random.default_rng(0)
    for r in range(rounds):
        rng.shuffle(names)
        for name in names:
            xs, call = inputs[name], models[name]
            for b in range(block):
                x = xs[(r * block + b) % len(xs)]
                t0 = time.perf_counter_ns()
                call(x)
                if b >= warm:
                    times[name].append(time.perf_counter_ns() - t0)
    return {name: float(np.median(t)) / 1e3 for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--depths", type=int, nargs="+", default=[0, 1, 2, 4, 6])
    parser.add_argument("--ship-depth", type=int, default=4)
    parser.add_argument("--out", type=Path, default=REPO / "models" / "tree", help="shipped model")
    parser.add_argument("--results", type=Path, default=HERE / "results.json")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--train-samples", type=int, default=60000, help="fewer for a smoke test")
    parser.add_argument(
        "--cache", type=Path, default=None, help="keep trained models here; reuse them if present"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    ccinfer.set_num_threads(1)
    Xtr, ytr = load_mnist(args.data, "train")
    Xte, yte = load_mnist(args.data, "test")
    Xt, yt = (
        torch.from_numpy(Xtr[: args.train_samples]),
        torch.from_numpy(ytr[: args.train_samples]),
    )

    runs = [("tree", k) for k in args.depths]
    runs += [(kind, k) for k in args.depths if k > 0 for kind in ("dense =flops", "dense =params")]
    rows, engines, middles = [], {}, {}
    for kind, k in runs:
        torch.manual_seed(1)
        net = build(kind, k)
        name = f"{kind} k={k}"
        cached = args.cache / f"{kind.replace(' =', '-')}-k{k}.safetensors" if args.cache else None
        if cached is not None and cached.exists():
            model = ccinfer.load(cached)
            seconds = float(model.card["train_seconds"])
        else:
            seconds = train(net, Xt, yt, args.epochs, seed=2)
            model = export_sequential(net)
            with torch.no_grad():
                torch_pred = net(torch.from_numpy(Xte)).argmax(1).numpy()
            agree = np.mean(model.predict(Xte) == torch_pred)
            assert agree > 0.999, "engine and PyTorch disagree"
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                model.save(cached, card={"train_seconds": str(seconds)})
        pred = model.predict(Xte)
        first, middle = model.layers[0], model.layers[2]
        hidden = np.maximum(first(Xte), 0)
        density = float(np.mean(hidden != 0))
        if kind == "tree":
            middle.reset_stats()
            middle(hidden)
            nnz = middle.stats["inputs_nonzero"] / len(Xte)
            middle_flops = middle.flops(nnz)
            nominal = middle.flops()
        else:
            width = middle.sizes[-1]
            middle_flops = nominal = 2.0 * HIDDEN * width
        out_in = model.layers[-1].sizes[0]
        flops = 2 * 784 * HIDDEN + nominal + 2 * out_in * 10
        row = {
            "model": name,
            "kind": kind,
            "depth": k,
            "middle_width": WIDTH if kind == "tree" else width,
            "params": sum(p.numel() for p in net.parameters()),
            "middle_params": middle_params(net),
            "flops_per_sample": flops,
            "middle_flops_nominal": nominal,
            "middle_flops_at_density": middle_flops,
            "hidden_density": density,
            "test_error": float(np.mean(pred != yte)),
            "train_seconds": seconds,
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
        engines[name] = model
        middles[name] = (middle, hidden)
        if kind == "tree" and k == args.ship_depth:
            path = args.out / f"mnist-tree-k{k}.safetensors"
            card = {
                "trained": f"MNIST 60k, {args.epochs} epochs, SGD lr {LR} batch {BATCH}, L2 "
                f"{WEIGHT_DECAY} (lazy on the table), recipes/tree/run_experiment.py",
                "test_error_float32": f"{row['test_error']:.4f}",
            }
            model.save(path, card=card, store_dtype=np.float16)
            shipped = ccinfer.load(path)
            row["shipped_file"] = path.name
            row["shipped_test_error_float16"] = float(np.mean(shipped.predict(Xte) != yte))

    # Latency: whole models and the middle layers alone, all interleaved in one run.
    dense_models = {}
    for name, model in engines.items():
        if not name.startswith("tree"):
            # The dense networks as one CondMLP: three OpenBLAS layers in one C++ call.
            weights = [s.weights[0] for s in model.layers if isinstance(s, ccinfer.CondMLP)]
            biases = [s.biases[0] for s in model.layers if isinstance(s, ccinfer.CondMLP)]
            dense_models[name] = ccinfer.CondMLP(weights, biases)
    for batch, rounds in ((1, 60), (64, 8)):
        if batch == 1:
            xs = [np.ascontiguousarray(x) for x in Xte[:2000]]
        else:
            xs = [np.ascontiguousarray(Xte[i : i + 64]) for i in range(0, 6400, 64)]
        callables, inputs = {}, {}
        for name, model in engines.items():
            callables[f"model {name}"] = dense_models.get(name, model)
            inputs[f"model {name}"] = xs
            middle, hidden = middles[name]
            callables[f"middle {name}"] = middle
            inputs[f"middle {name}"] = (
                [np.ascontiguousarray(h) for h in hidden[:2000]]
                if batch == 1
                else [np.ascontiguousarray(hidden[i : i + 64]) for i in range(0, 6400, 64)]
            )
        us = latencies(callables, inputs, rounds)
        for row in rows:
            row[f"latency_us_batch{batch}"] = us[f"model {row['model']}"]
            row[f"middle_latency_us_batch{batch}"] = us[f"middle {row['model']}"]
    args.results.write_text(json.dumps(rows, indent=1))
    print(
        "| model | params (middle) | FLOPs/sample (middle at density) | batch 1 us (middle) "
        "| batch 64 us (middle) | test error |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['model']} | {r['params']:,} ({r['middle_params']:,}) | "
            f"{r['flops_per_sample'] / 1e6:.2f} M ({r['middle_flops_at_density'] / 1e6:.3f} M) | "
            f"{r['latency_us_batch1']:.1f} ({r['middle_latency_us_batch1']:.1f}) | "
            f"{r['latency_us_batch64']:.0f} ({r['middle_latency_us_batch64']:.0f}) | "
            f"{100 * r['test_error']:.2f}% |"
        )


if __name__ == "__main__":
    main()
