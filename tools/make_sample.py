"""Build the sample that ships inside the package (python/ccinfer/data/sample.npz).

``python -m ccinfer demo`` runs on it when no ``--data-dir`` is given, so the README's first
command works from any fresh clone or wheel install. It holds

- ``mnist_images`` (1000, 28, 28) uint8 and ``mnist_labels`` (1000,) uint8: the first 1,000
  digits of the MNIST test set, as stored in the idx files;
- ``text_ids`` (30000,) uint8: the first 30,000 symbols of the held-out text the character
  models were evaluated on (``datasets.text_split(load_text(data_dir, "both"))[1]``: the last
  5% of Austen + King James Bible, text8-style cleaning), symbol ids of ``datasets.VOCAB``.

Usage: python tools/make_sample.py DATA_DIR [--out python/ccinfer/data/sample.npz]
where DATA_DIR holds mnist/ and text/ (the layout ``ccinfer demo --help`` describes).
The output is deterministic: rerunning on the same data gives the same arrays.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ccinfer.datasets import load_mnist, load_text, text_split

DIGITS = 1000
SYMBOLS = 30_000
OUT = Path(__file__).resolve().parents[1] / "python" / "ccinfer" / "data" / "sample.npz"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data_dir", help="folder holding mnist/ and text/")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    X, y = load_mnist(args.data_dir, "test")
    # load_mnist gives pixels / 255 in float32; *255 and rounding recovers the stored bytes.
    images = np.rint(X[:DIGITS] * 255).astype(np.uint8).reshape(DIGITS, 28, 28)
    _, valid = text_split(load_text(args.data_dir, "both"))
    np.savez_compressed(
        args.out,
        mnist_images=images,
        mnist_labels=y[:DIGITS].astype(np.uint8),
        text_ids=np.ascontiguousarray(valid[:SYMBOLS], dtype=np.uint8),
    )
    print(f"{args.out}: {Path(args.out).stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
