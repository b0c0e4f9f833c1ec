"""The C examples (cpp/examples/*.c) on a core built without BLAS and without Python, against
Python's outputs. The binaries come from CCINFER_C_EXAMPLES (.ci/c_consumer.sh builds them
against the installed core) or are built here with CMake (build/c-core, the same directory and
options as that script, kept between runs).

What is equal bit for bit and why: the GRU never calls BLAS, so generated text and logits are
equal; a single CondMLP/Sequential sample at two threads runs ccinfer's own gemv kernel in
Python too, which the BLAS-free dense path also uses, so those logits are equal. A batch runs
OpenBLAS' sgemm in Python and ccinfer's kernel here: equal classes, logits within 1e-5.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import ccinfer
from ccinfer.datasets import decode_text, encode_text

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    given = os.environ.get("CCINFER_C_EXAMPLES")
    if given:
        return Path(given)
    if shutil.which("cmake") is None or shutil.which("cc") is None:
        pytest.fail("building the C examples needs cmake and a C compiler")
    build = ROOT / "build" / "c-core"
    configure = [
        "cmake", "-S", str(ROOT), "-B", str(build), "-DCCINFER_BUILD_PYTHON=OFF",
        "-DCCINFER_BLAS=OFF", "-DCCINFER_BUILD_EXAMPLES=ON", "-DCCINFER_INSTALL=ON",
        f"-DCMAKE_INSTALL_PREFIX={build / 'prefix'}", "-DCMAKE_BUILD_TYPE=Release",
        "-DCMAKE_DISABLE_FIND_PACKAGE_Python=ON",
    ]  # fmt: skip
    subprocess.run(configure, check=True, capture_output=True)
    targets = ["--target", "classify_digits", "--target", "generate_text"]
    subprocess.run(
        ["cmake", "--build", str(build), "-j2", *targets], check=True, capture_output=True
    )
    return build


@pytest.fixture(autouse=True)
def _two_threads():
    previous = ccinfer.get_num_threads()
    ccinfer.set_num_threads(2)
    yield
    ccinfer.set_num_threads(previous)


def _parse(out: str) -> dict[str, np.ndarray]:
    rows: dict[str, list] = {"single": [], "batch": []}
    classes: dict[str, list] = {"single": [], "batch": []}
    for line in out.splitlines():
        path, _, cls, *values = line.split()
        rows[path].append([float.fromhex(v) for v in values])
        classes[path].append(int(cls))
    return {k: np.array(v, np.float32) for k, v in rows.items()} | {
        f"{k}_class": np.array(v) for k, v in classes.items()
    }


@pytest.mark.parametrize(
    "model", ["mnist/mnist-50-35-25.safetensors", "tree/mnist-tree-k4.safetensors"]
)
def test_classify_digits(bin_dir, model, tmp_path):
    rng = np.random.default_rng(19)
    x = rng.random((7, 784), dtype=np.float32)
    x[x < 0.6] = 0  # MNIST-like: mostly zero pixels
    pixels = tmp_path / "pixels.f32"
    x.tofile(pixels)
    env = dict(os.environ, OMP_NUM_THREADS="2")
    out = subprocess.run(
        [str(bin_dir / "classify_digits"), str(MODELS / model), str(pixels)],
        check=True, capture_output=True, text=True, env=env,
    ).stdout  # fmt: skip
    got = _parse(out)
    py = ccinfer.load(MODELS / model)
    single = np.stack([py(row) for row in x])
    assert np.array_equal(got["single"], single)  # bit for bit
    assert np.array_equal(got["single_class"], single.argmax(1))
    batch = py(x)
    assert np.array_equal(got["batch_class"], batch.argmax(1))
    np.testing.assert_allclose(got["batch"], batch, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sampling", [(), ("0.8", "7"), ("1.5", "18446744073709551615")])
@pytest.mark.parametrize("model", ["char-unstructured-h256", "char-block-h256", "char-dense-h256"])
def test_generate_text(bin_dir, model, sampling):
    """Greedy, or seeded sampling: the text Python's generate gives, bit for bit."""
    path = MODELS / "text" / f"{model}.safetensors"
    prefix = "the lord said unto "
    out = subprocess.run(
        [str(bin_dir / "generate_text"), str(path), prefix, "80", *sampling],
        check=True, capture_output=True, text=True,
    ).stdout.splitlines()  # fmt: skip
    py = ccinfer.load(path)
    ids = encode_text(prefix)
    temperature, seed = (float(sampling[0]), int(sampling[1])) if sampling else (0, None)
    assert out[0] == decode_text(py.generate(ids, 80, temperature=temperature, seed=seed))
    logits = np.array([float.fromhex(v) for v in out[1].split()], np.float32)
    assert np.array_equal(logits, py.run(ids)[-1])  # bit for bit


def test_examples_refuse_a_bad_file(bin_dir, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10" + b"\0" * 7 + b"{}")
    result = subprocess.run(
        [str(bin_dir / "classify_digits"), str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "CCINFER_BAD_MODEL" in result.stderr and "header declares 16 bytes" in result.stderr
