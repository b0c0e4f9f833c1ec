"""Turn trained character models into GRUStack files and measure them with the engine.

Reads what ``train_char_models.py`` wrote (``<name>.safetensors``: the training module's
``export_numpy()`` arrays, batch norm already folded), builds a ``ccinfer.GRUStack`` from them,
and on the held-out last 5% of the corpus measures with the engine: bits per character (one
stream over the whole validation text, state carried), z density per layer, and the
single-stream step latency against the dense control of the same size, timed interleaved in
one run (DESIGN.md section 4). Writes ``<name>.safetensors`` beside this script and prints a
JSON summary.

    python models/text/export_char_models.py --artifacts /work/artifacts/text
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

import ccinfer
from ccinfer import timing
from ccinfer.datasets import load_text, text_split

HERE = Path(__file__).resolve().parent


def layer_dict(t: dict, i: int, gate: str) -> dict:
    """The GRUStack layer of the training export's layer ``i`` (models/FORMAT.md)."""
    p = f"layers.{i}."
    if gate == "dense":
        return {"kind": "dense", **{k: t[p + k] for k in ("W_ih", "W_hh", "b_ih", "b_hh")}}
    layer = {
        "kind": "lowrank" if gate == "lowrank" else "block",
        "W_ih": np.concatenate([t[p + "W_ir"], t[p + "W_in"]]),
        "W_hh": np.concatenate([t[p + "U_hr"], t[p + "U_hn"]]),
        "b_ih": np.concatenate([t[p + "b_ir"], t[p + "b_in"]]),
        "b_hh": np.concatenate([t[p + "b_hr"], t[p + "b_hn"]]),
        "W_zl": t[p + "W_zl"],
        "U_zl": t[p + "U_zl"],
        "b_zl": t[p + "b_zl"],
    }
    if gate == "lowrank":
        layer.update(W_z=t[p + "W_z"], b_z=t[p + "b_z"])
    else:
        layer.update(
            zip(("z_scale", "z_shift"), block_affine(t[p + "W_z"], t[p + "b_z"]), strict=True)
        )
    return layer


def block_affine(W_z: np.ndarray, b_z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-block scale and shift from the trainer's folded (h, g) block expansion: unit i of
    block j has z = cliptanh(W_z[i, j] z^lr[j] + b_z[i]); the engine's block kind needs one
    scale and shift per block, so every unit of a block must carry the same pair."""
    h, g = W_z.shape
    block = h // g
    expected = np.repeat(np.eye(g, dtype=bool), block, axis=0)
    if np.any(W_z[~expected] != 0):
        raise ValueError("block W_z is not a block expansion (non-zero off its block)")
    scale = W_z[expected].reshape(g, block)
    shift = b_z.reshape(g, block)
    if np.any(scale != scale[:, :1]) or np.any(shift != shift[:, :1]):
        raise ValueError("block W_z / b_z differ within a block: the block structure is lost")
    return scale[:, 0].copy(), shift[:, 0].copy()


def convert(path: Path) -> tuple[ccinfer.GRUStack, dict]:
    meta = safe_open(str(path), "np").metadata()
    config = json.loads(meta["config"])
    t = load_file(str(path))
    layers = [layer_dict(t, i, config["gate"]) for i in range(config["num_layers"])]
    model = ccinfer.GRUStack.from_numpy(
        layers, (t["output.weight"], t["output.bias"]), token_input=True
    )
    return model, {**meta, "config": config}


def bits_per_char(model: ccinfer.GRUStack, ids: np.ndarray) -> float:
    """Cross-entropy of predicting ids[t + 1] from ids[:t + 1], in bits, one stream."""
    logits = model.run(ids[:-1].astype(np.int32)).astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(ids) - 1), ids[1:]].mean() / np.log(2))


def stepper(model: ccinfer.GRUStack, tokens: np.ndarray):
    """fn(i) stepping one stream of ``model`` through ``tokens`` (for timing.compare)."""
    state = model.new_state()
    ids = [int(t) for t in tokens]
    return lambda i: model.step(ids[i % len(ids)], state=state)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=Path("/work/artifacts/text"))
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--corpus", default="both")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)

    _, valid = text_split(load_text(args.data_dir, args.corpus))
    results, models = {}, {}
    for path in sorted(args.artifacts.glob("char-*.safetensors")):
        model, meta = convert(path)
        model.reset_stats()
        bpc = bits_per_char(model, valid)
        stats = model.stats
        results[path.stem] = {
            "config": meta["config"],
            "updates": int(meta["updates"]),
            "valid_bpc_training": float(meta["valid_bpc"]),
            "valid_bpc_engine": round(bpc, 4),
            "stats": stats,
        }
        model.card = {"corpus": args.corpus, "updates": meta["updates"], "valid_bpc": f"{bpc:.4f}"}
        model.save(HERE / f"{path.stem}.safetensors", card=model.card)
        models[path.stem] = model

    dense = next((m for name, m in models.items() if "dense" in name), None)
    tokens = valid[:20000].astype(np.int32)
    for name, model in models.items():
        if dense is None or model is dense:
            continue
        for threads in (1, 2):
            ccinfer.set_num_threads(threads)
            t = timing.compare(
                {"dense": stepper(dense, tokens), "conditional": stepper(model, tokens)},
                args.rounds,
                20,
            )
            results[name][f"step_{threads}t"] = {
                "dense_us": timing.summarize(t["dense"])["median_us"],
                "conditional_us": timing.summarize(t["conditional"])["median_us"],
                "speedup": timing.paired_speedup(t["dense"], t["conditional"]),
            }
    print(json.dumps(results, indent=1, default=float))
    (HERE / "results.json").write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
