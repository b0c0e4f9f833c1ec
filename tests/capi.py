"""ctypes bindings of the C API (cpp/include/ccinfer/ccinfer.h) on the extension module itself,
which links the C API from the same core as the Python classes (tests only)."""

from __future__ import annotations

import ctypes
import json
import struct

import numpy as np

import ccinfer

OK, INVALID_ARGUMENT, BAD_MODEL, IO_ERROR, OUT_OF_MEMORY, BUSY, WRONG_KIND = range(7)
KIND = {"CondMLP": 1, "TreeGated": 2, "Sequential": 3, "GRUStack": 4}


class Info(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int32),
        ("token_input", ctypes.c_int32),
        ("input_size", ctypes.c_int64),
        ("output_size", ctypes.c_int64),
        ("num_layers", ctypes.c_int64),
    ]


def _library() -> ctypes.CDLL:
    lib = ctypes.CDLL(ccinfer._core.__file__)
    P, i64, F = ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_float)
    sigs = {
        "ccinfer_last_error": ([], ctypes.c_char_p),
        "ccinfer_status_name": ([ctypes.c_int], ctypes.c_char_p),
        "ccinfer_version": ([], ctypes.c_char_p),
        "ccinfer_load_file": ([ctypes.c_char_p, ctypes.POINTER(P)], ctypes.c_int),
        "ccinfer_load_memory": (
            [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(P)],
            ctypes.c_int,
        ),
        "ccinfer_load_memory_borrowed": (
            [P, ctypes.c_size_t, ctypes.POINTER(P)],
            ctypes.c_int,
        ),
        "ccinfer_free": ([P], None),
        "ccinfer_info": ([P, ctypes.POINTER(Info)], ctypes.c_int),
        "ccinfer_forward": ([P, F, i64, F], ctypes.c_int),
        "ccinfer_state_new": ([P, i64, ctypes.POINTER(P)], ctypes.c_int),
        "ccinfer_state_free": ([P], None),
        "ccinfer_state_reset": ([P], ctypes.c_int),
        "ccinfer_step_token": ([P, ctypes.POINTER(ctypes.c_int32), F], ctypes.c_int),
        "ccinfer_step_vector": ([P, F, F], ctypes.c_int),
        "ccinfer_set_num_threads": ([ctypes.c_int], ctypes.c_int),
        "ccinfer_sample": (
            [
                F,
                i64,
                ctypes.c_double,
                ctypes.POINTER(ctypes.c_uint64),
                ctypes.POINTER(ctypes.c_int32),
            ],
            ctypes.c_int,
        ),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    return lib


lib = _library()


def ptr(a: np.ndarray, ctype=ctypes.c_float):
    return a.ctypes.data_as(ctypes.POINTER(ctype))


def last_error() -> str:
    return lib.ccinfer_last_error().decode()


class CError(Exception):
    def __init__(self, status: int):
        self.status, self.message = status, last_error()
        super().__init__(f"{lib.ccinfer_status_name(status).decode()}: {self.message}")


def check(status: int) -> None:
    if status != OK:
        raise CError(status)


class Model:
    """A C-API model handle (freed with the object). ``borrowed``: the bytes of ``data``, a
    writable uint8 array kept by the object, are loaded with ccinfer_load_memory_borrowed."""

    def __init__(self, *, path=None, data: bytes | None = None, borrowed: np.ndarray | None = None):
        self.handle = handle = ctypes.c_void_p()
        if path is not None:
            check(lib.ccinfer_load_file(str(path).encode(), ctypes.byref(handle)))
        elif borrowed is not None:
            self.buffer = borrowed  # referenced by the model: kept alive with it
            check(
                lib.ccinfer_load_memory_borrowed(
                    borrowed.ctypes.data, borrowed.nbytes, ctypes.byref(handle)
                )
            )
        else:
            check(lib.ccinfer_load_memory(data, len(data), ctypes.byref(handle)))
        self.handle = handle
        info = Info()
        check(lib.ccinfer_info(handle, ctypes.byref(info)))
        self.info = info

    def __del__(self):
        lib.ccinfer_free(self.handle)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        n = 1 if x.ndim == 1 else x.shape[0]
        y = np.empty((n, self.info.output_size), np.float32)
        check(lib.ccinfer_forward(self.handle, ptr(x), n, ptr(y)))
        return y[0] if x.ndim == 1 else y

    def new_state(self, batch: int = 1) -> State:
        return State(self, batch)


class State:
    def __init__(self, model: Model, batch: int):
        self.handle = handle = ctypes.c_void_p()
        check(lib.ccinfer_state_new(model.handle, batch, ctypes.byref(handle)))
        self.handle, self.batch, self.out = handle, batch, model.info.output_size

    def __del__(self):
        lib.ccinfer_state_free(self.handle)

    def step_token(self, tokens) -> np.ndarray:
        t = np.ascontiguousarray(np.atleast_1d(tokens), dtype=np.int32)
        y = np.empty((self.batch, self.out), np.float32)
        check(lib.ccinfer_step_token(self.handle, ptr(t, ctypes.c_int32), ptr(y)))
        return y

    def step_vector(self, x) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        y = np.empty((self.batch, self.out), np.float32)
        check(lib.ccinfer_step_vector(self.handle, ptr(x), ptr(y)))
        return y

    def reset(self) -> None:
        check(lib.ccinfer_state_reset(self.handle))


def sample(logits: np.ndarray, temperature: float, state: int) -> tuple[int, int]:
    """ccinfer_sample: (token, the advanced generator state)."""
    logits = np.ascontiguousarray(logits, dtype=np.float32)
    rng, token = ctypes.c_uint64(state), ctypes.c_int32()
    check(
        lib.ccinfer_sample(
            ptr(logits), logits.size, temperature, ctypes.byref(rng), ctypes.byref(token)
        )
    )
    return token.value, rng.value


def generate(model: Model, prefix, n: int, temperature: float, seed: int) -> np.ndarray:
    """GRUStack.generate through the C API: step the prefix, then sample and step."""
    state, rng = model.new_state(1), seed
    for token in prefix:
        logits = state.step_token(token)[0]
    out = np.empty(n, np.int64)
    for t in range(n):
        out[t], rng = sample(logits, temperature, rng)
        if t + 1 < n:
            logits = state.step_token(out[t])[0]
    return out


def safetensors_bytes(header: dict | bytes, data: bytes = b"") -> bytes:
    """A file from a header (a dict, dumped as JSON, or raw bytes) and its data section."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def split(file: bytes) -> tuple[dict, bytes]:
    """(header dict, data section) of a safetensors file."""
    (n,) = struct.unpack("<Q", file[:8])
    return json.loads(file[8 : 8 + n]), file[8 + n :]
