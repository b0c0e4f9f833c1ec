"""What a file holds, told from its first bytes: a ccinfer model, another safetensors file, an
ONNX model, a PyTorch or Keras archive, a numpy array, a pickle, HDF5.

``ccinfer.load`` uses it to say what a foreign file is and how to convert it (instead of
reading eight bytes of something else as a header length), and ``ccinfer convert`` to choose
a reader by content rather than by the file's extension. Nothing here parses more than a few
bytes, and nothing is executed.
"""

from __future__ import annotations

import json
import os
import struct

SAFETENSORS = "safetensors"
ONNX = "onnx"
ZIP = "zip"  # torch.save's archive, and Keras 3's .keras
NUMPY = "npy"
PICKLE = "pickle"
HDF5 = "hdf5"  # Keras 2's .h5
UNKNOWN = "unknown"

DESCRIPTIONS = {
    SAFETENSORS: "a safetensors file",
    ONNX: "an ONNX model",
    ZIP: "a zip archive (a PyTorch file from torch.save, or a Keras .keras file)",
    NUMPY: "a numpy .npy array",
    PICKLE: "a Python pickle (possibly an old torch.save file)",
    HDF5: "an HDF5 file (a Keras .h5 model?)",
    UNKNOWN: "a file of unknown format",
}

# The fields a serialized onnx.ModelProto starts with: ir_version (field 1, a varint) first,
# as every ONNX writer emits it, then one of producer_name (2), producer_version (3),
# domain (4), model_version (5), doc_string (6), graph (7), opset_import (8),
# metadata_props (14). Protobuf has no magic number; this prefix is what one looks like.
_ONNX_NEXT_TAGS = {0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72}
_SNIFF_BYTES = 16


def sniff_bytes(head: bytes) -> str:
    """The format of a file that starts with ``head`` (its first 16 bytes, or all of a
    shorter file): one of the constants of this module."""
    if len(head) >= 9 and head[8:9] == b"{":
        return SAFETENSORS  # possibly truncated: the reader's checks say so
    if head.startswith(b"PK\x03\x04"):
        return ZIP
    if head.startswith(b"\x93NUMPY"):
        return NUMPY
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return HDF5
    if len(head) >= 3 and head[0] == 0x08 and 1 <= head[1] <= 64 and head[2] in _ONNX_NEXT_TAGS:
        return ONNX
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return PICKLE
    return UNKNOWN


def sniff(path: str | os.PathLike | bytes) -> str:
    """The format of the file at ``path`` (or of the bytes given): see :func:`sniff_bytes`."""
    if isinstance(path, (bytes, bytearray, memoryview)):
        return sniff_bytes(bytes(path[:_SNIFF_BYTES]))
    with open(path, "rb") as f:
        return sniff_bytes(f.read(_SNIFF_BYTES))


def is_ccinfer_model(path: str | os.PathLike) -> bool:
    """True for a safetensors file whose metadata names the ccinfer format (a model file);
    False for any other file, including safetensors files of plain arrays."""
    if sniff(path) != SAFETENSORS:
        return False
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        if header_len > 16 * 1024 * 1024:
            return False
        try:
            header = json.loads(f.read(header_len))
        except (ValueError, RecursionError):
            return False
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return isinstance(metadata, dict) and metadata.get("format") == "ccinfer"


def refuse_foreign_format(path: str | os.PathLike | bytes) -> None:
    """A ValueError saying what the file is, for a file that is plainly not a safetensors
    file (and so not a ccinfer model), naming the converter that reads it. Files that may be
    safetensors, and unreadable paths, are left to the model file reader's own checks."""
    try:
        kind = sniff(path)
    except OSError:
        return
    if kind in (SAFETENSORS, UNKNOWN):
        return
    name = "<bytes>" if isinstance(path, (bytes, bytearray, memoryview)) else os.fspath(path)
    how = {
        ONNX: f"convert it with ccinfer.from_onnx(path) or `ccinfer convert {name} -o "
        "model.safetensors`",
        ZIP: "load a PyTorch state_dict with torch.load(path, weights_only=True) and convert "
        "it with CondMLP.from_torch(state_dict, activation='relu'), or run `ccinfer convert "
        f"{name} --activation relu -o model.safetensors`",
        PICKLE: "ccinfer never unpickles files; load it with the tool that wrote it and "
        "convert the arrays (CondMLP.from_numpy, GRUStack.from_numpy)",
    }.get(kind, "load its arrays with the tool that wrote it and convert them")
    raise ValueError(
        f"ccinfer.load: {name}: this is {DESCRIPTIONS[kind]}, not a ccinfer model file; {how}"
    )
