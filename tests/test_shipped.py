"""Shipped models by name (ccinfer.shipped_models, ccinfer.load("name")) and the data sample
the demo runs on without a data directory."""

from pathlib import Path

import numpy as np
import pytest

import ccinfer
from ccinfer import shipped
from ccinfer.datasets import VOCAB


def test_listing_names_every_model_this_install_has():
    models = ccinfer.shipped_models()
    # An installed package (wheel or `pip install .`) has the models marked for the wheel; an
    # editable install reads models/ of the checkout, which has the full set.
    installed = shipped.models_dir() == Path(ccinfer.__file__).resolve().parent / "models"
    expected = {n for n, (_, _, in_wheel) in shipped.MODELS.items() if in_wheel or not installed}
    assert set(models) == expected
    assert all(isinstance(d, str) and d for d in models.values())


def test_load_by_name_is_load_by_path():
    by_name = ccinfer.load("mnist-50-35-25")
    by_path = ccinfer.load(shipped.models_dir() / "mnist/mnist-50-35-25.safetensors")
    assert isinstance(by_name, ccinfer.CondMLP)
    x = np.linspace(0, 1, 784, dtype=np.float32)
    np.testing.assert_array_equal(by_name(x), by_path(x))


@pytest.mark.parametrize("name", ["char-block-h256", "mnist-tree-k4"])
def test_other_kinds_load_by_name(name):
    assert ccinfer.load(name) is not None


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(FileNotFoundError, match="mnist-50-35-25") as e:
        ccinfer.load("mnist-51")
    assert "shipped models" in str(e.value)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        ccinfer.load(str(tmp_path / "gone.safetensors"))


def test_a_file_in_the_working_directory_wins_over_a_name(tmp_path, monkeypatch):
    ccinfer.load("char-dense-h256").save(tmp_path / "mnist-50-35-25")
    monkeypatch.chdir(tmp_path)
    assert isinstance(ccinfer.load("mnist-50-35-25"), ccinfer.GRUStack)


def test_model_missing_from_this_install_says_where_the_full_set_is(monkeypatch, tmp_path):
    # A wheel: only the models marked for it are installed.
    for name, (rel, _, in_wheel) in shipped.MODELS.items():
        if in_wheel or name == "mnist-50-35-25":
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_bytes(b"")
    monkeypatch.setattr(shipped, "models_dir", lambda: tmp_path)
    assert "char-dense-h1024-l2" not in ccinfer.shipped_models()
    with pytest.raises(FileNotFoundError, match="source") as e:
        ccinfer.load("char-dense-h1024-l2")
    assert shipped.REPOSITORY in str(e.value)


def test_sample_is_real_data_of_the_documented_shape():
    s = shipped.load_sample()
    assert s["images"].shape == (1000, 784) and s["images"].dtype == np.float32
    assert 0.0 <= s["images"].min() and s["images"].max() <= 1.0
    # The first 1,000 test digits hold every class (the full test set's histogram is known).
    assert s["labels"].shape == (1000,) and set(s["labels"].tolist()) == set(range(10))
    assert s["text"].shape == (30_000,) and s["text"].max() < len(VOCAB)
    # Real prose: spaces are about a sixth of the symbols of English text.
    assert 0.12 < float(np.mean(s["text"] == 0)) < 0.25


def test_wheel_excludes_exactly_the_models_marked_not_in_it():
    # CMakeLists.txt's install(DIRECTORY models/ ...) and shipped.MODELS must agree, or a
    # wheel lists a model it lacks (or carries one it never offers).
    import re
    from pathlib import Path

    cmake = (Path(__file__).resolve().parents[1] / "CMakeLists.txt").read_text()
    excluded = set(re.findall(r'PATTERN "([^"*]+)\.safetensors" EXCLUDE', cmake))
    marked = {Path(rel).stem for rel, _, in_wheel in shipped.MODELS.values() if not in_wheel}
    assert excluded == marked
