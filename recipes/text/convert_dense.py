"""A trained dense character GRU made conditional: converted and fine-tuned, against the same
conditional model trained from scratch for the same number of updates.

The dense model is the shipped ``models/text/char-dense-h256.safetensors`` (27-256-27). A
configuration is a gate kind, a rank and a target z density (``--gate/--rank/--density``,
named ``--tag``, by default ``<gate>-r<rank>-d<density>``). Two training runs per
configuration, each its own process so that the two can share the machine's two cores:

``--run converted``
    `dense_char_lm` + `conditional_from_dense` (update gate fitted to the dense one, nearly
    every gate open), then `fit_char_lm` with the dense model as teacher (``--distil``; off
    with ``--no-teacher``) and a `DensitySchedule` that lowers the z density to the target
    over ``--anneal`` updates.
``--run scratch``
    The same conditional model (gate and rank, the recipe's initialisation as in
    `train_char_models.py`, no per-unit scale and offset) trained by the same loop for the same
    number of updates, without a teacher (unless ``--teacher``), the same `DensitySchedule`
    target held from the first update.
``--run report``
    Reads every configuration named by ``--tags``, times one stream of each trained model's
    step against the dense model in the engine (`ccinfer.timing`, rounds alternating, one
    process) and writes the results file.

Both runs reset each stream's carried state every ``--reset-every`` updates, the streams at
staggered updates (20: a model that keeps state must learn to start from a zero state, as
every new stream in the engine does; see `CharLMTrainer`'s ``stagger_resets``).
Every ``--eval-every`` updates (and before the first) each model is measured as the model card
measures the shipped ones: in the engine, one stream over the whole held-out text from a zero
state. The training runs write ``<tag>/<run>.json`` and ``<tag>/<run>.safetensors`` (a
GRUStack file) under ``--work``; the report writes ``--out``. From the repository root::

    python recipes/text/convert_dense.py --run converted --rank 16 --density 0.5 &
    python recipes/text/convert_dense.py --run scratch --rank 16 --density 0.5 &
    wait; python recipes/text/convert_dense.py --run report --tags lowrank-r16-d0.5
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
    DensitySchedule,
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
    dense = dense_char_lm(dense_stack)
    start = time.perf_counter()
    if args.run == "converted":
        model, info = conditional_from_dense(dense, train_ids, args.gate, args.rank)
        schedule = DensitySchedule(args.density, args.anneal)
    else:  # the same model, the recipe's initialisation
        torch.manual_seed(args.seed)
        layers = dense.gru.num_layers
        model, info = CharLM(dense.gru.hidden_size, layers, args.gate, args.rank).eval(), {}
        schedule = DensitySchedule(args.density)
    with_teacher = args.teacher if args.teacher is not None else args.run == "converted"
    teacher = dense if with_teacher else None
    init_seconds = time.perf_counter() - start
    initial = engine_measure(model, valid_ids)
    print(f"{args.run}: before training {initial['bpc']:.4f} BPC, z {initial['z_density']}")
    metrics = fit_char_lm(
        model,
        train_ids,
        valid_ids,
        args.updates,
        lr=args.lr,
        reset_every=args.reset_every,
        stagger_resets=True,
        teacher=teacher,
        distil=args.distil,
        density=schedule,
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
        "target_density": args.density,
        "teacher": with_teacher,
        "shifts": [cell.shift for cell in model.gru.layers],
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
    work = args.work / args.tag
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{args.run}.json").write_text(json.dumps(result, indent=1) + "\n")
    stack = ccinfer.GRUStack.from_char_lm(model)
    stack.card = {"valid_bpc": f"{final['bpc']:.4f}", "updates": str(metrics["updates"])}
    stack.save(work / f"{args.run}.safetensors", card=stack.card)
    print(f"{args.run}: {final['bpc']:.4f} BPC (dense {dense_bpc:.4f}), hit {hit}")


def report(args: argparse.Namespace) -> None:
    _, valid_ids = load_char_splits(args.data_dir, "both")
    dense = ccinfer.load(DENSE)
    tokens = valid_ids[:20000].astype(np.int32)
    results: dict = {"dense": str(DENSE.relative_to(REPO)), "rounds": args.rounds}
    ccinfer.set_num_threads(1)
    for tag in args.tags:
        results[tag] = {}
        for run in ("converted", "scratch"):
            result = json.loads((args.work / tag / f"{run}.json").read_text())
            model = ccinfer.load(args.work / tag / f"{run}.safetensors")
            model.reset_stats()
            if abs(bits_per_char(model, valid_ids) - result["valid_bpc"]) > 1e-6:
                raise SystemExit(f"{tag}/{run}: the saved model does not score what was measured")
            model.reset_stats()
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
            results[tag][run] = result
            print(
                f"{tag} {run}: {result['valid_bpc']:.4f} BPC after {result['updates']} updates "
                f"(dense {result['dense_valid_bpc']:.4f}); within {WITHIN_BPC} at "
                f"{result['within_target_at']}; z {np.round(result['z_density'], 3).tolist()}; "
                f"1-thread speed-up {result['step_1t']['speedup']['median']:.2f}x"
                f"{result['step_1t']['speedup']['note']}"
            )
    args.out.write_text(json.dumps(results, indent=1) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", choices=["converted", "scratch", "report"], required=True)
    parser.add_argument("--data-dir", type=Path, help="default: $CCINFER_DATA, else ./data")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--out", type=Path, default=HERE / "convert-dense.json")
    parser.add_argument("--gate", choices=["lowrank", "block"], default="lowrank")
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--density", type=float, default=0.5, help="target z density")
    parser.add_argument("--tag", help="the configuration's name (default from gate, rank, density)")
    parser.add_argument("--tags", nargs="+", help="--run report: the configurations to report")
    parser.add_argument("--updates", type=int, default=2500)
    parser.add_argument("--anneal", type=int, default=1000, help="updates to reach the density")
    parser.add_argument("--distil", type=float, default=0.5, help="weight of the teacher")
    parser.add_argument(
        "--teacher",
        action=argparse.BooleanOptionalAction,
        help="distil from the dense model (default: the converted run does, scratch does not)",
    )
    parser.add_argument("--reset-every", type=int, default=20, help="updates between resets")
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args(argv)
    args.tag = args.tag or f"{args.gate}-r{args.rank}-d{args.density:g}"
    if args.run == "report" and not args.tags:
        parser.error("--run report needs --tags")
    report(args) if args.run == "report" else train(args)


if __name__ == "__main__":
    main()
