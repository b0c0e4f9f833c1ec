"""Reading an ONNX model safely: bounded sizes, external data only from files inside the
model's folder, every initializer through ``onnx.numpy_helper``. ONNX files hold no code;
this module makes sure they also cannot make ccinfer read files elsewhere or allocate
without bound."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

#: The largest ONNX file read (protobuf itself stops at 2 GiB).
MAX_FILE_BYTES = 2**31 - 1
#: The most elements one initializer may declare (a 2^20 x 2^10 float32 matrix is 4 GiB).
MAX_TENSOR_ELEMENTS = 2**30
MAX_NODES = 100_000


def require_onnx():
    """The ``onnx`` module, or an ImportError saying how to install it."""
    try:
        import onnx
    except ImportError as e:
        raise ImportError(
            "ccinfer.from_onnx needs the onnx package: pip install 'ccinfer[onnx]' "
            "(or pip install onnx)"
        ) from e
    return onnx


def read_model(path_or_model):
    """An ``onnx.ModelProto`` from a path, the bytes of a model, or a ModelProto (returned
    as is), with any external data read from inside the model's folder."""
    onnx = require_onnx()
    if isinstance(path_or_model, onnx.ModelProto):
        model, base = path_or_model, None
    elif isinstance(path_or_model, (bytes, bytearray, memoryview)):
        if len(path_or_model) > MAX_FILE_BYTES:
            raise ValueError(f"from_onnx: the model is {len(path_or_model)} bytes, too large")
        model, base = _parse(onnx, bytes(path_or_model), "<bytes>"), None
    elif isinstance(path_or_model, (str, os.PathLike)):
        path = Path(path_or_model)
        if not path.is_file():
            raise FileNotFoundError(f"from_onnx: no such file: {os.fspath(path)}")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValueError(f"from_onnx: {path}: {size} bytes is beyond the 2 GiB ONNX limit")
        model, base = _parse(onnx, path.read_bytes(), str(path)), path.resolve().parent
    else:
        raise ValueError(
            f"from_onnx: expected a path, bytes or an onnx.ModelProto, got "
            f"{type(path_or_model).__name__}"
        )
    if len(model.graph.node) > MAX_NODES:
        raise ValueError(f"from_onnx: the graph has {len(model.graph.node)} nodes, too many")
    _load_external_data(onnx, model, base)
    return model


def _parse(onnx, blob: bytes, name: str):
    model = onnx.ModelProto()
    try:
        model.ParseFromString(blob)
    except Exception as e:  # protobuf's DecodeError, which onnx does not re-export
        raise ValueError(f"from_onnx: {name} is not an ONNX model ({e})") from None
    if not model.HasField("graph"):
        raise ValueError(f"from_onnx: {name} is not an ONNX model (it has no graph)")
    return model


def _external_entries(tensor) -> dict[str, str]:
    return {entry.key: entry.value for entry in tensor.external_data}


def _load_external_data(onnx, model, base: Path | None) -> None:
    """Read the initializers stored in external files, refusing any file outside ``base``
    (the model's folder) and any range beyond the file, before reading a byte of it."""
    external = [t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if not external:
        return
    if base is None:
        raise ValueError(
            "from_onnx: the model keeps initializers in external files; pass the model's "
            "path so they are read from its folder"
        )
    for tensor in external:
        entries = _external_entries(tensor)
        location = entries.get("location", "")
        target = (base / location).resolve()
        if not location or Path(location).is_absolute() or not target.is_relative_to(base):
            raise ValueError(
                f"from_onnx: initializer {tensor.name!r}: external data location "
                f"{location!r} is outside the model's folder {base}"
            )
        if not target.is_file():
            raise ValueError(
                f"from_onnx: initializer {tensor.name!r}: external data file {location!r} "
                f"does not exist"
            )
        try:
            offset = int(entries.get("offset", "0"))
            length = int(entries["length"]) if "length" in entries else None
        except ValueError:
            raise ValueError(
                f"from_onnx: initializer {tensor.name!r}: malformed external data entry"
            ) from None
        check_declared_size(tensor)
        need = math.prod(tensor.dims) * _itemsize(onnx, tensor)
        if length is None:
            length = need
        if offset < 0 or length != need or offset + length > target.stat().st_size:
            raise ValueError(
                f"from_onnx: initializer {tensor.name!r}: external data range "
                f"[{offset}, {offset + length}) does not fit {location!r} or the shape "
                f"{list(tensor.dims)}"
            )
    from onnx.external_data_helper import load_external_data_for_model

    load_external_data_for_model(model, str(base))


def _itemsize(onnx, tensor) -> int:
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
    except (KeyError, TypeError):
        raise ValueError(
            f"from_onnx: initializer {tensor.name!r} has an unsupported data type "
            f"{tensor.data_type}"
        ) from None


def check_declared_size(tensor) -> None:
    if any(d < 0 for d in tensor.dims) or math.prod(tensor.dims) > MAX_TENSOR_ELEMENTS:
        raise ValueError(
            f"from_onnx: tensor {tensor.name!r} declares shape {list(tensor.dims)}, beyond "
            f"{MAX_TENSOR_ELEMENTS} elements"
        )


def to_array(tensor) -> np.ndarray:
    """An initializer or Constant as a numpy array, its declared size checked first."""
    from onnx import numpy_helper

    check_declared_size(tensor)
    try:
        return numpy_helper.to_array(tensor)
    except Exception as e:  # a shape that does not match the data, an unknown type
        raise ValueError(f"from_onnx: tensor {tensor.name!r} cannot be read ({e})") from None
