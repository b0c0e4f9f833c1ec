"""The models and the data sample that ship with ccinfer, by name.

``ccinfer.load("mnist-50-35-25")`` loads a shipped model; ``ccinfer.shipped_models()`` lists
the ones this installation has. The wheel carries the models the demo runs and the small
ones; the full set (with the dense 27-1024-1024-27 control and the ablations) lives in
``models/`` of the source repository, where a checkout (editable install) finds it too.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

REPOSITORY = "https://github.com/ccinfer/ccinfer"

# name -> (file under models/, description, in the wheel). Files not in the wheel are
# excluded by CMakeLists.txt (install(DIRECTORY models/ ...)); keep both lists in step.
MODELS: dict[str, tuple[str, str, bool]] = {
    "mnist-50-35-25": (
        "mnist/mnist-50-35-25.safetensors",
        "CondMLP 784-1000-600-400-10 with sign estimators of ranks 50, 35, 25 (MNIST)",
        True,
    ),
    "mnist-50-35-25-inloop": (
        "mnist/mnist-50-35-25-inloop.safetensors",
        "CondMLP of the same shape, estimators trained in the loop (ablation)",
        False,
    ),
    "mnist-tree-k4": (
        "tree/mnist-tree-k4.safetensors",
        "Sequential with a tree-gated layer of depth 4 (MNIST, Cho & Bengio)",
        True,
    ),
    "char-dense-h256": (
        "text/char-dense-h256.safetensors",
        "GRUStack 27-256-27, dense control (character model)",
        True,
    ),
    "char-unstructured-h256": (
        "text/char-unstructured-h256.safetensors",
        "GRUStack 27-256-27, rank-16 z gate, unit-wise sparse updates",
        True,
    ),
    "char-block-h256": (
        "text/char-block-h256.safetensors",
        "GRUStack 27-256-27, one z gate per block of 16 units",
        True,
    ),
    "char-block-h1024-l2": (
        "text/char-block-h1024-l2.safetensors",
        "GRUStack 27-1024-1024-27 (float16), block 16 / gating 64",
        True,
    ),
    "char-unstructured-h1024-l2": (
        "text/char-unstructured-h1024-l2.safetensors",
        "GRUStack 27-1024-1024-27 (float16), rank-16 z gate",
        False,
    ),
    "char-dense-h1024-l2": (
        "text/char-dense-h1024-l2.safetensors",
        "GRUStack 27-1024-1024-27 (float16), dense control",
        False,
    ),
}

SAMPLE = Path(__file__).parent / "data" / "sample.npz"


def models_dir() -> Path | None:
    """The shipped models: inside the installed package, or models/ of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "models", here.parents[1] / "models"):
        if (candidate / MODELS["mnist-50-35-25"][0]).is_file():
            return candidate
    return None


def shipped_models() -> dict[str, str]:
    """The shipped models this installation has, by name.

    Returns
    -------
    dict of str to str
        name -> one-line description, for every model whose file is present (a wheel has the
        models marked as in the wheel; a source checkout has them all). Pass a name to
        `ccinfer.load`.
    """
    root = models_dir()
    if root is None:
        return {}
    return {name: m[1] for name, m in MODELS.items() if (root / m[0]).is_file()}


def model_path(name: str) -> Path:
    """The file of a shipped model.

    Raises
    ------
    FileNotFoundError
        If `name` is not a shipped model, or this installation lacks its file (the message
        lists the names it has and says where the full set lives).
    """
    have = shipped_models()
    if name in have:
        return models_dir() / MODELS[name][0]  # type: ignore[operator]
    if name in MODELS:
        raise FileNotFoundError(
            f"ccinfer.load: shipped model {name!r} is not in this installation (the wheel "
            f"carries {', '.join(have) or 'none'}); the full set is in models/ of the source "
            f"repository, {REPOSITORY}"
        )
    raise FileNotFoundError(
        f"ccinfer.load: {name!r} is neither a file nor a shipped model name; shipped models: "
        f"{', '.join(have) or 'none in this installation'}"
    )


def resolve(path: str | os.PathLike) -> Path:
    """What `ccinfer.load` reads: a shipped model's file for a name, else the path itself.

    A string that names no existing file and has no directory part or suffix is taken as a
    shipped model's name. Raises FileNotFoundError for a missing file or an unknown name.
    """
    if isinstance(path, str) and path in MODELS and not Path(path).exists():
        return model_path(path)
    p = Path(path)
    if p.exists():
        return p  # anything but a model file is read_header's ValueError
    if isinstance(path, str) and p.name == path and not p.suffix:
        return model_path(path)  # an unknown name: the error lists the known ones
    raise FileNotFoundError(f"ccinfer.load: no such file: {os.fspath(path)}")


def load_sample() -> dict[str, np.ndarray]:
    """The data sample shipped in the package (built by tools/make_sample.py).

    Returns
    -------
    dict
        ``images`` float32 (1000, 784), pixels / 255 as `datasets.load_mnist` gives them;
        ``labels`` int64 (1000,); ``text`` uint8 (30000,), held-out symbol ids.
    """
    with np.load(SAMPLE) as f:
        images = f["mnist_images"].reshape(len(f["mnist_images"]), -1)
        return {
            "images": images.astype(np.float32) / np.float32(255.0),
            "labels": f["mnist_labels"].astype(np.int64),
            "text": f["text_ids"].copy(),
        }
