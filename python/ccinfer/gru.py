"""GRUStack: stacked GRU language models (dense, or the conditional GRU of docs/design.md section 2)
run one time step of the whole stack per C++ call, for one stream or a batch of streams.

Layer kinds (docs/format.md, "GRUStack"):

- ``"dense"``: exactly ``torch.nn.GRU`` (gate order r, z, n; ``h' = (1 - z) n + z h``).
- ``"lowrank"``: the conditional GRU with a rank-r z bottleneck,
  ``z = cliptanh(W_z relu(W_zl x + U_zl h + b_zl) + b_z)`` (batch norm folded into W_z, b_z)
  and ``h' = (1 - z) h + z n``: units with ``z = 0`` keep their state and their weight rows
  are never read (the unstructured, one-stream-at-a-time path).
- ``"block"``: the same with one z per block of ``h / g`` units,
  ``z_block = cliptanh(z_scale * relu(W_zl x + U_zl h + b_zl) + z_shift)``: a batch step runs
  one small GEMM per block over the streams whose gate is on (the server path).

Note the two conventions for z: PyTorch's z keeps the *old* state, the conditional GRU's
``z = 0`` keeps it. Each kind computes its own, as documented.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import _core
from ._arrays import as_float32_matrix
from ._base import ModelBase
from .char_export import layers_from_export
from .io import ModelFile, register_model

#: The layer kinds and the arrays of each (docs/format.md), as the C++ core defines them.
KINDS: tuple[str, ...] = tuple(_core._GRU_KINDS)


def layer_shapes(kind: str, d: int, h: int, rank: int | None) -> dict[str, tuple[int, ...]]:
    """The shape of every array of a layer of ``kind`` with input width ``d``, ``h`` units and
    rank (``"lowrank"``) or gating ``g`` (``"block"``) ``rank``, in the core's order."""
    return dict(_core._gru_layer_tensors(kind, d, h, 0 if rank is None else rank))


LAYER_ARRAYS: dict[str, tuple[str, ...]] = {k: tuple(layer_shapes(k, 1, 1, 1)) for k in KINDS}
_MAX_WIDTH = 1 << 20
_MAX_LAYERS = 1024  # what a model file may declare

GRUState = _core.GRUState
#: Storage of the large matrices W_ih and W_hh (GRUStack ``weights``).
WEIGHT_DTYPES = ("float32", "float16")
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def _to_half(where: str, a: np.ndarray) -> np.ndarray:
    """float32 -> float16 (round to nearest) for ``weights="float16"``; values beyond float16's
    range would become infinities, so they are refused."""
    big = np.abs(a) > _FLOAT16_MAX
    if big.any():
        raise ValueError(
            f"{where}: {int(big.sum())} weights exceed float16's range (|w| > 65504, largest "
            f"{float(np.abs(a).max()):g}); use weights='float32'"
        )
    return np.ascontiguousarray(a, dtype=np.float16)


