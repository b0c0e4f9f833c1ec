"""PyTorch for the tests that need it: skipped when missing, unless CI requires it."""

from __future__ import annotations

import os
import types

import pytest


def require_torch() -> types.ModuleType:
    """Import and return ``torch``, or skip the calling test module if it is not installed.

    With the environment variable ``CCINFER_REQUIRE_TORCH=1`` (set in CI) PyTorch is imported
    directly, so a missing PyTorch is an error instead of a silent skip.

    Returns
    -------
    module
        The ``torch`` module.
    """
    if os.environ.get("CCINFER_REQUIRE_TORCH") == "1":
        import torch

        return torch
    return pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One PyTorch thread for a test module's tiny ops, which only lose from a thread pool on
    a shared machine. Autouse: a module that imports it runs with it."""
    torch = require_torch()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
