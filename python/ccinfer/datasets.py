"""Loaders for the data sets the models are trained and evaluated on.

Everything here reads local files only; nothing is ever downloaded. The data directory is a
parameter; by default it is ``../shared/data`` relative to the working directory (the layout
developers and CI see from the project root).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

DEFAULT_DATA_DIR = Path("../shared/data")

_MNIST_FILES = {
    "train": ("train-images.idx3-ubyte.gz", "train-labels.idx1-ubyte.gz"),
    "test": ("t10k-images.idx3-ubyte.gz", "t10k-labels.idx1-ubyte.gz"),
}
_IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
_IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
_MNIST_SHAPE = (28, 28)


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Return the data directory to read from.

    Parameters
    ----------
    data_dir : str or Path, optional
        The directory holding the data sets (with ``mnist/``, ``text/`` below it). If None,
        ``../shared/data`` relative to the current working directory is used when it exists.

    Returns
    -------
    Path
        The data directory.

    Raises
    ------
    ValueError
        If `data_dir` is None and the default directory does not exist.
    """
    if data_dir is not None:
        return Path(data_dir)
    if DEFAULT_DATA_DIR.is_dir():
        return DEFAULT_DATA_DIR
    raise ValueError(
        f"no data directory given and the default {DEFAULT_DATA_DIR} does not exist "
        f"(relative to {Path.cwd()}); pass the path of the shared data directory explicitly"
    )


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Read a gzip-compressed idx file of unsigned bytes.

    Parameters
    ----------
    path : Path
        The ``.gz`` file.
    magic : int
        The expected magic number; its low byte is the number of dimensions.

    Returns
    -------
    numpy.ndarray
        uint8 array with the dimensions stored in the file.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not valid gzip, has the wrong magic number, or its length does not match
        the dimensions in its header.
    """
    if not path.is_file():
        raise FileNotFoundError(f"MNIST file not found: {path}")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: not a readable gzip file ({exc})") from exc
    ndim = magic & 0xFF
    header_len = 4 * (1 + ndim)
    if len(raw) < header_len:
        raise ValueError(f"{path}: truncated idx header ({len(raw)} bytes, need {header_len})")
    header = np.frombuffer(raw, dtype=">i4", count=1 + ndim)
    if int(header[0]) != magic:
        raise ValueError(f"{path}: idx magic number {int(header[0])}, expected {magic}")
    dims = tuple(int(d) for d in header[1:])
    if any(d < 0 for d in dims):
        raise ValueError(f"{path}: negative idx dimension in {dims}")
    expected = int(np.prod(dims))
    if len(raw) - header_len != expected:
        raise ValueError(
            f"{path}: idx data has {len(raw) - header_len} bytes, dimensions {dims} need "
            f"{expected} (truncated or corrupt file)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims)


def load_mnist(
    data_dir: str | Path | None = None, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Load the MNIST digits from the gzip idx files in ``<data_dir>/mnist/``.

    Parameters
    ----------
    data_dir : str or Path, optional
        The shared data directory (the one holding ``mnist/``). Default: ``../shared/data``
        relative to the working directory, if it exists.
    split : {"train", "test"}
        The 60,000 training or the 10,000 test images.

    Returns
    -------
    images : numpy.ndarray
        float32, shape (N, 784): the 28x28 images flattened row by row, pixel values divided
        by 255 so that they lie in [0, 1].
    labels : numpy.ndarray
        int64, shape (N,), digits 0-9.

    Raises
    ------
    ValueError
        If `split` is unknown, no data directory can be found, or a file is malformed (wrong
        magic number, wrong image size, truncated data, labels out of range, or image and label
        counts that differ).
    FileNotFoundError
        If one of the two files is missing.
    """
    if split not in _MNIST_FILES:
        raise ValueError(f"unknown MNIST split {split!r}; expected 'train' or 'test'")
    mnist_dir = resolve_data_dir(data_dir) / "mnist"
    images_file, labels_file = _MNIST_FILES[split]
    images = _read_idx(mnist_dir / images_file, _IDX_IMAGES_MAGIC)
    labels = _read_idx(mnist_dir / labels_file, _IDX_LABELS_MAGIC)
    if images.shape[1:] != _MNIST_SHAPE:
        raise ValueError(
            f"{mnist_dir / images_file}: images are {images.shape[1]}x{images.shape[2]}, "
            f"expected {_MNIST_SHAPE[0]}x{_MNIST_SHAPE[1]}"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{mnist_dir}: {images.shape[0]} images but {labels.shape[0]} labels in the "
            f"{split} split"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{mnist_dir / labels_file}: label {labels.max()} out of range 0-9")
    flat = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255.0)
    return flat, labels.astype(np.int64)