def _check_layer(i: int, layer: Mapping, d: int, weights: str = "float32") -> dict:
    """A checked copy of one layer dict: kind, hidden, rank and float32 arrays (W_ih and W_hh
    float16 when ``weights`` is ``"float16"``)."""
    where = f"GRUStack: layer {i}"
    if not isinstance(layer, Mapping):
        raise ValueError(f"{where}: expected a dict of arrays, got {type(layer).__name__}")
    kind = layer.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {KINDS}, got {kind!r}")
    names = LAYER_ARRAYS[kind]
    meta = {"kind", "hidden", "rank", "gating"}
    extra = sorted(set(layer) - set(names) - meta)
    if extra:
        raise ValueError(
            f"{where}: unexpected entries {extra} for kind {kind!r} (expected {', '.join(names)})"
        )
    missing = [n for n in names if n not in layer]
    if missing:
        raise ValueError(f"{where}: kind {kind!r} is missing {missing}")
    W_hh = as_float32_matrix(f"{where} W_hh", layer["W_hh"])
    if W_hh.ndim != 2 or W_hh.shape[1] < 1:
        raise ValueError(f"{where} W_hh: expected a 2-D (gates * h, h) array, got {W_hh.shape}")
    h = W_hh.shape[1]
    rank = None
    if kind == "lowrank":
        rank = np.shape(layer["W_zl"])[0] if np.ndim(layer["W_zl"]) == 2 else -1
    elif kind == "block":
        rank = np.shape(layer["z_scale"])[0] if np.ndim(layer["z_scale"]) == 1 else -1
    for key, value in (("hidden", h), ("rank", rank), ("gating", rank)):
        if key in layer and layer[key] is not None and layer[key] != value:
            raise ValueError(f"{where}: '{key}' is {layer[key]}, the arrays give {value}")
    if rank is not None and rank < 1:
        raise ValueError(f"{where}: rank/gating must be >= 1, got {rank}")
    if kind == "block" and h % rank:
        raise ValueError(f"{where}: gating g = {rank} must divide hidden = {h}")
    if h > _MAX_WIDTH or d > _MAX_WIDTH:
        raise ValueError(f"{where}: widths above 2^20 are not supported")
    shapes = layer_shapes(kind, d, h, rank)
    arrays = {n: as_float32_matrix(f"{where} {n}", layer[n], shapes[n]) for n in names}
    if weights == "float16":
        for n in ("W_ih", "W_hh"):
            arrays[n] = _to_half(f"{where} {n}", arrays[n])
    return {"kind": kind, "hidden": h, "rank": rank, "arrays": arrays}


