"""Tests of the text loaders in ccinfer.datasets (character language-model data)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from ccinfer.datasets import (
    VOCAB,
    clean_text,
    decode_text,
    encode_text,
    load_text,
    text_split,
)

from .conftest import DATA_DIR

needs_data = pytest.mark.skipif(
    not (DATA_DIR / "text").is_dir(), reason=f"data not found at {DATA_DIR}"
)


def test_vocab_is_space_then_a_to_z():
    assert len(VOCAB) == 27
    assert VOCAB == " abcdefghijklmnopqrstuvwxyz"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Hello, World!", "hello world"),
        ("  leading and trailing\n\n", "leading and trailing"),
        ("tabs\tand\r\nnewlines", "tabs and newlines"),
        ("don't", "don t"),
        ("1984", "one nine eight four"),
        ("a1b", "a one b"),
        ("0 5 9", "zero five nine"),
        ("caf\u00e9 na\u00efve", "caf na ve"),
        ("MiXeD CaSe", "mixed case"),
        ("--- !!! ???", ""),
        ("", ""),
    ],
)
def test_clean_text_rules(raw, clean):
    assert clean_text(raw) == clean


def test_clean_text_output_alphabet():
    rng = np.random.default_rng(0)
    raw = "".join(chr(c) for c in rng.integers(0, 0x250, 5000))
    text = clean_text(raw)
    assert set(text) <= set(VOCAB)
    assert "  " not in text
    assert not text.startswith(" ") and not text.endswith(" ")


def test_ids_round_trip():
    text = "the quick brown fox jumps over the lazy dog"
    ids = encode_text(text)
    assert ids.dtype == np.uint8
    assert ids[0] == VOCAB.index("t") == 20
    assert ids[3] == 0  # space
    assert decode_text(ids) == text
    all_ids = np.arange(27, dtype=np.uint8)
    np.testing.assert_array_equal(encode_text(decode_text(all_ids)), all_ids)


def test_encode_rejects_uncleaned_text():
    with pytest.raises(ValueError, match="not in the 27-symbol"):
        encode_text("Hello")
    with pytest.raises(ValueError, match="not cleaned"):
        encode_text("caf\u00e9")
    with pytest.raises(ValueError, match=r"0\.\.26"):
        decode_text(np.array([27]))


@pytest.mark.parametrize("n", [1, 19, 20, 21, 1000, 12345])
def test_split_sizes(n):
    ids = np.arange(n) % 27
    train, valid = text_split(ids)
    assert len(valid) == round(0.05 * n)
    assert len(train) + len(valid) == n
    np.testing.assert_array_equal(np.concatenate([train, valid]), ids)


def test_split_fraction_checked():
    with pytest.raises(ValueError, match="valid_fraction"):
        text_split(np.zeros(10), 1.0)


def test_load_text_from_a_small_directory(tmp_path):
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "austen.txt.gz").write_bytes(gzip.compress(b"Emma, by 2 Janes."))
    (tmp_path / "text" / "kjv.txt.gz").write_bytes(gzip.compress(b"In the beginning\n"))
    assert decode_text(load_text(tmp_path, "austen")) == "emma by two janes"
    assert decode_text(load_text(tmp_path, "both")) == "emma by two janes in the beginning"
    with pytest.raises(ValueError, match="unknown corpus"):
        load_text(tmp_path, "text8")
    (tmp_path / "text" / "kjv.txt.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="not a readable gzip"):
        load_text(tmp_path, "kjv")
    with pytest.raises(FileNotFoundError):
        load_text(tmp_path / "missing", "austen")


@needs_data
def test_real_corpora():
    austen = load_text(DATA_DIR, "austen")
    kjv = load_text(DATA_DIR, "kjv")
    # Sizes after cleaning as stated in the data README.
    assert abs(len(austen) - 3.87e6) < 0.01e6
    assert abs(len(kjv) - 4.01e6) < 0.01e6
    for ids in (austen, kjv):
        assert ids.dtype == np.uint8
        assert ids.max() == 26 and ids.min() == 0
        assert not np.any((ids[1:] == 0) & (ids[:-1] == 0))  # no double spaces
    assert decode_text(austen[:19]) == "emma by jane austen"
    assert decode_text(kjv[:16]) == "in the beginning"
    both = load_text(DATA_DIR, "both")
    assert len(both) == len(austen) + 1 + len(kjv)
