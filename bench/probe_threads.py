"""How ccinfer's OpenMP pool and OpenBLAS's pthread pool share two cores.

Both pools keep idle threads spinning for a while after a call (libgomp: GOMP_SPINCOUNT
iterations, OpenBLAS: 2^28 cycles). When conditional kernels (OpenMP) and dense OpenBLAS calls
alternate, as in every interleaved benchmark and in a model that mixes both, a spinning idle
thread of one pool sits on the core the other pool needs. This probe times dense sgemv and
cond_gemv interleaved at 2 threads under several libgomp wait policies, each in a fresh
process (libgomp reads them at load), so the choice in ``ccinfer/__init__.py`` is measured,
not guessed. Also printed: each kernel alone, which is what the baseline must match.

Usage: python bench/probe_threads.py [--rounds 400]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

POLICIES = {
    "libgomp default": {"GOMP_SPINCOUNT": "300000"},
    "spin 10k": {"GOMP_SPINCOUNT": "10000"},
    "spin 1k": {"GOMP_SPINCOUNT": "1000"},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    # OpenBLAS idle threads sleep after 2^4 cycles instead of 2^28: changes the baseline too.
    "libgomp default, OpenBLAS timeout 2^4": {
        "GOMP_SPINCOUNT": "300000",
        "OPENBLAS_THREAD_TIMEOUT": "4",
    },
    "passive, OpenBLAS timeout 2^4": {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"},
}

CHILD = r"""
import json, sys
import numpy as np
import ccinfer
from ccinfer import kernels, timing

rounds = int(sys.argv[1])
ccinfer.set_num_threads(2)
rng = np.random.default_rng(0)
out = {}
for m, k, density in ((1024, 1024, 0.25), (3072, 1051, 0.25), (4096, 4096, 0.25)):
    W = rng.standard_normal((m, k), dtype=np.float32)
    x = rng.standard_normal(k, dtype=np.float32)
    pool = [np.sort(rng.choice(m, int(density * m), replace=False)).astype(np.int32)
            for _ in range(64)]
    y = np.zeros(m, np.float32)
    dense = lambda i: kernels.dense_gemv(W, x, out=y)
    cond = lambda i: kernels.cond_gemv(W, x, pool[i % 64], out=y)
    mixed = timing.interleaved({"dense": dense, "cond": cond}, rounds)
    alone_dense = timing.interleaved({"dense": dense}, rounds)["dense"]
    alone_cond = timing.interleaved({"cond": cond}, rounds)["cond"]
    out[f"{m}x{k} a={density}"] = {
        "dense interleaved": timing.summarize(mixed["dense"])["median_us"],
        "cond interleaved": timing.summarize(mixed["cond"])["median_us"],
        "dense alone": timing.summarize(alone_dense)["median_us"],
        "cond alone": timing.summarize(alone_cond)["median_us"],
    }
print(json.dumps(out))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    args = parser.parse_args()
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT")
    }
    print("2 threads, median us per call\n")
    print("| policy | case | dense interleaved | cond interleaved | dense alone | cond alone |")
    print("|---|---|---|---|---|---|")
    for name, env in POLICIES.items():
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(args.rounds)],
            env={**base, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        for case, t in json.loads(proc.stdout).items():
            print(
                f"| {name} | {case} | {t['dense interleaved']:.1f} | "
                f"{t['cond interleaved']:.1f} | {t['dense alone']:.1f} | "
                f"{t['cond alone']:.1f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
