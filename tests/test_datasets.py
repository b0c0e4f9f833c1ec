"""Tests of the MNIST loader in ccinfer.datasets."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from ccinfer.datasets import load_mnist, resolve_data_dir

from .conftest import DATA_DIR

TRAIN_HISTOGRAM = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

needs_data = pytest.mark.skipif(
    not (DATA_DIR / "mnist").is_dir(), reason=f"data not found at {DATA_DIR}"
)


def _idx_bytes(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    header = np.array([magic, *dims], dtype=">i4").tobytes()
    return header + payload


def _write_mnist(
    root: Path,
    images: bytes | None = None,
    labels: bytes | None = None,
) -> Path:
    """Write a small valid test split (3 images) to ``root/mnist``, with optional overrides."""
    pixels = np.arange(3 * 28 * 28, dtype=np.int64).astype(np.uint8)
    if images is None:
        images = gzip.compress(_idx_bytes(2051, (3, 28, 28), pixels.tobytes()))
    if labels is None:
        labels = gzip.compress(_idx_bytes(2049, (3,), bytes([7, 0, 9])))
    (root / "mnist").mkdir(parents=True, exist_ok=True)
    (root / "mnist" / "t10k-images.idx3-ubyte.gz").write_bytes(images)
    (root / "mnist" / "t10k-labels.idx1-ubyte.gz").write_bytes(labels)
    return root


@pytest.fixture(scope="module")
def mnist_train():
    return load_mnist(DATA_DIR, "train")


@pytest.fixture(scope="module")
def mnist_test():
    return load_mnist(DATA_DIR, "test")


@needs_data
def test_train_shapes_dtypes_and_labels(mnist_train):
    images, labels = mnist_train
    assert images.shape == (60000, 784)
    assert images.dtype == np.float32
    assert labels.shape == (60000,)
    assert labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == TRAIN_HISTOGRAM


@needs_data
def test_test_shapes_dtypes_and_labels(mnist_test):
    images, labels = mnist_test
    assert images.shape == (10000, 784)
    assert images.dtype == np.float32
    assert labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == TEST_HISTOGRAM


@needs_data
def test_value_range(mnist_test):
    images, _ = mnist_test
    assert images.min() == 0.0
    assert images.max() == 1.0
    # Scaled by 255: every value is a multiple of 1/255.
    np.testing.assert_allclose(images * 255, np.round(images * 255), atol=1e-4)
    # Digits are dark strokes on a mostly empty background.
    assert 0.05 < images.mean() < 0.3


def test_small_valid_file_round_trip(tmp_path):
    images, labels = load_mnist(_write_mnist(tmp_path), "test")
    expected = np.arange(3 * 28 * 28, dtype=np.int64).astype(np.uint8).reshape(3, 784)
    np.testing.assert_array_equal(images, expected.astype(np.float32) / np.float32(255))
    assert labels.tolist() == [7, 0, 9]


def test_wrong_magic_raises(tmp_path):
    bad = gzip.compress(_idx_bytes(2049, (3, 28, 28), bytes(3 * 784)))
    with pytest.raises(ValueError, match="magic number 2049, expected 2051"):
        load_mnist(_write_mnist(tmp_path, images=bad), "test")


def test_truncated_data_raises(tmp_path):
    bad = gzip.compress(_idx_bytes(2051, (3, 28, 28), bytes(2 * 784 + 100)))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_mnist(_write_mnist(tmp_path, images=bad), "test")


def test_truncated_header_raises(tmp_path):
    bad = gzip.compress(np.array([2049], dtype=">i4").tobytes())
    with pytest.raises(ValueError, match="truncated idx header"):
        load_mnist(_write_mnist(tmp_path, labels=bad), "test")


def test_truncated_gzip_stream_raises(tmp_path):
    full = gzip.compress(_idx_bytes(2051, (3, 28, 28), bytes(range(256)) * 10))
    with pytest.raises(ValueError, match="not a readable gzip file"):
        load_mnist(_write_mnist(tmp_path, images=full[: len(full) // 2]), "test")


def test_wrong_image_size_raises(tmp_path):
    bad = gzip.compress(_idx_bytes(2051, (3, 27, 27), bytes(3 * 27 * 27)))
    with pytest.raises(ValueError, match="27x27, expected 28x28"):
        load_mnist(_write_mnist(tmp_path, images=bad), "test")


def test_count_mismatch_raises(tmp_path):
    labels = gzip.compress(_idx_bytes(2049, (2,), bytes([1, 2])))
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        load_mnist(_write_mnist(tmp_path, labels=labels), "test")


def test_label_out_of_range_raises(tmp_path):
    labels = gzip.compress(_idx_bytes(2049, (3,), bytes([1, 2, 10])))
    with pytest.raises(ValueError, match="out of range"):
        load_mnist(_write_mnist(tmp_path, labels=labels), "test")


def test_missing_file_raises(tmp_path):
    (tmp_path / "mnist").mkdir()
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        load_mnist(tmp_path, "test")


def test_unknown_split_raises(tmp_path):
    with pytest.raises(ValueError, match="unknown MNIST split"):
        load_mnist(tmp_path, "validation")


def test_missing_default_data_dir_raises(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CCINFER_DATA", raising=False)
    with pytest.raises(ValueError, match="set CCINFER_DATA or pass the path of the data directory"):
        resolve_data_dir()
    with pytest.raises(ValueError, match="no data directory given"):
        load_mnist(split="test")
