"""``ccinfer.load`` typed for users: the union of the model classes, or exactly the class asked
for with ``kind=``, so a type checker sees the model's methods."""

from __future__ import annotations

import os
from typing import TypeVar, cast, overload

from . import io
from ._base import ModelBase, expect_kind
from .gru import GRUStack
from .mlp import CondMLP
from .sequential import Sequential
from .tree import TreeGatedLinear

#: Any ccinfer model (what :func:`load` returns without ``kind``).
Model = CondMLP | GRUStack | Sequential | TreeGatedLinear

M = TypeVar("M", bound=ModelBase)


@overload
def load(path: str | os.PathLike[str] | bytes) -> Model: ...
@overload
def load(path: str | os.PathLike[str] | bytes, kind: type[M]) -> M: ...
def load(path: str | os.PathLike[str] | bytes, kind: type[M] | None = None) -> Model | M:
    """Load a ccinfer model file (docs/format.md), or the bytes of one, as the object of its
    class.

    Parameters
    ----------
    path : str, os.PathLike or bytes
    kind : CondMLP, GRUStack, Sequential or TreeGatedLinear, optional
        The class the file must hold; the result is typed as it (``CondMLP.load(path)`` is
        the same). Without it the result is typed as :data:`Model`, the union of the classes.

    Raises
    ------
    ValueError
        For a malformed, truncated or hostile file, naming the problem, or a file holding a
        model of another class than ``kind``.
    """
    model = io.load(path)
    if kind is not None:
        return expect_kind(kind, model, path)
    return cast(Model, model)  # every registered reader builds one of these classes