class GRUStack(ModelBase):
    """A stack of GRU layers with a linear output (logits), token or vector input.

    Parameters
    ----------
    layers : sequence of dict
        One dict per layer: ``kind`` (``"dense"``, ``"lowrank"``, ``"block"``) and the
        layer's arrays in PyTorch layout (see :data:`LAYER_ARRAYS` and docs/format.md):
        ``W_ih`` (G h, d), ``W_hh`` (G h, h), ``b_ih``, ``b_hh`` (G h) with G = 3 (gates
        r, z, n) for dense and G = 2 (gates r, n) for the conditional kinds, which add
        ``W_zl`` (r, d), ``U_zl`` (r, h), ``b_zl`` (r) and ``W_z`` (h, r), ``b_z`` (h)
        (lowrank) or ``z_scale``, ``z_shift`` (g) (block). Optional ``hidden``, ``rank``,
        ``gating`` entries are checked against the arrays.
    output : (W_out, b_out)
        The output layer, ``W_out`` (V_out, h_last), ``b_out`` (V_out).
    token_input : bool
        True: the input is a token id in ``[0, d)`` of the first layer (a one-hot vector, done
        as a column lookup); False: float32 vectors of width ``d``.
    weights : {"float32", "float16"}
        Storage of every layer's ``W_ih`` and ``W_hh`` (the bulk of the model). ``"float16"``
        rounds them once to half precision (a ValueError if any exceeds its range) and keeps
        them so: half the memory and half the bytes a step reads; the products still run in
        float32 on the exactly widened weights, so the results equal, bit for bit, those of
        a float32 model built from the rounded weights. ``ccinfer.load`` picks ``"float16"``
        for a file that stores these matrices in float16 (nothing is rounded then).

    Examples
    --------
    >>> model = GRUStack.from_numpy(layers, output=(W, b), token_input=True)  # doctest: +SKIP
    >>> logits = model.step(5)              # the model's own stream            # doctest: +SKIP
    >>> s = model.new_state(); model.step(5, state=s)   # another stream       # doctest: +SKIP
    >>> model.step(np.array([1, 2, 3]), state=model.new_state(3))  # a batch   # doctest: +SKIP
    """

    def __init__(
        self, layers: Sequence[Mapping], output, *, token_input: bool, weights: str = "float32"
    ):
        if weights not in WEIGHT_DTYPES:
            raise ValueError(f"GRUStack: weights must be one of {WEIGHT_DTYPES}, got {weights!r}")
        layers = list(layers)
        if not layers:
            raise ValueError("GRUStack: needs at least one layer")
        if not isinstance(token_input, (bool, np.bool_)):
            raise ValueError(f"GRUStack: token_input must be a bool, got {token_input!r}")
        first = layers[0].get("W_ih") if isinstance(layers[0], Mapping) else None
        if first is None or np.ndim(first) != 2:
            raise ValueError("GRUStack: layer 0 needs a 2-D W_ih (gates * h, d)")
        d = int(np.shape(first)[1])
        checked = []
        width = d
        for i, layer in enumerate(layers):
            c = _check_layer(i, layer, width, weights)
            checked.append(c)
            width = c["hidden"]
        if not isinstance(output, (tuple, list)) or len(output) != 2:
            raise ValueError("GRUStack: output must be a pair (W_out, b_out)")
        W_out = as_float32_matrix("GRUStack output W_out", output[0])
        if W_out.ndim != 2 or W_out.shape[1] != width or W_out.shape[0] < 1:
            raise ValueError(
                f"GRUStack output W_out: expected shape (V_out, {width}), got {W_out.shape}"
            )
        b_out = as_float32_matrix("GRUStack output b_out", output[1], (W_out.shape[0],))
        self._layers = checked
        self._output = (W_out, b_out)
        self._token_input = bool(token_input)
        self._input_size = d
        self._weights = weights
        self.card: dict[str, str] = {}  # free-form strings saved with the model
        self._core = _core.GRUStack(checked, self._token_input, d, W_out, b_out)
        self._state = None

    # ---- construction -----------------------------------------------------------------------
    @classmethod
    def from_numpy(cls, layers: Sequence[Mapping], output, token_input: bool = True) -> GRUStack:
        """From plain arrays (what a trainer exports): the same arguments as the constructor.
        float64 arrays and torch tensors are accepted and narrowed to float32."""
        return cls(layers, output, token_input=token_input)

    @classmethod
    def from_torch(
        cls, gru, embedding=None, head=None, *, token_input: bool | None = None
    ) -> GRUStack:
        """A dense GRUStack from ``torch.nn.GRU`` or ``torch.nn.GRUCell``, with an optional
        ``nn.Embedding`` and ``nn.Linear`` head: :func:`ccinfer.convert.gru_stack_from_torch`."""
        from .convert.torch import gru_stack_from_torch

        return gru_stack_from_torch(gru, embedding, head, token_input=token_input)

    @classmethod
    def from_keras(cls, model) -> GRUStack:
        """A dense GRUStack from a Keras 3 model: an optional ``Embedding``, ``GRU`` layers
        (``reset_after=True``) and an optional linear ``Dense`` head
        (:mod:`ccinfer.convert.keras`)."""
        from .convert.keras import gru_stack_from_keras

        return gru_stack_from_keras(model)

    @classmethod
    def from_char_lm(cls, model) -> GRUStack:
        """From the training reference's `ccinfer.train.gru.CharLM` (any gate kind): the
        arrays of ``model.export_numpy()``, batch norm folded with its running statistics, so
        the engine computes what the module computes in eval mode (`ccinfer.char_export`)."""
        config = model.config()
        layers, output = layers_from_export(
            model.export_numpy(), config["gate"], config["num_layers"]
        )
        return cls.from_numpy(layers, output, token_input=True)

    # ---- description ------------------------------------------------------------------------
    @property
    def token_input(self) -> bool:
        return self._token_input

    @property
    def input_size(self) -> int:
        """Vocabulary size V (token input) or vector width d."""
        return self._input_size

    @property
    def output_size(self) -> int:
        return self._output[0].shape[0]

    @property
    def weights(self) -> str:
        """Storage of W_ih and W_hh: ``"float32"`` or ``"float16"`` (see the constructor)."""
        return self._weights

    def with_weights(self, weights: str) -> GRUStack:
        """A new model with the same weights stored as ``weights`` (``"float32"`` or
        ``"float16"``; see the constructor) and the same card; states are not shared. To
        float32 is exact; to float16 rounds (exact for weights that came from float16)."""
        layers = [
            {"kind": c["kind"], **{k: np.asarray(v, np.float32) for k, v in c["arrays"].items()}}
            for c in self._layers
        ]
        model = GRUStack(layers, self._output, token_input=self._token_input, weights=weights)
        model.card = dict(self.card)
        return model

    @property
    def layers(self) -> list[dict]:
        """Per layer: ``kind``, ``hidden``, ``rank`` (lowrank: r, block: g, dense: None)."""
        return [{"kind": c["kind"], "hidden": c["hidden"], "rank": c["rank"]} for c in self._layers]

    def layer_arrays(self, i: int) -> dict[str, np.ndarray]:
        """The arrays of layer ``i`` as given (PyTorch layout)."""
        return dict(self._layers[i]["arrays"])

    @property
    def output(self) -> tuple[np.ndarray, np.ndarray]:
        return self._output

    def __repr__(self) -> str:
        inp = f"tokens({self.input_size})" if self.token_input else f"vector({self.input_size})"
        body = ", ".join(
            f"{c['kind']}({c['hidden']}" + (f", {c['rank']})" if c["rank"] else ")")
            for c in self._layers
        )
        return f"GRUStack({inp} -> {body} -> {self.output_size}, weights={self._weights})"

    # ---- states -----------------------------------------------------------------------------
    def new_state(self, batch: int | None = None) -> GRUState:
        """A zero state: one stream (``batch=None``) or ``batch`` streams for batch steps.
        Opaque; ``get_h(layer)`` / ``set_h(layer, h)`` read and write it, ``copy()`` forks
        it, ``copy_stream(src, i, j)`` moves one stream between states. It pickles as its
        arrays (no model inside): unpickled, in this process or another, it is bound to the
        first model with its layer widths that steps it, and continues bit for bit."""
        n = 1 if batch is None else batch
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"GRUStack.new_state: batch must be an int >= 1, got {batch!r}")
        return self._core.new_state(int(n))

    def reset(self) -> None:
        """Forget the model's own state (the next step starts from zeros)."""
        self._state = None

    @property
    def state(self) -> GRUState | None:
        """The model's own state (None before the first step or after :meth:`reset`)."""
        return self._state

    # ---- inference --------------------------------------------------------------------------
    def _is_batch(self, x) -> bool:
        ndim = np.ndim(x)
        if self._token_input:
            if ndim not in (0, 1):
                raise ValueError(
                    f"GRUStack.step: token input must be an int or a 1-D array of "
                    f"ids (n,), got shape {np.shape(x)}"
                )
            return ndim == 1
        if ndim not in (1, 2):
            raise ValueError(
                f"GRUStack.step: x must be float32 of shape ({self.input_size},) "
                f"or (n, {self.input_size}), got shape {np.shape(x)}"
            )
        return ndim == 2

    def _token_ids(self, x, fn: str) -> np.ndarray:
        """Token ids as the core takes them (README, "Token ids"): an int32 C-contiguous array
        is used as is; any other integer array, or a list or tuple of ints, is range-checked
        and converted to int32 (one copy of 4 bytes per id). Callers check the size of what
        the call will return first, so a huge declared array (stride 0) is refused before it
        is copied. A float or bool array is refused: it is almost certainly a mistake."""
        a = x if isinstance(x, np.ndarray) else np.asarray(x)
        if a.dtype.kind not in "iu":
            raise ValueError(f"{fn}: token ids must be integers, got dtype {a.dtype}")
        if a.dtype == np.int32 and a.flags.c_contiguous:
            return a  # the core checks the range, and nothing is copied
        if a.size and (a.min() < 0 or a.max() >= self.input_size):
            bad = a[(a < 0) | (a >= self.input_size)].flat[0]
            raise ValueError(f"{fn}: token id {bad} is out of range [0, {self.input_size})")
        return np.ascontiguousarray(a, dtype=np.int32)

    def _sequence_ids(self, sequence, fn: str) -> np.ndarray:
        """One stream's token ids (T,) for run/generate, refused before any copy if the
        (T, V_out) logits could not be held."""
        if np.ndim(sequence) != 1:
            raise ValueError(
                f"{fn}: sequence must be a 1-D array of token ids, got shape {np.shape(sequence)}"
            )
        T = np.shape(sequence)[0]
        _core._check_alloc(f"{fn}: logits of {T} steps", T, self.output_size, 4)
        return self._token_ids(sequence, fn)

    def _token(self, x, fn: str) -> int:
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer, np.ndarray)):
            raise ValueError(f"{fn}: a token id must be an int, got {type(x).__name__}")
        return int(self._token_ids(x, fn).reshape(-1)[0])

    def step(self, x, state: GRUState | Sequence[GRUState] | None = None) -> np.ndarray:
        """Advance one time step and return the logits.

        Parameters
        ----------
        x : int, array
            Token input: an id (one stream) or ids (n,) (a batch): an int32 C-contiguous
            array is used as is, other integer arrays and lists of ints are converted (see
            the README, "Token ids"). Vector input: a float32 array (d,) (one stream) or
            (n, d) (a batch), every value finite (a NaN or an infinity is a ValueError naming
            the first one, checked before the state changes).
        state : GRUState or list of GRUState, optional
            The stream(s) to advance: a state from :meth:`new_state` (``batch`` must match
            n), or a list of n one-stream states (gathered into a batch and written back).
            None: the model's own state (made on first use with the right batch size).

        Returns
        -------
        numpy.ndarray
            float32 logits (V_out,) or (n, V_out).

        Notes
        -----
        The GIL is released while computing; distinct states may be stepped from several
        threads at once. One state may only be stepped by one call at a time (a concurrent
        second call raises ValueError).

        The first batch step packs a copy of the dense and block layers' ``W_ih`` and
        ``W_hh`` in the layout of the batch GEMM (``kernels.panel_gemm``): as many bytes
        again as those matrices, once per model (a one-stream user never pays it).
        """
        if type(x) is int and self._token_input and 0 <= x < self._input_size:
            # The common streaming call, kept short (the general path costs ~6 us more).
            if state is None:
                state = self._state if self._state is not None else self._own_state(1)
            return self._core.step_token(state, x)
        fn = "GRUStack.step"
        batch = self._is_batch(x)
        if batch:
            # The batch size is checked against the state(s) before any id is converted.
            n = np.shape(x)[0]
            if isinstance(state, (list, tuple)):
                if len(state) != n:
                    raise ValueError(f"{fn}: {len(state)} states for a batch of {n}")
            elif state is None:
                state = self._own_state(n)
            elif isinstance(state, GRUState) and state.batch != n:
                raise ValueError(f"{fn}: state holds {state.batch} stream(s), the input has {n}")
            X = self._token_ids(x, fn) if self._token_input else x
            if isinstance(state, (list, tuple)):
                return self._step_streams(X, list(state))
            return self._core.step_batch(state, X)
        if state is None:
            state = self._own_state(1)
        if self._token_input:
            return self._core.step_token(state, self._token(x, fn))
        return self._core.step_vector(state, x)

    __call__ = step

    def _own_state(self, n: int) -> GRUState:
        if self._state is None:
            self._state = self._core.new_state(max(int(n), 1))
        elif self._state.batch != n:
            raise ValueError(
                f"GRUStack.step: the model's own state holds {self._state.batch} "
                f"stream(s), the input has {n}; call reset() first or pass state="
            )
        return self._state

    def _step_streams(self, X, states: list) -> np.ndarray:
        fn = "GRUStack.step"
        n = np.shape(X)[0]
        if len(states) != n:
            raise ValueError(f"{fn}: {len(states)} states for a batch of {n}")
        if len({id(s) for s in states}) != n:
            raise ValueError(f"{fn}: the same state appears twice in the list")
        batch = self._core.new_state(max(n, 1))
        for i, s in enumerate(states):
            if not isinstance(s, GRUState) or s.batch != 1:
                raise ValueError(
                    f"{fn}: states[{i}] must be a one-stream GRUState, got {type(s).__name__}"
                )
            batch.copy_stream(s, 0, i)  # ValueError for a state of another model
        logits = self._core.step_batch(batch, X)
        for i, s in enumerate(states):
            s.copy_stream(batch, i, 0)
        return logits

    def run(self, sequence, state: GRUState | None = None) -> np.ndarray:
        """Logits (T, V_out) for every step of one stream's sequence (ids (T,) or finite
        float32 vectors (T, d)), in one C++ call. ``state`` None: a fresh zero state (the
        model's own state is not touched); pass a state to continue that stream (it is
        advanced by T steps).

        All or nothing: the ids (range), the vectors (finite) and the size of the result are
        checked, and the state is held for the whole call, before the first step; a refused
        call (ValueError, including a state in use by another thread) leaves the state as
        it was, and no other call sees it part-way (``state.steps`` counts whole runs)."""
        fn = "GRUStack.run"
        if self._token_input:
            sequence = self._sequence_ids(sequence, fn)
        state = self.new_state() if state is None else state
        return self._core.run(state, sequence)

    def generate(
        self, prefix_ids, n: int, temperature: float = 1.0, seed=None, state: GRUState | None = None
    ) -> np.ndarray:
        """Sample ``n`` tokens after ``prefix_ids`` (a token model whose outputs are its
        inputs). Each token is drawn from ``softmax(logits / temperature)`` by the core's
        sampler (ccinfer/sample.h: SplitMix64 seeded with ``seed``, an int in [0, 2^64), or
        fresh entropy for None), so the C API's ``ccinfer_sample`` with the same seed draws
        the same tokens; temperature 0 takes the argmax. Returns int64 ids (n,). ``state``: as
        in :meth:`run`. ``n``, ``temperature`` (a finite number >= 0), ``seed`` and the prefix
        are checked before anything is allocated or stepped."""
        fn = "GRUStack.generate"
        if not self._token_input or self.output_size != self.input_size:
            raise ValueError(f"{fn}: needs token input and output_size == input_size")
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"{fn}: n must be an int >= 0, got {n!r}")
        _core._check_alloc(f"{fn}: {n} token ids", int(n), 1, 8)  # before anything is made
        if (
            isinstance(temperature, (bool, np.bool_))
            or not isinstance(temperature, (int, float, np.integer, np.floating))
            or not (np.isfinite(temperature) and temperature >= 0)
        ):
            raise ValueError(f"{fn}: temperature must be a finite number >= 0, got {temperature!r}")
        if not isinstance(prefix_ids, (list, tuple, np.ndarray)):
            prefix_ids = [prefix_ids]
        prefix = self._sequence_ids(prefix_ids, fn)
        if prefix.size == 0:
            raise ValueError(f"{fn}: prefix_ids must be a non-empty 1-D sequence of ids")
        if seed is None:
            seed = secrets.randbits(64)
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"{fn}: seed must be None or an int in [0, 2^64), got {seed!r}")
        if not 0 <= int(seed) < 1 << 64:
            raise ValueError(f"{fn}: seed must be None or an int in [0, 2^64), got {seed!r}")
        rng = int(seed)
        state = self.new_state() if state is None else state
        logits = self._core.run(state, prefix)[-1]
        out = np.empty(int(n), np.int64)
        for t in range(int(n)):
            token, rng = _core.sample_token(logits, float(temperature), rng)
            out[t] = token
            if t + 1 < n:
                logits = self._core.step_token(state, token)
        return out

    # ---- statistics -------------------------------------------------------------------------
    def reset_stats(self) -> None:
        self._core.reset_stats()

    @property
    def stats(self) -> dict:
        """Per layer, over every step since :meth:`reset_stats` (all states, all threads):
        ``samples`` (stream-steps), ``z_density`` (fraction of units with z > 0; 1 for
        dense), ``rows_skipped`` (rows of W_ih/W_hh not read; token input: W_hh only) and
        per stream-step ``macs`` vs ``dense_macs``; for the whole stack the flop-bound
        speed-up (dense / conditional multiply-adds, output layer included)."""
        raw = self._core.stats()
        layers, total, dense_total = [], 0.0, 0.0
        d = self._input_size
        for i, (c, s) in enumerate(zip(self._layers, raw, strict=True)):
            h = c["hidden"]
            k_in = 0 if (i == 0 and self._token_input) else d
            n = max(s["samples"], 1)
            dense = 3 * h * (k_in + h)
            entry = {
                "kind": c["kind"],
                "samples": s["samples"],
                "z_density": s["z_active"] / (n * h),
                "rows_skipped": s["rows_skipped"],
                "rows_skipped_per_step": s["rows_skipped"] / n,
                "macs": s["macs"] / n,
                "dense_macs": dense,
            }
            layers.append(entry)
            if s["samples"]:
                total += s["macs"] / n
                dense_total += dense
            d = h
        out_macs = self._output[0].size
        speedup = ((dense_total + out_macs) / (total + out_macs)) if total else float("nan")
        return {"layers": layers, "flop_bound_speedup": speedup}

    # ---- files ------------------------------------------------------------------------------
    def to_model_file(self, card: dict | None = None) -> ModelFile:
        tensors = {}
        specs = []
        for i, c in enumerate(self._layers):
            for name, value in c["arrays"].items():
                tensors[f"layers.{i}.{name}"] = value
            spec = {"kind": c["kind"], "hidden": c["hidden"]}
            if c["kind"] == "lowrank":
                spec["rank"] = c["rank"]
            elif c["kind"] == "block":
                spec["gating"] = c["rank"]
            specs.append(spec)
        tensors["output.weight"], tensors["output.bias"] = self._output
        config = {
            "input": "tokens" if self._token_input else "vector",
            "input_size": self._input_size,
            "output_size": self.output_size,
            "layers": specs,
        }
        return ModelFile("GRUStack", config, tensors, dict(card if card is not None else self.card))

    def _runtime(self) -> dict[str, Any]:
        # The model's own stream, as its arrays (h per layer).
        s = self._state
        return {"state": None if s is None else [s.get_h(i) for i in range(s.num_layers)]}

    def _set_runtime(self, runtime: dict[str, Any]) -> None:
        h = runtime["state"]
        if h is not None:
            self._state = self._core.new_state(h[0].shape[0])
            for i, a in enumerate(h):
                self._state.set_h(i, a)

    @classmethod
    def from_model_file(cls, mf: ModelFile) -> GRUStack:
        """The model of a file checked by the reader (io.read_model_file): builds, checks
        nothing the reader has checked."""
        cfg, t = mf.config, mf.tensors
        layers = [
            {"kind": spec["kind"]}
            | {name: t[f"layers.{i}.{name}"] for name in LAYER_ARRAYS[spec["kind"]]}
            for i, spec in enumerate(cfg["layers"])
        ]
        W, b = t["output.weight"], t["output.bias"]
        # Matrices stored in float16 stay so (exact: they are float16 values already).
        big = [f"layers.{i}.{n}" for i in range(len(layers)) for n in ("W_ih", "W_hh")]
        half = all(mf.stored.get(name) == "F16" for name in big)
        model = cls(
            layers,
            (W, b),
            token_input=cfg["input"] == "tokens",
            weights="float16" if half else "float32",
        )
        model.card = dict(mf.card)
        return model


register_model("GRUStack", GRUStack.from_model_file)
