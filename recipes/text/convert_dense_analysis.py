"""How far the shipped dense character GRU is from a conditional one, before any fine-tuning.

Two measurements on ``models/text/char-dense-h256.safetensors`` (27-256-27) that explain the
fine-tuning results of `convert_dense.py` (models/text/MODEL_CARD.md, "Converting the dense
model"):

``converted``
    `conditional_from_dense` at several ranks of the low-rank z path and for the block gate,
    calibrated on the training text; each converted model's BPC and z density in the engine
    (one stream over the whole held-out text) and its gate error, with no training.
``oracle``
    `update_budget` on the held-out text: the dense model run with only part of its state
    updates kept at every step, those largest in ``|Δh| = (1 - z) |n - h|`` (an oracle: no
    gate can know ``n - h`` before computing it) or in the fraction of new state ``1 - z``
    (what the dense gate itself ranks), and the distribution of that fraction.

From the repository root::

    python recipes/text/convert_dense_analysis.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

import ccinfer
from ccinfer.char_lm import bits_per_char
from ccinfer.train.gru import (
    CharLM,
    conditional_from_dense,
    dense_char_lm,
    load_char_splits,
    update_budget,
)

HERE = Path(__file__).resolve().parent
DENSE = HERE.parents[1] / "models" / "text" / "char-dense-h256.safetensors"


def converted(dense: CharLM, train: np.ndarray, valid: np.ndarray, configs) -> list[dict]:
    rows = []
    for gate, rank in configs:
        model, info = conditional_from_dense(dense, train, gate, rank)
        stack = ccinfer.GRUStack.from_char_lm(model)
        stack.reset_stats()
        bpc = bits_per_char(stack, valid)
        rows.append(
            {
                "gate": gate,
                "rank": rank,
                "bpc": bpc,
                "z_density": stack.stats["layers"][0]["z_density"],
                "gate_error": info["gate_error"][0],
                "svd_energy": info["svd_energy"] and info["svd_energy"][0],
            }
        )
        print(f"{gate} {rank}: {bpc:.4f} BPC, z {rows[-1]['z_density']:.3f}")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="default: $CCINFER_DATA, else ./data")
    parser.add_argument("--out", type=Path, default=HERE / "convert-dense-analysis.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    train, valid = load_char_splits(args.data_dir, "both")
    dense_stack = ccinfer.load(DENSE)
    dense = dense_char_lm(dense_stack)
    configs = [("lowrank", 256), ("lowrank", 128), ("lowrank", 64), ("lowrank", 16), ("block", 16)]
    result = {
        "dense": str(DENSE.relative_to(HERE.parents[1])),
        "dense_bpc": bits_per_char(dense_stack, valid),
        "converted": converted(dense, train, valid, configs),
        "oracle": update_budget(dense, valid, [1.0, 0.8, 0.5, 0.3], n_streams=64, steps=500),
    }
    for row in result["oracle"]["bpc"]:
        print(f"kept {row['kept']}: {row['by_update']:.3f} by |dh|, {row['by_fraction']:.3f}")
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
