"""Turn trained character models into GRUStack files and measure them with the engine.

Reads what ``train_char_models.py`` wrote (``<name>.safetensors``: the training module's
``export_numpy()`` arrays, batch norm already folded), builds a ``ccinfer.GRUStack`` from them,
and on the held-out last 5% of the corpus measures with the engine: bits per character (one
stream over the whole validation text, state carried), z density per layer, and the
single-stream step latency against the dense control of the same size, timed interleaved in
one run (docs/design.md section 4), with the weights stored as shipped (float16 files load with
``weights="float16"``) and, for float16 files, also in float32. Writes ``<name>.safetensors``
to ``models/text/``, the results beside this script, and prints a JSON summary.

    python recipes/text/export_char_models.py --artifacts build/artifacts/text
    python recipes/text/export_char_models.py --artifacts build/artifacts/text1024 \
        --store-dtype float16 --out recipes/text/results-h1024.json

(a model without a trained dense control of its size is timed against a dense stack of the
same shape with random weights: a dense step's time does not depend on the values).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import ccinfer
from ccinfer import timing
from ccinfer.char_lm import bits_per_char, dense_like, load_char_lm_export, stream_stepper
from ccinfer.datasets import load_text, text_split

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MODELS = REPO / "models" / "text"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=REPO / "build" / "artifacts" / "text")
    parser.add_argument("--data-dir", type=Path, help="default: $CCINFER_DATA, else ./data")
    parser.add_argument("--corpus", default="both")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--out", type=Path, help="results file (default: results.json here)")
    parser.add_argument(
        "--store-dtype",
        choices=["float32", "float16"],
        default="float32",
        help="dtype of the shipped files (float16 halves them; weights rounded once)",
    )
    args = parser.parse_args(argv)
    store_dtype = np.dtype(args.store_dtype).type

    _, valid = text_split(load_text(args.data_dir, args.corpus))
    results, models = {}, {}
    for path in sorted(args.artifacts.glob("char-*.safetensors")):
        trained, meta = load_char_lm_export(path)
        # Measure the model as shipped: with --store-dtype float16 the weights are rounded
        # once here, and the file's own BPC is the one reported.
        dest = MODELS / f"{path.stem}.safetensors"
        trained.save(dest, card={}, store_dtype=store_dtype)
        model = ccinfer.load(dest)
        model.reset_stats()
        bpc = bits_per_char(model, valid)
        stats = model.stats
        results[path.stem] = {
            "config": meta["config"],
            "updates": int(meta["updates"]),
            "valid_bpc_training": float(meta["valid_bpc"]),
            "valid_bpc_engine": round(bpc, 4),
            "store_dtype": args.store_dtype,
            "stats": stats,
        }
        model.card = {"corpus": args.corpus, "updates": meta["updates"], "valid_bpc": f"{bpc:.4f}"}
        model.save(dest, card=model.card, store_dtype=store_dtype)  # lossless: same values
        models[path.stem] = model

    tokens = valid[:20000].astype(np.int32)
    for name, model in models.items():
        if "dense" in name:
            continue
        # The trained dense control of the same size if there is one, else random weights of
        # the same shape (a dense step's time does not depend on the values).
        shape = [layer["hidden"] for layer in model.layers]
        dense = next(
            (
                m
                for n, m in models.items()
                if "dense" in n and [x["hidden"] for x in m.layers] == shape
            ),
            None,
        )
        results[name]["dense_reference"] = "trained control" if dense else "random weights"
        dense = dense or dense_like(model)
        # As shipped, and for float16 files also with float32 weights (the same values):
        # each timed against a dense step that stores its weights the same way.
        storages = [model.weights] + (["float32"] if model.weights == "float16" else [])
        for weights in storages:
            cond, ref = model.with_weights(weights), dense.with_weights(weights)
            suffix = "" if weights == model.weights else f"_{weights}"
            for threads in (1, 2):
                ccinfer.set_num_threads(threads)
                t = timing.compare(
                    {
                        "dense": stream_stepper(ref, tokens, 200),
                        "conditional": stream_stepper(cond, tokens, 200),
                    },
                    args.rounds,
                    20,
                )
                results[name][f"step_{threads}t{suffix}"] = {
                    "weights": weights,
                    "dense_us": timing.summarize(t["dense"])["median_us"],
                    "conditional_us": timing.summarize(t["conditional"])["median_us"],
                    "speedup": timing.paired_speedup(t["dense"], t["conditional"]),
                }
    print(json.dumps(results, indent=1, default=float))
    (args.out or HERE / "results.json").write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
