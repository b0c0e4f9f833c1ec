"""The ccinfer model file: safetensors with a checked header (models/FORMAT.md).

A model file is read in two steps. First its header is parsed and checked by this module,
before any tensor memory is allocated: size limits, dtypes, shapes against byte ranges, the
format name and version, the model kind and its JSON config. Only then are the tensors read
(by the safetensors library, which runs no code from the file: there is no pickle anywhere)
and checked for NaN and Inf. Anything wrong is a ``ValueError`` naming the file and the
problem.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT_NAME = "ccinfer"
FORMAT_VERSION = 1
# A header is a few kB of JSON; anything near this is not a ccinfer model.
MAX_HEADER_BYTES = 16 * 1024 * 1024
# Tensors are promoted to float32 at load (float16 -> float32 is exact); nothing else is read.
_DTYPES = {"F32": np.float32, "F16": np.float16}


@dataclass
class ModelFile:
    """The checked contents of a model file.

    Attributes
    ----------
    kind : str
        The model class that reads it (``"CondMLP"``, ...).
    config : dict
        Architecture and hyper-parameters (the ``config`` metadata entry, JSON).
    tensors : dict of str to numpy.ndarray
        float32, C-contiguous, finite.
    card : dict
        Free-form strings (training set-up, accuracy); never interpreted.
    stored : dict of str to str
        The dtype each tensor has in the file (``"F32"`` or ``"F16"``; empty for a model
        file made in memory).
    """

    kind: str
    config: dict
    tensors: dict[str, np.ndarray]
    card: dict[str, str] = field(default_factory=dict)
    stored: dict[str, str] = field(default_factory=dict)


def _fail(path, what: str) -> ValueError:
    return ValueError(f"ccinfer.load: {path}: {what}")


def read_header(path: str | os.PathLike) -> tuple[dict, dict[str, dict]]:
    """Parse and check a safetensors header without reading tensor data.

    Returns
    -------
    metadata : dict of str to str
    entries : dict of tensor name to {"dtype", "shape", "data_offsets"}
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                raise _fail(path, f"file is {size} bytes, too short for a safetensors header")
            (header_len,) = struct.unpack("<Q", prefix)
            if header_len > MAX_HEADER_BYTES or 8 + header_len > size:
                raise _fail(
                    path,
                    f"header declares {header_len} bytes but the file has "
                    f"{size} (truncated or not a safetensors file)",
                )
            raw = f.read(header_len)
    except OSError as e:
        raise ValueError(f"ccinfer.load: cannot read {path}: {e.strerror}") from e
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _fail(path, f"header is not valid JSON ({e})") from e
    if not isinstance(header, dict):
        raise _fail(path, "header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise _fail(path, "__metadata__ must map strings to strings")
    data_bytes = size - 8 - header_len
    for name, entry in header.items():
        _check_entry(path, name, entry, data_bytes)
    return metadata, header


def _check_entry(path, name: str, entry, data_bytes: int) -> None:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _fail(path, f"tensor {name!r}: malformed header entry {entry!r}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _DTYPES:
        raise _fail(
            path,
            f"tensor {name!r}: dtype {dtype} is not supported "
            f"(expected one of {', '.join(_DTYPES)})",
        )
    if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise _fail(path, f"tensor {name!r}: bad shape {shape!r}")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) for o in offsets)
        and 0 <= offsets[0] <= offsets[1]
    ):
        raise _fail(path, f"tensor {name!r}: bad data_offsets {offsets!r}")
    nbytes = int(np.prod(shape, dtype=object)) * np.dtype(_DTYPES[dtype]).itemsize
    if offsets[1] > data_bytes:
        raise _fail(
            path,
            f"tensor {name!r}: data ends at byte {offsets[1]} but the file holds "
            f"{data_bytes} bytes of data (truncated?)",
        )
    if offsets[1] - offsets[0] != nbytes:
        raise _fail(
            path,
            f"tensor {name!r}: shape {shape} {dtype} needs {nbytes} bytes, "
            f"header gives {offsets[1] - offsets[0]}",
        )


