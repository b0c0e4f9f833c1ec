"""Optional frameworks for the tests that need them: skipped when missing, unless CI requires
them with an environment variable (as ``CCINFER_REQUIRE_TORCH`` does for PyTorch)."""

from __future__ import annotations

import importlib
import os
import types

import pytest


def require(module: str, env: str) -> types.ModuleType:
    """Import and return ``module``, or skip the calling test module if it is not installed.

    With ``env=1`` in the environment the module is imported directly, so a missing framework
    is an error instead of a silent skip.
    """
    if os.environ.get(env) == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module)


def require_keras() -> types.ModuleType:
    """Keras 3 on the backend the environment names, PyTorch if it names none (the backend the
    test environment has; Keras' own default is TensorFlow)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return require("keras", "CCINFER_REQUIRE_KERAS")
