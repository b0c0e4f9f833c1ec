"""Model files read by the C++ loader (cpp/src/format, the one the C API uses).

``read_model_file`` returns what :func:`ccinfer.io.read_model_file` returns; the file is
checked by C++ (container, metadata, the kind's config and tensors) and the model object is
then built by the same Python reader. Making it ``ccinfer.load``'s reader is a one-line switch
in io.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import _core
from .io import _READERS, ModelFile


def read_model_bytes(data: bytes, where: str = "<memory>") -> ModelFile:
    """Check and read a model file's bytes (``ValueError`` naming ``where`` and the problem)."""
    if not isinstance(data, bytes):
        raise ValueError(f"read_model_bytes: data must be bytes, got {type(data).__name__}")
    kind, config, tensors, card, stored = _core.read_model_bytes(data, str(where))
    return ModelFile(
        kind=kind, config=json.loads(config), tensors=tensors, card=card, stored=stored
    )


def read_model_file(path: str | os.PathLike) -> ModelFile:
    """:func:`ccinfer.io.read_model_file` on the C++ loader."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"ccinfer.load: cannot read {path}: {e.strerror}") from e
    return read_model_bytes(data, str(path))


def load(path: str | os.PathLike):
    """:func:`ccinfer.load` on the C++ loader."""
    model_file = read_model_file(path)
    return _READERS[model_file.kind](model_file)
