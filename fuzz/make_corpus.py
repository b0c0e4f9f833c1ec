"""Writes the loader fuzzer's seed corpus (fuzz/corpus/): small synthetic models of every kind
and storage, and the headers of shipped models (their tensor data cut off, so the files stay
small; the reader refuses them as truncated, after parsing the whole header).

    python fuzz/make_corpus.py
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

import ccinfer

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent / "models"


def gru_layer(rng, kind, d, h, r):
    g = 3 if kind == "dense" else 2
    arrays = {
        "kind": kind,
        "W_ih": rng.standard_normal((g * h, d), dtype=np.float32),
        "W_hh": rng.standard_normal((g * h, h), dtype=np.float32),
        "b_ih": rng.standard_normal(g * h, dtype=np.float32),
        "b_hh": rng.standard_normal(g * h, dtype=np.float32),
    }
    if kind != "dense":
        arrays.update(
            W_zl=rng.standard_normal((r, d), dtype=np.float32),
            U_zl=rng.standard_normal((r, h), dtype=np.float32),
            b_zl=rng.standard_normal(r, dtype=np.float32),
        )
    if kind == "lowrank":
        arrays.update(
            W_z=rng.standard_normal((h, r), dtype=np.float32), b_z=np.zeros(h, np.float32)
        )
    elif kind == "block":
        arrays.update(z_scale=np.ones(r, np.float32), z_shift=np.zeros(r, np.float32))
    return arrays


def main() -> None:
    rng = np.random.default_rng(19)
    out = HERE / "corpus"
    out.mkdir(exist_ok=True)
    W = [
        rng.standard_normal((5, 4), dtype=np.float32),
        rng.standard_normal((3, 5), dtype=np.float32),
    ]
    b = [rng.standard_normal(5, dtype=np.float32), rng.standard_normal(3, dtype=np.float32)]
    mlp = ccinfer.CondMLP.from_dense(W, b, ranks=[2], tau=0.25)
    mlp.save(out / "cond_mlp.safetensors")
    mlp.save(out / "cond_mlp_f16.safetensors", store_dtype=np.float16)
    ccinfer.CondMLP(W, b).save(out / "dense_mlp.safetensors")

    table = rng.standard_normal((4, 7, 3), dtype=np.float32)
    threshold = ccinfer.TreeGatedLinear(table, path="sliding", gate_units=[0, 1, 3], tau=0.1)
    threshold.save(out / "tree_threshold.safetensors")
    projection = ccinfer.TreeGatedLinear(
        table, gate_weight=rng.standard_normal((2, 4), dtype=np.float32), activation="relu"
    )
    projection.save(out / "tree_projection.safetensors")
    seq = ccinfer.Sequential(
        [
            ccinfer.CondMLP([W[0].T.copy()], [np.zeros(4, np.float32)]),
            "relu",
            threshold,
            ccinfer.CondMLP([W[1][:, :3].copy()], [b[1]]),
        ]
    )
    seq.save(out / "sequential.safetensors")

    out_layer = (rng.standard_normal((6, 8), dtype=np.float32), np.zeros(6, np.float32))
    layers = [gru_layer(rng, "lowrank", 6, 8, 2), gru_layer(rng, "block", 8, 8, 4)]
    ccinfer.GRUStack(layers, out_layer, token_input=True).save(out / "gru_tokens.safetensors")
    dense = [gru_layer(rng, "dense", 6, 8, 0)]
    ccinfer.GRUStack(dense, out_layer, token_input=False).save(
        out / "gru_vector_f16.safetensors", store_dtype=np.float16
    )

    for path in (
        MODELS / "mnist" / "mnist-50-35-25.safetensors",
        MODELS / "tree" / "mnist-tree-k4.safetensors",
        MODELS / "text" / "char-unstructured-h256.safetensors",
        MODELS / "text" / "char-block-h1024-l2.safetensors",
    ):
        data = path.read_bytes()
        (n,) = struct.unpack("<Q", data[:8])
        (out / f"header-{path.stem}.safetensors").write_bytes(data[: 8 + n])
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"{len(list(out.iterdir()))} files, {total} bytes in {out}")


if __name__ == "__main__":
    main()
