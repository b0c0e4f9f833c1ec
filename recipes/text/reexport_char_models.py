"""Rewrite trainer exports from their checkpoints with the current export code.

``train_char_models.py`` writes ``<name>.safetensors`` (the inference arrays of
``CharLM.export_numpy``) when a run ends. When the export rules change after a run (for
example gates closed at inference, `ccinfer.train.gru.CondGRUCell.closed_gates`), this script
rebuilds the arrays from ``checkpoints/<name>.ckpt.*`` of the same run, keeping the file's
metadata (config, updates, the trainer's BPC), so the engine measures what the current
training module computes in eval mode. The checkpoint must be at the export's update.

Gates batch normalisation has (almost) only seen at 0 (`CondGRUCell.closed_gates`) are
closed at inference or left to the running statistics, whichever gives the lower eval-mode
BPC on 64,000 symbols of the *training* text (``--close-unseen auto``; the validation text
plays no part); the choice and both BPCs go into the metadata (``close_unseen_gates``).

    python recipes/text/reexport_char_models.py build/artifacts/grid build/artifacts/text
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.numpy import save_file
from safetensors.torch import load_file

from ccinfer.datasets import load_text, text_split
from ccinfer.train.gru import CharLM, evaluate_char_lm

CALIBRATION = slice(1_000_000, 1_064_000)  # training symbols for the closed-gate choice


def choose_closed_gates(model: CharLM, calibration, mode: str) -> dict:
    """Apply ``mode`` (no / yes / auto) to `model`; returns what was chosen and why."""
    counts = model.close_unseen_gates(False)
    if mode == "no" or not any(counts):
        return {"gates": counts, "closed": False}
    if mode == "yes":
        model.close_unseen_gates(True)
        return {"gates": counts, "closed": True}
    running = evaluate_char_lm(model, calibration)["bpc"]
    model.close_unseen_gates(True)
    closed = evaluate_char_lm(model, calibration)["bpc"]
    if running <= closed:
        model.close_unseen_gates(False)
    return {
        "gates": counts,
        "closed": closed < running,
        "train_bpc_running_stats": round(running, 4),
        "train_bpc_closed": round(closed, 4),
    }


def reexport(export: Path, calibration, mode: str) -> dict | None:
    """Rewrite one export from its checkpoint; None if there is no checkpoint for it."""
    ckpt = export.parent / "checkpoints" / f"{export.stem}.ckpt"
    if not ckpt.with_suffix(".ckpt.json").exists():
        return None
    with safe_open(str(export), "np") as f:
        meta = dict(f.metadata())
    step = json.loads(ckpt.with_suffix(".ckpt.json").read_text())["step"]
    if str(step) != meta["updates"]:
        raise SystemExit(f"{export}: export at {meta['updates']} updates, checkpoint at {step}")
    config = json.loads(meta["config"])
    model = CharLM(
        config["hidden_size"],
        config["num_layers"],
        config["gate"],
        config["rank"],
        config["shift"],
        config["vocab_size"],
        affine=config.get("affine", False),
    )
    tensors = load_file(str(ckpt.with_suffix(".ckpt.safetensors")))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    model.eval()
    choice = choose_closed_gates(model, calibration, mode) if config["gate"] != "dense" else {}
    meta["close_unseen_gates"] = json.dumps(choice)
    save_file(model.export_numpy(), str(export), metadata=meta)
    return choice


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", type=Path, nargs="+", help="trainer output directories")
    parser.add_argument("--data-dir", type=Path, help="default: $CCINFER_DATA, else ./data")
    parser.add_argument("--corpus", default="both")
    parser.add_argument("--close-unseen", choices=["auto", "no", "yes"], default="auto")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    train, _ = text_split(load_text(args.data_dir, args.corpus))
    calibration = train[CALIBRATION]
    for directory in args.dirs:
        for export in sorted(directory.glob("char-*.safetensors")):
            choice = reexport(export, calibration, args.close_unseen)
            print(
                export.name, "no checkpoint, left as is" if choice is None else choice, flush=True
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