def read_model_file(path: str | os.PathLike) -> ModelFile:
    """Read and check a ccinfer model file (see models/FORMAT.md)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path)
    metadata, _ = read_header(path)
    if metadata.get("format") != FORMAT_NAME:
        raise _fail(
            path,
            f"not a ccinfer model (metadata 'format' is "
            f"{metadata.get('format')!r}, expected {FORMAT_NAME!r})",
        )
    version = metadata.get("format_version", "")
    if not version.isdigit() or int(version) > FORMAT_VERSION or int(version) < 1:
        raise _fail(
            path,
            f"format_version {version!r} is not supported (this ccinfer reads "
            f"versions 1..{FORMAT_VERSION})",
        )
    kind = metadata.get("model", "")
    if kind not in _READERS:
        raise _fail(path, f"unknown model kind {kind!r} (known: {', '.join(sorted(_READERS))})")
    try:
        config = json.loads(metadata.get("config", ""))
    except json.JSONDecodeError as e:
        raise _fail(path, f"metadata 'config' is not valid JSON ({e})") from e
    if not isinstance(config, dict):
        raise _fail(path, "metadata 'config' must be a JSON object")
    try:
        raw = load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise _fail(path, f"cannot read tensors ({e})") from e
    tensors, stored = {}, {}
    for name, value in raw.items():
        stored[name] = "F16" if value.dtype == np.float16 else "F32"
        value = np.ascontiguousarray(value, dtype=np.float32)
        if not np.isfinite(value).all():
            raise _fail(path, f"tensor {name!r} contains NaN or Inf")
        tensors[name] = value
    card = {k[5:]: v for k, v in metadata.items() if k.startswith("card.")}
    return ModelFile(kind=kind, config=config, tensors=tensors, card=card, stored=stored)


def write_model_file(
    path: str | os.PathLike, model_file: ModelFile, store_dtype: type = np.float32
) -> None:
    """Write a model file. ``store_dtype`` float16 halves the size (rounding the weights once;
    the loaded model then computes in float32 on exactly the rounded values)."""
    from safetensors.numpy import save_file

    if store_dtype not in (np.float32, np.float16):
        raise ValueError(f"save: store_dtype must be float32 or float16, got {store_dtype}")
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "model": model_file.kind,
        "config": json.dumps(model_file.config, sort_keys=True),
    }
    metadata.update({f"card.{k}": str(v) for k, v in model_file.card.items()})
    tensors = {
        name: np.ascontiguousarray(t, dtype=store_dtype) for name, t in model_file.tensors.items()
    }
    save_file(tensors, str(path), metadata=metadata)


_READERS: dict[str, Callable[[ModelFile], object]] = {}


def register_model(kind: str, reader: Callable[[ModelFile], object]) -> None:
    """Register the function that builds a model of ``kind`` from a checked ModelFile."""
    _READERS[kind] = reader


def load(path: str | os.PathLike):
    """Load any ccinfer model file, or a shipped model by name (``ccinfer.shipped_models()``),
    and return the model object of the right class.

    Raises
    ------
    FileNotFoundError
        If the file does not exist, or the name is not a shipped model (listing those).
    ValueError
        For a malformed, truncated or hostile file, naming the problem.
    """
    from .shipped import resolve

    model_file = read_model_file(resolve(path))
    return _READERS[model_file.kind](model_file)


def require_tensor(model_file: ModelFile, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A tensor the model needs, with its exact shape, or a ValueError naming it."""
    tensor = model_file.tensors.get(name)
    if tensor is None:
        raise ValueError(f"ccinfer.load: {model_file.kind} file is missing tensor {name!r}")
    if tensor.shape != tuple(shape):
        raise ValueError(
            f"ccinfer.load: tensor {name!r} has shape {tensor.shape}, the config "
            f"needs {tuple(shape)}"
        )
    return tensor


def check_no_extra_tensors(model_file: ModelFile, used: Mapping[str, object]) -> None:
    """Unknown tensors mean a file from another tool or version: refuse rather than ignore."""
    extra = sorted(set(model_file.tensors) - set(used))
    if extra:
        raise ValueError(f"ccinfer.load: {model_file.kind} file has unexpected tensors {extra[:5]}")
