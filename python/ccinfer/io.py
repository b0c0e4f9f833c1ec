"""The ccinfer model file: safetensors with a checked header (docs/format.md).

A model file is checked by the C++ reader (cpp/src/format, the same code the C API runs):
the header is bounded and checked before any tensor memory is allocated (size limits, dtypes,
shapes against byte ranges, the format name and version, the model kind and its JSON config,
the tensors the config implies), then every value is checked finite. Anything wrong is a
``ValueError`` naming the file and the problem. This module turns the checked contents into a
:class:`ModelFile` for the kind's reader, which only builds the object; it also writes files
(through the safetensors library).
"""

from __future__ import annotations

import json
import math
import os
import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT_NAME = "ccinfer"
FORMAT_VERSION = 1
# The deepest JSON a model file needs is about 6 levels (a Sequential config); the limit is
# checked by a scan before parsing, so a hostile file cannot exhaust the parser's recursion.
MAX_JSON_DEPTH = 32
# JSON integers beyond int64 and non-finite floats are refused while parsing: no field of the
# format can hold one, and refusing them here keeps huge numbers out of every later check.
_INT_LIMIT = 2**63


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


_short = reprlib.Repr()
_short.maxlevel, _short.maxstring, _short.maxother = 3, 60, 60


def short_repr(value) -> str:
    """A bounded repr of a value from a file, for error messages (a hostile value can be
    megabytes long or deeply nested)."""
    return _short.repr(value)


class _Refused(ValueError):
    """A JSON value the format cannot hold, found while parsing."""


_BRACKET_STEP = np.zeros(256, np.int8)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


