"""Loaders for the data sets the models are trained and evaluated on.

Everything here reads local files only; nothing is ever downloaded. The data directory (the
one holding ``mnist/`` and ``text/``) is a parameter; by default it is ``$CCINFER_DATA`` when
that is set, else ``data`` relative to the working directory (from a source checkout: the
repository's ``data/``, which git ignores; put or link the data sets there).
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from pathlib import Path

import numpy as np

DATA_DIR_ENV = "CCINFER_DATA"
DEFAULT_DATA_DIR = Path("data")

_MNIST_FILES = {
    "train": ("train-images.idx3-ubyte.gz", "train-labels.idx1-ubyte.gz"),
    "test": ("t10k-images.idx3-ubyte.gz", "t10k-labels.idx1-ubyte.gz"),
}
_IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
_IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
_MNIST_SHAPE = (28, 28)


def default_data_dir() -> Path:
    """``$CCINFER_DATA`` when set, else ``data`` (relative to the working directory)."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Return the data directory to read from.

    Parameters
    ----------
    data_dir : str or Path, optional
        The directory holding the data sets (with ``mnist/``, ``text/`` below it). If None,
        `default_data_dir` is used when it exists.

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
    default = default_data_dir()
    if default.is_dir():
        return default
    raise ValueError(
        f"no data directory given and the default {default} does not exist (relative to "
        f"{Path.cwd()}); set {DATA_DIR_ENV} or pass the path of the data directory explicitly"
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
        The data directory (the one holding ``mnist/``). Default: `default_data_dir`, if it
        exists.
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


VOCAB = " abcdefghijklmnopqrstuvwxyz"
"""The 27 symbols of the character models: id 0 is the space, ids 1..26 are ``a``..``z``."""

TEXT_CORPORA = {"austen": "austen.txt.gz", "kjv": "kjv.txt.gz"}
_DIGIT_WORDS = {
    ord(str(i)): f" {w} "
    for i, w in enumerate("zero one two three four five six seven eight nine".split())
}
_NOT_A_TO_Z = re.compile(r"[^a-z]+")
_ASCII_SPACE = 32
_ASCII_A = 97


def clean_text(raw: str) -> str:
    """Clean text the way text8 was cleaned (Mahoney's ``wikifil.pl``), keeping 27 symbols.

    Lower-case everything, spell every digit out as a word surrounded by spaces (``"1984"``
    becomes ``"one nine eight four"``, ``"a1"`` becomes ``"a one"``), turn every character
    that is not ``a``-``z`` into a space, collapse runs of spaces into one and strip spaces at
    both ends.

    Parameters
    ----------
    raw : str
        Any text.

    Returns
    -------
    str
        Only ``a``-``z`` and single spaces, no space first or last.
    """
    text = raw.lower().translate(_DIGIT_WORDS)
    return _NOT_A_TO_Z.sub(" ", text).strip(" ")


def encode_text(text: str) -> np.ndarray:
    """Map cleaned text to symbol ids (space 0, ``a``..``z`` 1..26; see `VOCAB`).

    Parameters
    ----------
    text : str
        Text holding only ``a``-``z`` and spaces, as returned by `clean_text`.

    Returns
    -------
    numpy.ndarray
        uint8 ids, one per character.

    Raises
    ------
    ValueError
        If `text` holds any other character.
    """
    try:
        codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError as exc:
        raise ValueError(f"encode_text: text is not cleaned ({exc})") from exc
    ids = np.where(codes == _ASCII_SPACE, 0, codes.astype(np.int16) - (_ASCII_A - 1))
    bad = (ids < 0) | (ids >= len(VOCAB))
    if bad.any():
        first = int(np.argmax(bad))
        raise ValueError(
            f"encode_text: character {text[first]!r} at {first} is not in the 27-symbol "
            "vocabulary; clean the text with clean_text first"
        )
    return ids.astype(np.uint8)


def decode_text(ids: np.ndarray) -> str:
    """Map symbol ids back to text; the inverse of `encode_text`.

    Parameters
    ----------
    ids : array_like of int
        Ids in ``0..26``.

    Returns
    -------
    str
        The text.
    """
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= len(VOCAB)):
        raise ValueError(f"decode_text: ids must lie in 0..{len(VOCAB) - 1}")
    table = np.frombuffer(VOCAB.encode("ascii"), dtype=np.uint8)
    return table[ids.astype(np.intp)].tobytes().decode("ascii")


def load_text(data_dir: str | Path | None = None, corpus: str = "austen") -> np.ndarray:
    """Load a prose corpus from ``<data_dir>/text/``, cleaned and encoded as symbol ids.

    Parameters
    ----------
    data_dir : str or Path, optional
        The data directory (the one holding ``text/``). Default: `default_data_dir`, if it
        exists.
    corpus : {"austen", "kjv", "both"}
        Jane Austen's novels, the King James Bible, or both: the cleaned Austen text, one
        space, then the cleaned Bible.

    Returns
    -------
    numpy.ndarray
        uint8 symbol ids in ``0..26`` (`VOCAB`: space 0, ``a``..``z`` 1..26).

    Raises
    ------
    ValueError
        If `corpus` is unknown, no data directory can be found, or a file is not valid gzip
        or not UTF-8.
    FileNotFoundError
        If a corpus file is missing.
    """
    if corpus == "both":
        return np.concatenate([load_text(data_dir, "austen"), [0], load_text(data_dir, "kjv")])
    if corpus not in TEXT_CORPORA:
        raise ValueError(f"unknown corpus {corpus!r}; expected 'austen', 'kjv' or 'both'")
    path = resolve_data_dir(data_dir) / "text" / TEXT_CORPORA[corpus]
    if not path.is_file():
        raise FileNotFoundError(f"text corpus not found: {path}")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read().decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable gzip file of UTF-8 text ({exc})") from exc
    return encode_text(clean_text(raw))


def text_split(ids: np.ndarray, valid_fraction: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Split a text into training and validation parts, the last `valid_fraction` held out.

    Parameters
    ----------
    ids : numpy.ndarray
        Symbol ids, shape (N,).
    valid_fraction : float
        Fraction held out, in (0, 1); the validation part has ``round(N * valid_fraction)``
        symbols (0.05 as for text8).

    Returns
    -------
    train, valid : numpy.ndarray
        ``ids[:N - n_valid]`` and ``ids[N - n_valid:]`` (views, not copies).
    """
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must lie in (0, 1), got {valid_fraction}")
    n_valid = round(len(ids) * valid_fraction)
    return ids[: len(ids) - n_valid], ids[len(ids) - n_valid :]
