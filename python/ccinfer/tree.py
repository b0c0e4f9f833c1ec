"""TreeGatedLinear: a layer whose weights are chosen by gating bits from a binary tree per
input unit (Cho & Bengio 2014; docs/design.md section 3).

Parameters grow as ``p q (2^(k+1) - 1)`` with the depth ``k``, work as ``(k + 1) q`` adds per
non-zero input: exponential capacity for linear compute.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._arrays import as_float32_matrix
from ._base import ModelBase
from .io import ModelFile, register_model

PATHS = ("shared", "sliding")
ACTIVATIONS = ("identity", "relu")
MAX_DEPTH: int = _core.TREE_MAX_DEPTH
MAX_TABLE_BYTES: int = _core.TREE_MAX_TABLE_BYTES
# Bounds of a model file's config: a table of at most MAX_TABLE_BYTES has fewer features than
# this, and the engine takes at most 2^16 gating bits.
MAX_FEATURES = MAX_TABLE_BYTES // 4
MAX_BITS = 1 << 16


def depth_of(nodes: int) -> int:
    """The depth ``k`` of a tree with ``nodes = 2^(k+1) - 1`` nodes, or ``ValueError``."""
    for k in range(MAX_DEPTH + 1):
        if (2 << k) - 1 == nodes:
            return k
    raise ValueError(
        f"TreeGatedLinear: table must have shape (p, 2^(k+1) - 1, q) with k in [0, {MAX_DEPTH}]: "
        f"1, 3, 7, 15, ... nodes per unit, got {nodes}"
    )


def table_shape(p: int, q: int, depth: int) -> tuple[int, int, int]:
    """``(p, 2^(depth+1) - 1, q)`` after checking the depth and memory limits (``ValueError``
    when ``depth > MAX_DEPTH`` or the table would exceed ``MAX_TABLE_BYTES``); allocates
    nothing."""
    for name, value in (("p", p), ("q", q), ("depth", depth)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"tree_table_shape: {name} must be an int, got {value!r}")
    return tuple(_core.tree_table_shape(int(p), int(q), int(depth)))


def _as_units(gate_units, p: int) -> np.ndarray:
    units = np.asarray(gate_units)
    if units.ndim != 1 or units.dtype.kind not in "iu":
        raise ValueError(
            f"TreeGatedLinear: gate_units must be a 1-D integer array, got {units.dtype} "
            f"of shape {units.shape}"
        )
    if units.size and (units.min() < 0 or units.max() >= p):
        bad = units[(units < 0) | (units >= p)][0]
        raise ValueError(f"TreeGatedLinear: gate_units entry {bad} is out of range [0, {p})")
    return np.ascontiguousarray(units, dtype=np.int32)


class TreeGatedLinear(ModelBase):
    """``h = phi(bias + sum_j x_j * sum_{l=0..k} T[j, v_l(j)])`` over the non-zero ``x_j``.

    Gating bits ``g`` come from the input: a threshold on chosen units (``g_i = x[units_i] >
    tau``) or the signs of a learned projection (``g = G x + c > 0``). Unit ``j`` reads ``k``
    of them as its path: the first ``k`` bits (``path="shared"``) or ``k`` consecutive bits
    from ``floor(j / k)``, modulo the number of bits (``path="sliding"``). Nodes are in heap
    order: node 0 is the root, the children of node ``v`` are ``2v + 1`` (bit 0) and ``2v + 2``
    (bit 1).

    Parameters
    ----------
    table : array (p, 2^(k+1) - 1, q)
        ``T[j, node, :]``; its second axis gives the depth ``k``. Any float dtype (narrowed to
        float32 once, here).
    bias : array (q,), optional
        Zero if omitted.
    path : {"shared", "sliding"}
    gate_units : integer array (nbits,), optional
        Threshold gates on these input units (``nbits >= k``).
    tau : float
        The threshold.
    gate_weight, gate_bias : arrays (nbits, p) and (nbits,), optional
        Projection gates instead (``gate_bias`` defaults to zero).
    activation : {"identity", "relu"}

    Examples
    --------
    >>> layer = TreeGatedLinear.from_dense(W, b, depth=4, gate_units=np.arange(4))  # doctest: +SKIP
    >>> h = layer(x)             # x: (p,) or (n, p) float32                       # doctest: +SKIP
    """

    def __init__(
        self,
        table,
        bias=None,
        *,
        path: str = "shared",
        gate_units=None,
        tau: float = 0.0,
        gate_weight=None,
        gate_bias=None,
        activation: str = "identity",
    ):
        shape = np.shape(table)
        if len(shape) != 3:
            raise ValueError(
                f"TreeGatedLinear: table must have shape (p, 2^(k+1) - 1, q), got {shape}"
            )
        p, nodes, q = shape
        depth = depth_of(nodes)
        table_shape(p, q, depth)  # size limits before the float32 copy below
        if path not in PATHS:
            raise ValueError(f"TreeGatedLinear: path must be one of {PATHS}, got {path!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"TreeGatedLinear: activation must be one of {ACTIVATIONS}, got {activation!r}"
            )
        if not np.isfinite(tau):
            raise ValueError(f"TreeGatedLinear: tau must be finite, got {tau}")
        # Every check that needs no copy comes before the first float32 copy.
        self._units = None if gate_units is None else _as_units(gate_units, p)
        if gate_weight is not None and (np.ndim(gate_weight) != 2 or np.shape(gate_weight)[1] != p):
            raise ValueError(
                f"TreeGatedLinear: gate_weight must have shape (nbits, {p}), "
                f"got {np.shape(gate_weight)}"
            )
        self._table = as_float32_matrix("TreeGatedLinear table", table)
        self._bias = (
            np.zeros(q, np.float32)
            if bias is None
            else as_float32_matrix("TreeGatedLinear bias", bias, (q,))
        )
        self._gate_weight = (
            None
            if gate_weight is None
            else as_float32_matrix("TreeGatedLinear gate_weight", gate_weight)
        )
        self._gate_bias = None
        if gate_bias is not None:
            nbits = 0 if self._gate_weight is None else self._gate_weight.shape[0]
            self._gate_bias = as_float32_matrix("TreeGatedLinear gate_bias", gate_bias, (nbits,))
        if self._gate_weight is not None and self._gate_bias is None:
            self._gate_bias = np.zeros(self._gate_weight.shape[0], np.float32)
        self._path, self._tau, self._activation = path, float(tau), activation
        self.card: dict[str, str] = {}  # free-form strings saved with the model
        self._core = _core.TreeGatedLinear(
            self._table,
            self._bias,
            path,
            self._units,
            self._tau,
            self._gate_weight,
            self._gate_bias,
            activation,
        )

    # ---- construction -----------------------------------------------------------------------
    @classmethod
    def from_dense(cls, weight, bias, depth: int, **kwargs) -> TreeGatedLinear:
        """A tree that starts as a trained dense layer: root ``T[:, 0] = weight.T``, every other
        node zero, so the layer computes ``phi(weight @ x + bias)`` until the nodes are trained.

        Parameters
        ----------
        weight : array (q, p)
            ``nn.Linear`` layout.
        bias : array (q,)
        depth : int
            The depth ``k``; the table size is checked before it is allocated.
        **kwargs
            Gates, path and activation as in the constructor.
        """
        weight = as_float32_matrix("from_dense weight", weight)
        if weight.ndim != 2:
            raise ValueError(f"from_dense: weight must be (q, p), got shape {weight.shape}")
        q, p = weight.shape
        table = np.zeros(table_shape(p, q, depth), np.float32)
        table[:, 0, :] = weight.T
        return cls(table, bias, **kwargs)

    # ---- inference --------------------------------------------------------------------------
    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``h`` for ``x`` of shape ``(p,)`` or ``(n, p)``, float32 C-contiguous and finite
        (anything else, a NaN or an infinity included, raises ``ValueError``; nothing is
        converted)."""
        return self._core.forward(x)

    def gates(self, X: np.ndarray) -> np.ndarray:
        """The gating bits (n, nbits) bool of the samples ``X`` (n, p) float32."""
        return self._core.gates(X)

    @property
    def input_size(self) -> int:
        return int(self._table.shape[0])

    @property
    def output_size(self) -> int:
        return int(self._table.shape[2])

    # nn.Linear's names for the same sizes.
    in_features = input_size
    out_features = output_size

    def __repr__(self) -> str:
        gates = self.gate_source
        if gates != "none":
            gates += f"({self.num_bits} bits)"
        return (
            f"TreeGatedLinear({self.input_size} -> {self.output_size}, depth={self.depth}, "
            f"path={self._path}, gates={gates}, activation={self._activation}, "
            f"weights=float32)"
        )

    @property
    def depth(self) -> int:
        return self._core.depth

    @property
    def num_bits(self) -> int:
        return self._core.num_bits

    @property
    def path(self) -> str:
        return self._path

    @property
    def activation(self) -> str:
        return self._activation

    @property
    def gate_source(self) -> str:
        """``"threshold"``, ``"projection"`` or ``"none"`` (depth 0 only)."""
        if self._units is not None:
            return "threshold"
        return "none" if self._gate_weight is None else "projection"

    @property
    def table(self) -> np.ndarray:
        """``T`` (p, nodes, q), read-only view of the float32 copy."""
        view = self._table.view()
        view.flags.writeable = False
        return view

    @property
    def bias(self) -> np.ndarray:
        return self._bias.copy()

    @property
    def num_parameters(self) -> int:
        """Table, bias and projection gates."""
        gates = 0 if self._gate_weight is None else self._gate_weight.size + self._gate_bias.size
        return self._table.size + self._bias.size + gates

    def flops(self, nonzero_inputs: float | None = None) -> float:
        """FLOPs of one sample: per non-zero input ``k`` adds to sum its path and one
        multiply-add per output (``(k + 2) q``), plus ``2 p nbits`` for projection gates;
        ``nonzero_inputs`` defaults to all ``p``."""
        nnz = self.in_features if nonzero_inputs is None else nonzero_inputs
        gates = 0.0 if self._gate_weight is None else 2.0 * nnz * self._gate_weight.shape[0]
        return (self.depth + 2) * self.out_features * nnz + gates

    def reset_stats(self) -> None:
        self._core.reset_stats()

    @property
    def stats(self) -> dict:
        """Since the last :meth:`reset_stats`: ``samples``, ``inputs_nonzero`` and
        ``node_rows`` (q-rows of the table read: ``depth + 1`` per non-zero input)."""
        return self._core.stats()

    # ---- files ------------------------------------------------------------------------------
    def to_model_file(self, card: dict | None = None) -> ModelFile:
        tensors = {"table": self._table, "bias": self._bias}
        gates: dict | None = None
        if self._units is not None:
            gates = {"source": "threshold", "units": self._units.tolist(), "tau": self._tau}
        elif self._gate_weight is not None:
            gates = {"source": "projection", "bits": int(self._gate_weight.shape[0])}
            tensors["gates.weight"] = self._gate_weight
            tensors["gates.bias"] = self._gate_bias
        config = {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "depth": self.depth,
            "path": self._path,
            "activation": self._activation,
            "gates": gates,
        }
        return ModelFile("TreeGated", config, tensors, dict(card or {}))

    @classmethod
    def from_model_file(cls, mf: ModelFile) -> TreeGatedLinear:
        """The layer of a file checked by the reader (io.read_model_file): builds, checks
        nothing the reader has checked."""
        cfg, t = mf.config, mf.tensors
        gates, kwargs = cfg["gates"], {}
        if gates is not None and gates["source"] == "threshold":
            kwargs = {"gate_units": np.asarray(gates["units"], np.int64), "tau": gates["tau"]}
        elif gates is not None:
            kwargs = {"gate_weight": t["gates.weight"], "gate_bias": t["gates.bias"]}
        layer = cls(t["table"], t["bias"], path=cfg["path"], activation=cfg["activation"], **kwargs)
        layer.card = mf.card
        return layer


register_model("TreeGated", TreeGatedLinear.from_model_file)