def _json_depth(text: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in ``text`` outside strings, without recursion.

    Strings are blanked first (they may hold brackets), then the depth is a running sum over
    the bracket bytes. Malformed JSON gives some number; the parser refuses it afterwards.
    """
    body = re.sub(rb'"[^"\\]*(?:\\.[^"\\]*)*"', b'""', text, flags=re.DOTALL)
    step = _BRACKET_STEP[np.frombuffer(body, np.uint8)]
    return int(np.cumsum(step, dtype=np.int64).max(initial=0))


def _parse_int(text: str) -> int:
    if not text.isascii() or len(text) > 20 or not -_INT_LIMIT < int(text) < _INT_LIMIT:
        raise _Refused(f"integer {text[:40]} is out of range (|n| < 2^63)")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:40]} is out of range of a float")
    return value


def _parse_constant(text: str):
    raise _Refused(f"{text} is not a number the format allows")


def _unique_keys(pairs: list) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"key {short_repr(key)} appears twice in one object")
        out[key] = value
    return out


def parse_json(path, text: str | bytes, what: str):
    """Parse the JSON ``what`` of file ``path`` with every bound of the format: nesting depth
    (checked before parsing), integers within int64, finite floats, no NaN/Infinity, no
    duplicate keys. Anything else is a ValueError naming the file and the problem."""
    if isinstance(text, bytes):
        try:  # safetensors headers are UTF-8 (json.loads would also guess UTF-16 and -32)
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _fail(path, f"{what} is not valid JSON (not UTF-8: {e})") from None
    depth = _json_depth(text.encode("utf-8", "surrogatepass"))
    if depth > MAX_JSON_DEPTH:
        raise _fail(path, f"{what} nests {depth} levels deep (at most {MAX_JSON_DEPTH})")
    try:
        return json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
            object_pairs_hook=_unique_keys,
        )
    except _Refused as e:
        raise _fail(path, f"{what}: {e}") from None
    except json.JSONDecodeError as e:
        raise _fail(path, f"{what} is not valid JSON ({e})") from None


# ---- config values ----------------------------------------------------------------------------
# For JSON that is not a model file (a character model's export config, char_lm.py): a value
# of the wrong type or range is a ValueError with the wording the model-file reader uses
# (cpp/src/format/json_checks.cpp has the same helpers). ``what`` names the field.


def _bad(what: str, expected: str, value) -> ValueError:
    return ValueError(f"ccinfer.load: {what} must be {expected}, got {short_repr(value)}")


def config_int(value, what: str, lo: int, hi: int) -> int:
    """``value`` if it is a JSON integer (not a bool) in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _bad(what, f"an integer in [{lo}, {hi}]", value)
    return value


def config_str(value, what: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise _bad(what, f"one of {list(choices)}", value)
    return value


def config_object(
    value, what: str, required: set[str], optional: set[str] | None = frozenset()
) -> dict:
    """``value`` if it is a JSON object with every key of ``required`` and no key outside
    ``required | optional`` (``optional=None``: any other keys)."""
    if not isinstance(value, dict):
        raise _bad(what, "a JSON object", value)
    missing = sorted(required - set(value))
    unknown = [] if optional is None else sorted(set(value) - required - optional)
    if missing or unknown:
        keys = sorted(required) + [f"{k}?" for k in sorted(optional or ())]
        problems = [f"missing {short_repr(missing)}"] if missing else []
        problems += [f"unknown keys {short_repr(unknown)}"] if unknown else []
        raise ValueError(
            f"ccinfer.load: {what} must be an object with the keys {keys}: {', '.join(problems)}"
        )
    return value


def read_model_file(path: str | os.PathLike | bytes) -> ModelFile:
    """Read and check a ccinfer model file (see docs/format.md), or its bytes (named
    ``<bytes>`` in messages).

    Every check runs in the C++ reader (cpp/src/format, the one the C API uses): the
    container, the metadata, the kind's config and tensors, finite values. What comes back is
    float32 and ready for the kind's reader to build its object.
    """
    if isinstance(path, (bytes, bytearray, memoryview)):
        return read_model_bytes(bytes(path), "<bytes>")
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"ccinfer.load: cannot read {path}: {e.strerror}") from e
    return read_model_bytes(data, str(path))


def read_model_bytes(data: bytes, where: str) -> ModelFile:
    """Check and read a model file's bytes (``ValueError`` naming ``where`` and the problem)."""
    from . import _core

    kind, config, tensors, card, stored = _core.read_model_bytes(data, where)
    config = json.loads(config)
    return ModelFile(kind=kind, config=config, tensors=tensors, card=card, stored=stored)


def _serialized(
    model_file: ModelFile, store_dtype: type | None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and metadata of a model file. ``store_dtype`` None keeps each tensor's own
    dtype (float16 stays float16, anything else float32): what pickling needs to restore a
    float16 GRUStack exactly."""
    if store_dtype not in (np.float32, np.float16, None):
        raise ValueError(f"save: store_dtype must be float32 or float16, got {store_dtype}")
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "model": model_file.kind,
        "config": json.dumps(model_file.config, sort_keys=True),
    }
    metadata.update({f"card.{k}": str(v) for k, v in model_file.card.items()})
    tensors = {
        name: np.ascontiguousarray(
            t, dtype=store_dtype or (np.float16 if t.dtype == np.float16 else np.float32)
        )
        for name, t in model_file.tensors.items()
    }
    return tensors, metadata


def write_model_file(
    path: str | os.PathLike, model_file: ModelFile, store_dtype: type | None = np.float32
) -> None:
    """Write a model file. ``store_dtype`` float16 halves the size (rounding the weights once;
    the loaded model then computes in float32 on exactly the rounded values); None keeps each
    tensor's dtype."""
    from safetensors.numpy import save_file

    tensors, metadata = _serialized(model_file, store_dtype)
    save_file(tensors, str(path), metadata=metadata)


def model_file_bytes(model_file: ModelFile, store_dtype: type | None = None) -> bytes:
    """The bytes :func:`write_model_file` would write (``read_model_file`` reads them back)."""
    from safetensors.numpy import save

    tensors, metadata = _serialized(model_file, store_dtype)
    return save(tensors, metadata=metadata)


_READERS: dict[str, Callable[[ModelFile], object]] = {}


def register_model(kind: str, reader: Callable[[ModelFile], object]) -> None:
    """Register the function that builds a model of ``kind`` from a checked ModelFile."""
    _READERS[kind] = reader


def load(path: str | os.PathLike | bytes):
    """Load any ccinfer model file (or its bytes), or a shipped model by name
    (``ccinfer.shipped_models()``), and return the model object of the right class.

    Raises
    ------
    FileNotFoundError
        If the file does not exist, or the name is not a shipped model (listing those).
    ValueError
        For a malformed, truncated or hostile file, naming the problem.
    """
    from .formats import refuse_foreign_format
    from .shipped import resolve

    if not isinstance(path, (bytes, bytearray, memoryview)):
        path = resolve(path)
    refuse_foreign_format(path)  # an ONNX or torch file: say so, and how to convert it
    model_file = read_model_file(path)
    try:
        return _READERS[model_file.kind](model_file)
    except ValueError as e:
        # The reader checked the file; should a constructor still refuse it, name the file.
        raise _fail(path, reason(e)) from None


def reason(e: ValueError) -> str:
    """A reader's error message without its ``ccinfer.load:`` prefix, to be wrapped with the
    file or stage it concerns."""
    return str(e).removeprefix("ccinfer.load: ")
