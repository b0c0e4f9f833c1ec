"""What every model class shares: its file, its bytes, pickling and copying through them, and
the names of its sizes.

A model pickles as the bytes of its model file (docs/format.md: safetensors, no code) plus
the few settings a file does not hold (``_runtime``), so ``multiprocessing``,
``concurrent.futures``, Dask and Ray can ship it and ``copy.deepcopy`` makes an independent
copy. Unpickling runs the same checks as ``ccinfer.load``. Statistics (``stats``) are counts
of one object's calls and start again from zero in the copy.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any, TypeVar

import numpy as np

from .io import ModelFile, load, model_file_bytes, write_model_file

M = TypeVar("M", bound="ModelBase")


def expect_kind(cls: type[M], model: object, source: object) -> M:
    """``model`` if it is a ``cls``, else a ValueError naming what the file holds."""
    if not isinstance(model, cls):
        raise ValueError(
            f"ccinfer.load: {source if isinstance(source, (str, os.PathLike)) else '<bytes>'} "
            f"holds a {type(model).__name__}, not a {cls.__name__}"
        )
    return model


def _restore(cls: type[M], data: bytes, runtime: dict[str, Any]) -> M:
    """The inverse of ``ModelBase.__reduce__`` (module level so that pickle can name it)."""
    model = cls.from_bytes(data)
    model._set_runtime(runtime)
    return model


class ModelBase(ABC):
    """The shared part of ``CondMLP``, ``GRUStack``, ``Sequential`` and ``TreeGatedLinear``."""

    card: dict[str, str]

    # ---- what each model class defines ------------------------------------------------------
    @abstractmethod
    def to_model_file(self, card: dict[str, str] | None = None) -> ModelFile:
        """The model as a model file's contents (kind, config, tensors, card)."""

    @property
    @abstractmethod
    def input_size(self) -> int:
        """Width of one input (a GRUStack with token input: the vocabulary size)."""

    @property
    @abstractmethod
    def output_size(self) -> int:
        """Width of one output (logits)."""

    def _runtime(self) -> dict[str, Any]:
        """Settings a pickle keeps that the model file does not (switches, a stream's state)."""
        return {}

    def _set_runtime(self, runtime: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Restore what ``_runtime`` kept; a model without such settings has nothing to do."""

    # ---- files and bytes --------------------------------------------------------------------
    def save(
        self,
        path: str | os.PathLike[str],
        card: dict[str, str] | None = None,
        store_dtype: type | None = np.float32,
    ) -> None:
        """Write the model (docs/format.md). ``card``: free-form strings kept in the file
        (default :attr:`card`). ``store_dtype`` float16 halves the file (rounding the weights
        once); None keeps each tensor in the dtype the model holds it in (a GRUStack with
        ``weights="float16"`` then loads as it was saved)."""
        write_model_file(path, self.to_model_file(self.card if card is None else card), store_dtype)

    def to_bytes(self, card: dict[str, str] | None = None) -> bytes:
        """The model file as bytes, every tensor in the dtype it has in memory (exact):
        ``from_bytes`` or ``ccinfer.load`` read it back."""
        return model_file_bytes(self.to_model_file(self.card if card is None else card), None)

    @classmethod
    def from_bytes(cls: type[M], data: bytes) -> M:
        """A model from :meth:`to_bytes` (or a model file's bytes), checked as ``load`` checks
        a file; a ValueError if it holds another kind of model."""
        return expect_kind(cls, load(data), data)

    @classmethod
    def load(cls: type[M], path: str | os.PathLike[str]) -> M:
        """``ccinfer.load(path)`` typed as this class: a ValueError if the file holds another
        kind of model."""
        return expect_kind(cls, load(path), path)

    # ---- pickle and copy --------------------------------------------------------------------
    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.to_bytes(), self._runtime()))
