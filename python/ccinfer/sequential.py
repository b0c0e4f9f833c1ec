"""Sequential: ccinfer models run one after another, e.g. a ReLU layer of a CondMLP feeding a
tree-gated layer feeding a linear read-out (docs/format.md, kind ``Sequential``).

Each stage runs whole in C++ (one call per stage); a ReLU between stages is applied in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._base import ModelBase
from .io import ModelFile, register_model
from .mlp import CondMLP
from .tree import TreeGatedLinear

# The stage kinds a Sequential file may hold, and their readers (no nesting).
_STAGES = {"CondMLP": CondMLP, "TreeGated": TreeGatedLinear}
MAX_STAGES = 1024


def _kind(layer) -> str:
    for kind, cls in _STAGES.items():
        if isinstance(layer, cls):
            return kind
    raise ValueError(
        f"Sequential: a stage must be a CondMLP, a TreeGatedLinear or 'relu', got "
        f"{type(layer).__name__}"
    )


def _widths(layer) -> tuple[int, int]:
    return layer.input_size, layer.output_size


class Sequential(ModelBase):
    """Stages in order; the string ``"relu"`` after a stage applies ``max(., 0)`` to its output.

    Parameters
    ----------
    layers : sequence
        ``CondMLP`` and ``TreeGatedLinear`` objects, each optionally followed by ``"relu"``.
        A ``CondMLP`` ends with a linear layer, so ``[CondMLP([W1], [b1]), "relu", tree]`` is
        a dense ReLU layer feeding a tree-gated layer.

    Examples
    --------
    >>> stages = [CondMLP([W1], [b1]), "relu", tree, CondMLP([W3], [b3])]  # doctest: +SKIP
    >>> model = Sequential(stages)                                        # doctest: +SKIP
    >>> logits = model(x)                                                  # doctest: +SKIP
    """

    def __init__(self, layers: Sequence):
        stages: list[tuple[object, bool]] = []
        for item in layers:
            if isinstance(item, str):
                if item != "relu":
                    raise ValueError(f"Sequential: unknown stage {item!r} (only 'relu')")
                if not stages or stages[-1][1]:
                    raise ValueError("Sequential: 'relu' must follow a layer, once")
                stages[-1] = (stages[-1][0], True)
                continue
            _kind(item)
            if stages and _widths(stages[-1][0])[1] != _widths(item)[0]:
                raise ValueError(
                    f"Sequential: stage {len(stages)} takes {_widths(item)[0]} inputs but the "
                    f"previous stage gives {_widths(stages[-1][0])[1]}"
                )
            stages.append((item, False))
        if not stages:
            raise ValueError("Sequential: needs at least one layer")
        self._stages = stages
        self.card: dict[str, str] = {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Output for ``x`` of shape ``(in,)`` or ``(n, in)``, float32 C-contiguous, every
        value finite: a bad input (a NaN or an infinity included) is a ValueError naming the
        stage that refused it (stage 0 for the caller's own ``x``)."""
        for i, (layer, relu) in enumerate(self._stages):
            try:
                x = layer(x)
            except ValueError as e:
                raise ValueError(f"Sequential: stage {i} ({_kind(layer)}): {e}") from e
            if relu:
                np.maximum(x, 0, out=x)
        return x

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class indices (argmax of the output) for a batch."""
        return np.argmax(self(X), axis=-1)

    @property
    def layers(self) -> list:
        """The stages, with ``"relu"`` entries where one follows, as given."""
        out: list = []
        for layer, relu in self._stages:
            out.extend([layer, "relu"] if relu else [layer])
        return out

    @property
    def input_size(self) -> int:
        return _widths(self._stages[0][0])[0]

    @property
    def output_size(self) -> int:
        return _widths(self._stages[-1][0])[1]

    # nn.Linear's names for the same sizes.
    in_features = input_size
    out_features = output_size

    def __repr__(self) -> str:
        stages = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential(\n{stages}\n)"

    # ---- files ------------------------------------------------------------------------------
    def to_model_file(self, card: dict | None = None) -> ModelFile:
        stages, tensors = [], {}
        for i, (layer, relu) in enumerate(self._stages):
            mf = layer.to_model_file()
            stages.append({"kind": mf.kind, "config": mf.config, "relu": relu})
            tensors.update({f"stages.{i}.{name}": t for name, t in mf.tensors.items()})
        return ModelFile("Sequential", {"stages": stages}, tensors, dict(card or {}))

    def _runtime(self) -> dict[str, Any]:
        return {"stages": [layer._runtime() for layer, _ in self._stages]}

    def _set_runtime(self, runtime: dict[str, Any]) -> None:
        for (layer, _), own in zip(self._stages, runtime["stages"], strict=True):
            layer._set_runtime(own)

    @classmethod
    def from_model_file(cls, mf: ModelFile) -> Sequential:
        """The model of a file checked by the reader (io.read_model_file): builds, checks
        nothing the reader has checked."""
        layers: list = []
        for i, spec in enumerate(mf.config["stages"]):
            prefix = f"stages.{i}."
            own = {k[len(prefix) :]: t for k, t in mf.tensors.items() if k.startswith(prefix)}
            layers.append(
                _STAGES[spec["kind"]].from_model_file(ModelFile(spec["kind"], spec["config"], own))
            )
            if spec["relu"]:
                layers.append("relu")
        model = cls(layers)
        model.card = mf.card
        return model


register_model("Sequential", Sequential.from_model_file)
