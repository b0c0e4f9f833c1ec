"""What a user writes, checked by ``mypy --strict`` in test_typing.py (it also runs)."""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

import ccinfer
from ccinfer import kernels


def mlp_logits(path: Path, X: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    model = ccinfer.load(path, kind=ccinfer.CondMLP)
    report = model.autotune(X[:8], repeats=1)
    plan: list[str] = report["plan"]
    assert model.plan == plan and model.input_size == X.shape[1]
    same = ccinfer.CondMLP.from_bytes(model.to_bytes())
    logits: npt.NDArray[np.float32] = same(X)
    return logits


def stream(path: Path, ids: list[int]) -> float:
    model = ccinfer.GRUStack.load(path)
    state: ccinfer.GRUState = model.new_state()
    for token in ids:
        model.step(token, state=state)
    model2, state2 = pickle.loads(pickle.dumps((model, state)))
    assert isinstance(model2, ccinfer.GRUStack) and isinstance(state2, ccinfer.GRUState)
    return float(model2.step(ids[0], state=state2).max())


def any_model(path: Path) -> int:
    model: ccinfer.Model = ccinfer.load(path)
    print(repr(model))
    return model.input_size + model.output_size


def kernel() -> npt.NDArray[np.float32]:
    W = np.ones((4, 3), np.float32)
    x = np.ones(3, np.float32)
    rows = np.array([0, 2], np.int32)
    y = kernels.cond_gemv(W, x, rows)
    threshold: float = kernels.block_gated_gemm_dense_threshold()
    print(threshold, ccinfer.get_num_threads())
    return y


def main() -> None:
    rng = np.random.default_rng(0)
    mlp = ccinfer.CondMLP.from_dense(
        [rng.standard_normal((8, 6)).astype(np.float32), np.ones((2, 8), np.float32)],
        [np.zeros(8, np.float32), np.zeros(2, np.float32)],
        ranks=[2],
    )
    folder = Path(tempfile.mkdtemp())
    mlp.save(folder / "mlp.safetensors")
    print(mlp_logits(folder / "mlp.safetensors", np.ones((10, 6), np.float32)).shape)
    print(any_model(folder / "mlp.safetensors"), kernel())
    print(stream(Path("models/text/char-unstructured-h256.safetensors"), [1, 2, 3]))


if __name__ == "__main__":
    main()
