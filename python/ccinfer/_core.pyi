"""ccinfer's compiled core (private: use the ccinfer package).

Generated with pybind11-stubgen from the built module, then reviewed. The submodule
``kernels`` is typed in ``kernels.pyi`` (``kernels.py`` re-exports it).
"""

from __future__ import annotations

import collections.abc
import types
import typing

import numpy
import numpy.typing

__all__: list[str] = [
    "TREE_MAX_DEPTH",
    "TREE_MAX_TABLE_BYTES",
    "CondMLP",
    "GRUStack",
    "GRUState",
    "TreeGatedLinear",
    "available_isas",
    "build_info",
    "get_isa",
    "get_num_threads",
    "init_isa_from_env",
    "kernels",
    "max_num_threads",
    "set_isa",
    "set_num_threads",
    "tree_table_shape",
]

class CondMLP:
    estimators_enabled: bool
    track_accuracy: bool
    def __init__(
        self, weights: list, biases: list, est_a: list, est_b: list, taus: list
    ) -> None: ...
    def autotune(
        self, X: typing.Any, repeats: typing.SupportsInt | typing.SupportsIndex = 5
    ) -> list[list[float]]: ...
    def forward(self, x: typing.Any) -> numpy.ndarray:
        """
        Logits for x of shape (in,) or (n, in), float32 C-contiguous.
        """
    def has_estimator(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> bool: ...
    def reset_stats(self) -> None: ...
    def set_tau(
        self,
        arg0: typing.SupportsInt | typing.SupportsIndex,
        arg1: typing.SupportsFloat | typing.SupportsIndex,
    ) -> None: ...
    def stats(self) -> dict: ...
    @property
    def in_features(self) -> int: ...
    @property
    def num_layers(self) -> int: ...
    @property
    def out_features(self) -> int: ...
    @property
    def plan(self) -> list[str]: ...
    @plan.setter
    def plan(self, arg1: collections.abc.Sequence[str]) -> None: ...

class TreeGatedLinear:
    def __init__(
        self,
        table: typing.Any,
        bias: typing.Any,
        path: str,
        gate_units: typing.Any,
        tau: typing.SupportsFloat | typing.SupportsIndex,
        gate_weight: typing.Any,
        gate_bias: typing.Any,
        activation: str,
    ) -> None: ...
    def forward(self, x: typing.Any) -> numpy.ndarray:
        """
        h = phi(...) for x of shape (p,) or (n, p), float32 C-contiguous.
        """
    def gates(self, X: typing.Any) -> numpy.typing.NDArray[numpy.bool]:
        """
        The gating bits (n, nbits) bool of the samples X (n, p).
        """
    def reset_stats(self) -> None: ...
    def stats(self) -> dict: ...
    @property
    def depth(self) -> int: ...
    @property
    def in_features(self) -> int: ...
    @property
    def num_bits(self) -> int: ...
    @property
    def out_features(self) -> int: ...

class GRUState:
    """
    The recurrent state of one or more streams of one GRUStack (make it with
    GRUStack.new_state). Opaque: read or set it with get_h/set_h. Pickles as its arrays; the
    unpickled state is bound by the first model of its layer widths that steps it.
    """
    def __copy__(self) -> GRUState: ...
    def __deepcopy__(self, memo: typing.Any) -> GRUState: ...
    def __getstate__(self) -> tuple[int, int, list[numpy.typing.NDArray[numpy.float32]]]: ...
    def __setstate__(
        self, state: tuple[int, int, list[numpy.typing.NDArray[numpy.float32]]]
    ) -> None: ...
    def copy(self) -> GRUState:
        """
        An independent copy.
        """
    def copy_stream(
        self,
        src: GRUState,
        src_index: typing.SupportsInt | typing.SupportsIndex,
        index: typing.SupportsInt | typing.SupportsIndex,
    ) -> None:
        """
        Copy stream src_index of src into stream index of this state.
        """
    def get_h(
        self, layer: typing.SupportsInt | typing.SupportsIndex
    ) -> numpy.typing.NDArray[numpy.float32]:
        """
        A copy of layer `layer`'s state, (batch, hidden) float32.
        """
    def reset(self) -> None: ...
    def set_h(self, layer: typing.SupportsInt | typing.SupportsIndex, h: typing.Any) -> None: ...
    @property
    def batch(self) -> int:
        """
        streams held
        """
    @property
    def num_layers(self) -> int: ...
    @property
    def steps(self) -> int | numpy.typing.NDArray[numpy.int64]:
        """
        Steps applied since new_state() or reset(): an int for a one-stream state, an int64
        array (batch,) for a batch state.
        """

class GRUStack:
    def __init__(
        self,
        layers: list,
        token_input: bool,
        input_size: typing.SupportsInt | typing.SupportsIndex,
        W_out: typing.Any,
        b_out: typing.Any,
    ) -> None: ...
    def new_state(self, batch: typing.SupportsInt | typing.SupportsIndex = 1) -> GRUState: ...
    def reset_stats(self) -> None: ...
    def run(self, state: typing.Any, sequence: typing.Any) -> numpy.typing.NDArray[numpy.float32]:
        """
        Logits (T, V_out) of every step of one stream's sequence, in one call.
        """
    def stats(self) -> list: ...
    def step_batch(
        self, state: typing.Any, X: typing.Any
    ) -> numpy.typing.NDArray[numpy.float32]: ...
    def step_token(
        self, state: typing.Any, token: typing.SupportsInt | typing.SupportsIndex
    ) -> numpy.typing.NDArray[numpy.float32]: ...
    def step_vector(
        self, state: typing.Any, x: typing.Any
    ) -> numpy.typing.NDArray[numpy.float32]: ...
    @property
    def dense_macs(self) -> int: ...
    @property
    def input_size(self) -> int: ...
    @property
    def num_layers(self) -> int: ...
    @property
    def output_size(self) -> int: ...
    @property
    def token_input(self) -> bool: ...

def available_isas() -> list[str]: ...
def build_info() -> dict: ...
def c_api_version() -> str: ...
def get_isa() -> str: ...
def get_num_threads() -> int: ...
def init_isa_from_env() -> str: ...
def max_num_threads() -> int: ...
def _check_alloc(
    what: str,
    count_a: typing.SupportsIndex,
    count_b: typing.SupportsIndex,
    elem_size: typing.SupportsInt,
) -> None: ...
def _gru_layer_tensors(
    kind: str, d: typing.SupportsInt, h: typing.SupportsInt, rank: typing.SupportsInt
) -> list[tuple[str, tuple[int, ...]]]:
    """The arrays of a GRU layer of ``kind``: [(name, shape)] in order (the core's schema)."""

_GRU_KINDS: tuple[str, ...]

def set_isa(name: str) -> None: ...
def read_model_bytes(
    data: bytes, where: str
) -> tuple[str, str, dict[str, typing.Any], dict[str, str], dict[str, str]]:
    """
    Reads and checks a model file's bytes: (kind, config JSON, tensors, card, stored).
    """

def sample_token(
    logits: typing.Any, temperature: typing.SupportsFloat, state: typing.SupportsInt
) -> tuple[int, int]:
    """
    A token drawn from softmax(logits / temperature) with the SplitMix64 generator in state
    (ccinfer/sample.h): (token, the advanced state).
    """

def set_num_threads(n: typing.SupportsInt | typing.SupportsIndex) -> None: ...
def tree_table_shape(
    p: typing.SupportsInt | typing.SupportsIndex,
    q: typing.SupportsInt | typing.SupportsIndex,
    depth: typing.SupportsInt | typing.SupportsIndex,
) -> tuple[int, int, int]:
    """
    (p, 2^(k+1) - 1, q) after checking the depth and size limits (ValueError); allocates nothing.
    """

TREE_MAX_DEPTH: int = 24
TREE_MAX_TABLE_BYTES: int = 4294967296
kernels: types.ModuleType
_testing: types.ModuleType  # entry points for the tests only (cpp/bindings/bind_test_hooks.cpp)
