"""A call of a method that does not exist: ``mypy --strict`` must report it (test_typing.py)."""

from __future__ import annotations

import ccinfer

model = ccinfer.CondMLP.load("models/mnist/mnist-50-35-25.safetensors")
model.autotune_everything()
ccinfer.kernels.cond_gemv_fast(model.weights[0], model.weights[0][0])
