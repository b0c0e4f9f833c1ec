"""A trained dense character GRU made conditional: converted and fine-tuned, against the same
conditional model trained from scratch for the same number of updates.

The dense model is the shipped ``models/text/char-dense-h256.safetensors`` (27-256-27). Three
runs, each its own process so that the two trainings can share the machine's two cores:

``--run converted``
    `dense_char_lm` + `conditional_from_dense` (update gate from the dense one, ``s`` for the
    target z density on the training text), then `fit_char_lm` on the training text.
``--run scratch``
    The same conditional model (gate, rank and the ``s`` the converted run chose) from the
    recipe's initialisation (`train_char_models.py`), trained by the same loop for the same
    number of updates at the recipe's learning rate.
``--run report``
    Reads both, times one stream of each trained model's step against the dense model in the
    engine (`ccinfer.timing`, rounds alternating, one process) and writes the results file.

Every ``--eval-every`` updates (and before the first) each model is measured as the model card
measures the shipped ones: in the engine, one stream over the whole held-out text from a zero
state. The training runs write ``<run>.json`` and ``<run>.safetensors`` (a GRUStack file) to
``--work``; the report writes ``--out``. From the repository root::

    python recipes/text/convert_dense.py --run converted --updates 3000 &
    python recipes/text/convert_dense.py --run scratch --updates 3000 &
    wait; python recipes/text/convert_dense.py --run report
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import ccinfer
from ccinfer import timing
from ccinfer.char_lm import bits_per_char, stream_stepper
from ccinfer.train.gru import (
    CharLM,
    conditional_from_dense,
    dense_char_lm,
    fit_char_lm,
    load_char_splits,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DENSE = REPO / "models" / "text" / "char-dense-h256.safetensors"
WORK = REPO / "build" / "artifacts" / "text" / "convert"
WITHIN_BPC = 0.05  # "close to the dense model": the gap the experiment asks the updates for


def engine_measure(model: CharLM, valid: np.ndarray) -> dict:
    """BPC and z density of `model` in the engine: one stream over all of `valid`."""
    stack = ccinfer.GRUStack.from_char_lm(model)
    stack.reset_stats()
    bpc = bits_per_char(stack, valid)
    return {"bpc": bpc, "z_density": [layer["z_density"] for layer in stack.stats["layers"]]}


def first_within(history: list[dict], target: float) -> dict | None:
    """The first measurement at or below `target` BPC."""
    return next((entry for entry in history if entry["valid_bpc"] <= target), None)


def train(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    train_ids, valid_ids = load_char_splits(args.data_dir, "both")
    dense_stack = ccinfer.load(DENSE)
    dense_bpc = bits_per_char(dense_stack, valid_ids)
    start = time.perf_counter()
    model, info = conditional_from_dense(
        dense_char_lm(dense_stack), train_ids, args.gate, args.rank, args.density
    )
    lr = args.lr
    if args.run == "scratch":  # the same model and s, the recipe's initialisation
        torch.manual_seed(args.seed)
        model = CharLM(model.gru.hidden_size, 1, args.gate, args.rank, info["shift"]).eval()
        lr = args.scratch_lr
    init_seconds = time.perf_counter() - start
    initial = engine_measure(model, valid_ids)
    print(f"{args.run}: before training {initial['bpc']:.4f} BPC, z {initial['z_density']}")
    metrics = fit_char_lm(
        model,
        train_ids,
        valid_ids,
        args.updates,
        lr=lr,
        eval_every=args.eval_every,
        evaluate=lambda m: engine_measure(m, valid_ids),
        progress=False,
    )
    final = engine_measure(model, valid_ids)
    history = [{"step": 0, "valid_bpc": initial["bpc"], "z_density": initial["z_density"],
                "seconds": 0.0}] + metrics["history"]  # fmt: skip
    hit = first_within(history, dense_bpc + WITHIN_BPC)
    result = {
        "run": args.run,
        "dense_valid_bpc": dense_bpc,
        "target_bpc": dense_bpc + WITHIN_BPC,
        "gate": args.gate,
        "rank": args.rank,
        "shift": model.gru.shift,
        "lr": lr,
        "updates": metrics["updates"],
        "init": info,
        "init_seconds": init_seconds,
        "train_seconds": metrics["train_seconds"],
        "valid_bpc": final["bpc"],
        "z_density": final["z_density"],
        "within_target_at": hit and {"updates": hit["step"], "seconds": hit["seconds"]},
        "history": history,
        "settings": metrics["settings"],
    }
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / f"{args.run}.json").write_text(json.dumps(result, indent=1) + "\n")
    stack = ccinfer.GRUStack.from_char_lm(model)
    stack.card = {"valid_bpc": f"{final['bpc']:.4f}", "updates": str(metrics["updates"])}
    stack.save(args.work / f"{args.run}.safetensors", card=stack.card)
    print(f"{args.run}: {final['bpc']:.4f} BPC (dense {dense_bpc:.4f}), hit {hit}")


def report(args: argparse.Namespace) -> None:
    _, valid_ids = load_char_splits(args.data_dir, "both")
    dense = ccinfer.load(DENSE)
    tokens = valid_ids[:20000].astype(np.int32)
    results: dict = {"dense": str(DENSE.relative_to(REPO)), "rounds": args.rounds}
    for run in ("converted", "scratch"):
        result = json.loads((args.work / f"{run}.json").read_text())
        model = ccinfer.load(args.work / f"{run}.safetensors")
        model.reset_stats()
        assert abs(bits_per_char(model, valid_ids) - result["valid_bpc"]) < 1e-6
        model.reset_stats()
        ccinfer.set_num_threads(1)
        steppers = {"dense": stream_stepper(dense, tokens, 200)}
        steppers["conditional"] = stream_stepper(model, tokens, 200)
        measured = timing.measure(steppers, args.rounds, 20)
        bound = model.stats["flop_bound_speedup"]
        result["step_1t"] = {
            "dense_us": measured.summary("dense")["median_us"],
            "conditional_us": measured.summary("conditional")["median_us"],
            "speedup": measured.speedup("dense", "conditional", bound),
            "flop_bound": bound,
            "load": measured.load,
        }
        results[run] = result
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    for run in ("converted", "scratch"):
        r = results[run]
        print(
            f"{run}: {r['valid_bpc']:.4f} BPC after {r['updates']} updates "
            f"(dense {r['dense_valid_bpc']:.4f}); within {WITHIN_BPC} at {r['within_target_at']}; "
            f"z {np.round(r['z_density'], 3).tolist()}; "
            f"1-thread speed-up {r['step_1t']['speedup']['median']:.2f}x"
            f"{r['step_1t']['speedup']['note']}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", choices=["converted", "scratch", "report"], required=True)
    parser.add_argument("--data-dir", type=Path, help="default: $CCINFER_DATA, else ./data")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--out", type=Path, default=HERE / "convert-dense.json")
    parser.add_argument("--gate", choices=["lowrank", "block"], default="lowrank")
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--density", type=float, default=0.3, help="target z density")
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--lr", type=float, default=1e-3, help="fine-tuning learning rate")
    parser.add_argument("--scratch-lr", type=float, default=1e-3, help="the recipe's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args(argv)
    report(args) if args.run == "report" else train(args)


if __name__ == "__main__":
    main()
