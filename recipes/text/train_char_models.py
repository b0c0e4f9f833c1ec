"""Train the conditional-GRU character language models of Davis (2016), chapter 4.

Three models of the same size on the same text, one after another: a dense GRU control, an
unstructured model (low-rank z bottleneck of rank 16, s = -0.75: the dissertation's headline
unstructured configuration) and a block-sparse model (blocks of 16 units, so the gating
dimension is hidden / 16: 64 at the dissertation's hidden size 1024, 16 at hidden 256; s =
-0.25: its best block-sparse trade-off, "16/64"). Truncated BPTT of 50 steps, 64 streams,
Adam 1e-3, state reset every 1000 updates, BPC on the last 5% of each corpus (see
`ccinfer.train.gru`), one PyTorch thread.

For each model ``char-<config>-h<hidden>`` the output directory receives

- ``<name>.safetensors``: the inference arrays of `CharLM.export_numpy` (``layers.{i}.*`` with
  the batch norm folded into ``W_z, b_z``; ``output.weight``, ``output.bias``), float32, with
  the model config in the metadata;
- ``<name>.json``: updates, wall time, final train and validation BPC, z density per layer,
  the training history and settings;
- ``checkpoints/<name>.ckpt.{safetensors,json}``: the resumable training state, written every
  ``--checkpoint-every`` updates. With ``--resume`` a run continues from it (up to
  ``--updates`` in total), so a long training can span sessions.

Needs ccinfer with the ``torch`` extra. Example, from the project root::

    python recipes/text/train_char_models.py --config all --updates 12000 --resume
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from safetensors.numpy import save_file

from ccinfer.datasets import VOCAB
from ccinfer.train.gru import train_char_lm

# Training output stays inside the repository, in the ignored build/ tree.
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "artifacts"

BLOCK_SIZE = 16
CONFIGS = {
    "dense": {"gate": "dense", "shift": 0.0},
    "unstructured": {"gate": "lowrank", "rank": 16, "shift": -0.75},
    "block": {"gate": "block", "block_size": BLOCK_SIZE, "shift": -0.25},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments; default ``sys.argv[1:]``.

    Returns
    -------
    argparse.Namespace
        The parsed options.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="default: $CCINFER_DATA, else ./data")
    parser.add_argument("--out-dir", type=Path, default=ARTIFACTS / "text")
    parser.add_argument("--config", choices=[*CONFIGS, "all"], default="all")
    parser.add_argument("--corpus", choices=["austen", "kjv", "both"], default="both")
    parser.add_argument("--updates", type=int, default=12000, help="total updates per model")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shift", type=float, help="batch-norm shift s (default: the config's)")
    parser.add_argument("--rank", type=int, help="z rank of the unstructured config (default 16)")
    parser.add_argument(
        "--block-size", type=int, help=f"units per gate of the block config (default {BLOCK_SIZE})"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from the checkpoints in --out-dir"
    )
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    return parser.parse_args(argv)


def config_spec(config: str, args: argparse.Namespace) -> dict:
    """The gate settings of one configuration with the command line's overrides applied."""
    spec = dict(CONFIGS[config])
    if args.shift is not None and config != "dense":
        spec["shift"] = args.shift
    if args.rank is not None and "rank" in spec:
        spec["rank"] = args.rank
    if args.block_size is not None and "block_size" in spec:
        spec["block_size"] = args.block_size
    return spec


def model_name(config: str, spec: dict, args: argparse.Namespace) -> str:
    """``char-<config>-h<hidden>[-l<layers>]``, plus the gate settings when any was given on
    the command line (a grid names every cell the same way, defaults included)."""
    name = f"char-{config}-h{args.hidden}" + (f"-l{args.layers}" if args.layers > 1 else "")
    overridden = any(v is not None for v in (args.shift, args.rank, args.block_size))
    if overridden and config != "dense":
        size = f"r{spec['rank']}" if "rank" in spec else f"b{spec['block_size']}"
        name += f"-{size}-s{spec['shift']:g}"
    return name


def main(argv: list[str] | None = None) -> None:
    """Train the selected configurations and write arrays and results.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments; default ``sys.argv[1:]``.
    """
    args = parse_args(argv)
    (args.out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    configs = list(CONFIGS) if args.config == "all" else [args.config]
    for config in configs:
        spec = config_spec(config, args)
        rank = spec.get("rank")
        if "block_size" in spec:
            if args.hidden % spec["block_size"]:
                raise SystemExit(
                    f"--hidden {args.hidden} is not a multiple of {spec['block_size']}"
                )
            rank = args.hidden // spec["block_size"]
        name = model_name(config, spec, args)
        start = time.perf_counter()
        model, metrics = train_char_lm(
            args.data_dir,
            args.corpus,
            hidden=args.hidden,
            layers=args.layers,
            gate=spec["gate"],
            rank=rank,
            shift=spec["shift"],
            updates=args.updates,
            eval_every=args.eval_every,
            checkpoint_path=args.out_dir / "checkpoints" / f"{name}.ckpt",
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
            seed=args.seed,
            progress=not args.no_progress,
        )
        session_seconds = time.perf_counter() - start
        model_config = model.config()
        block_size = args.hidden // rank if spec["gate"] == "block" else None
        save_file(
            model.export_numpy(),
            str(args.out_dir / f"{name}.safetensors"),
            metadata={
                "model": "CharLM",
                "config": json.dumps({**model_config, "block_size": block_size}),
                "vocab": VOCAB,
                "corpus": args.corpus,
                "updates": str(metrics["updates"]),
                "valid_bpc": f"{metrics['valid']['bpc']:.4f}",
            },
        )
        results = {
            "name": name,
            "config": config,
            "model": {**model_config, "block_size": block_size},
            "corpus": args.corpus,
            "updates": metrics["updates"],
            "train_seconds": metrics["train_seconds"],
            "session_wall_seconds": session_seconds,
            "valid_bpc": metrics["valid"]["bpc"],
            "train_bpc": metrics["train"]["bpc"],
            "z_density_valid": metrics["valid"]["z_density"],
            "z_density_train": metrics["train"]["z_density"],
            "valid_symbols": metrics["valid"]["symbols"],
            "train_symbols_evaluated": metrics["train"]["symbols"],
            "settings": metrics["settings"],
            "history": metrics["history"],
            "arrays": f"{name}.safetensors",
        }
        (args.out_dir / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
        density = metrics["valid"]["z_density"]
        print(
            f"{name}: {metrics['updates']} updates, {metrics['train_seconds']:.0f} s training; "
            f"valid {metrics['valid']['bpc']:.4f} BPC, train {metrics['train']['bpc']:.4f} BPC"
            + ("" if density is None else f", z density {[round(d, 4) for d in density]}"),
            flush=True,
        )


if __name__ == "__main__":
    main()
