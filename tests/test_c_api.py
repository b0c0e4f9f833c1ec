"""The C++ model-file reader and the C API (ccinfer/ccinfer.h), driven through ctypes on the
extension module (the same core as the Python classes, so outputs must match bit for bit)."""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

import ccinfer
from ccinfer import io
from ccinfer.datasets import encode_text

from .capi import (
    BAD_MODEL,
    BUSY,
    INVALID_ARGUMENT,
    IO_ERROR,
    KIND,
    OK,
    WRONG_KIND,
    CError,
    Model,
    generate,
    lib,
    safetensors_bytes,
    sample,
    split,
)

MODELS = Path(__file__).resolve().parent.parent / "models"
SHIPPED = sorted(p for p in MODELS.rglob("*.safetensors") if "checkpoints" not in p.parts)
MNIST = MODELS / "mnist" / "mnist-50-35-25.safetensors"
TREE = MODELS / "tree" / "mnist-tree-k4.safetensors"
TEXT = MODELS / "text" / "char-unstructured-h256.safetensors"
TEXT_H256 = sorted((MODELS / "text").glob("char-*-h256.safetensors"))


@pytest.fixture(autouse=True)
def _two_threads():
    """The C calls run at the thread count Python uses (set for this thread in both)."""
    previous = ccinfer.get_num_threads()
    ccinfer.set_num_threads(2)
    assert lib.ccinfer_set_num_threads(2) == OK
    yield
    ccinfer.set_num_threads(previous)


def pixels(rng, n):
    """MNIST-like inputs: mostly zeros, values in [0, 1]."""
    x = rng.random((n, 784), dtype=np.float32)
    x[x < 0.6] = 0
    return x


# ---- the reader ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_reader_returns_what_the_safetensors_library_reads(path):
    """ccinfer.io.read_model_file (the C++ reader) against an independent reader."""
    from safetensors import safe_open

    mf = io.read_model_file(path)
    with safe_open(str(path), "np") as f:
        meta = f.metadata()
        want = {name: f.get_tensor(name) for name in f.keys()}
    assert (mf.kind, mf.config) == (meta["model"], json.loads(meta["config"]))
    assert mf.card == {k[5:]: v for k, v in meta.items() if k.startswith("card.")}
    assert mf.tensors.keys() == want.keys()
    for name, t in want.items():
        assert mf.stored[name] == ("F16" if t.dtype == np.float16 else "F32")
        assert mf.tensors[name].dtype == np.float32
        assert np.array_equal(mf.tensors[name], t.astype(np.float32)), name


def test_read_refuses_with_the_file_name(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(b"\1\2\3")
    with pytest.raises(ValueError, match=r"ccinfer.load: .*short.safetensors: file is 3 bytes"):
        io.read_model_file(path)
    with pytest.raises(ValueError, match=r"ccinfer.load: <bytes>: file is 3 bytes"):
        ccinfer.load(b"\1\2\3")
    with pytest.raises(ValueError, match="cannot read"):
        io.read_model_file(tmp_path / "missing.safetensors")
    with pytest.raises(FileNotFoundError):
        ccinfer.load(tmp_path / "missing.safetensors")


@pytest.mark.parametrize(
    "path", sorted((MODELS.parent / "fuzz" / "corpus").glob("*")), ids=lambda p: p.name
)
def test_fuzz_seeds(path):
    """The seed corpus: synthetic models that load, and shipped headers without their data."""
    if path.name.startswith("header-"):
        with pytest.raises(
            CError, match=r"holds 0 bytes of data|more bytes than the file holds"
        ) as e:
            Model(path=path)
        assert e.value.status == BAD_MODEL
    else:
        assert Model(path=path).info.output_size >= 1


def test_saved_plan_is_read_and_checked_like_python(rng):
    """A plan saved with the model (autotune's) is accepted, applied and refused as io.py does."""
    model = ccinfer.load(MNIST)
    model.plan = ["rows_input_sparse", "rows", "dense", "dense"][: len(model.plan)]
    model.single_sample_threads = 1
    blob = model.to_bytes()
    assert io.read_model_file(blob).config["plan"] == model.plan
    x = pixels(rng, 4)
    assert np.array_equal(Model(data=blob).forward(x), ccinfer.load(blob)(x))
    mf = model.to_model_file()
    for plan, threads in ((["dense"], 1), (["fast"] * len(model.plan), 1), (model.plan, -1)):
        mf.config.update(plan=plan, single_sample_threads=threads)
        bad = io.model_file_bytes(mf)
        with pytest.raises(CError, match=r"CondMLP config '(plan|single_sample_threads)"):
            Model(data=bad)
        with pytest.raises(ValueError, match=r"CondMLP config '(plan|single_sample_threads)"):
            ccinfer.load(bad)


def test_overflow_inside_a_sequential_is_refused_alike():
    """A fuzzer find: finite inputs, a first stage whose huge weights overflow to -inf, and the
    next stage refuses the non-finite values (never a finite answer), in C and in Python."""
    blob = (MODELS.parent / "fuzz" / "corpus" / "overflowing-sequential.safetensors").read_bytes()
    x = np.full((2, 5), 0.5, np.float32)
    with pytest.raises(CError, match=r"x\[0, 1\] is -inf; inputs must be finite") as e:
        Model(data=blob).forward(x)
    assert e.value.status == INVALID_ARGUMENT
    with pytest.raises(ValueError, match=r"stage 2 .*x\[0, 1\] is -inf"):
        ccinfer.load(blob)(x)


# ---- models through the C API ----------------------------------------------------------------
@pytest.mark.parametrize("path", [MNIST, TREE], ids=lambda p: p.name)
def test_forward_equals_python_bit_for_bit(path, rng):
    py = ccinfer.load(path)
    x = pixels(rng, 6)
    for model in (Model(path=path), Model(data=path.read_bytes())):
        assert model.info.kind == KIND[io.read_model_file(path).kind]
        assert (model.info.input_size, model.info.output_size) == (784, 10)
        for row in x:
            assert np.array_equal(model.forward(row), py(row))
        assert np.array_equal(model.forward(x), py(x))


def test_info_of_a_gru():
    model = Model(path=TEXT)
    info = model.info
    assert (info.kind, info.token_input, info.input_size, info.output_size, info.num_layers) == (
        KIND["GRUStack"],
        1,
        27,
        27,
        1,
    )


@pytest.mark.parametrize("path", TEXT_H256, ids=lambda p: p.name)
def test_step_token_equals_python(path, rng):
    py = ccinfer.load(path)
    model = Model(data=path.read_bytes())
    tokens = rng.integers(0, 27, size=40)
    s_py, s_c = py.new_state(), model.new_state()
    for t in tokens:
        assert np.array_equal(s_c.step_token(int(t))[0], py.step(int(t), state=s_py))
    # A batch state: Python's batch step (not bitwise the one-stream step; equal to its own).
    ids = rng.integers(0, 27, size=(5, 3)).astype(np.int32)
    b_py, b_c = py.new_state(3), model.new_state(3)
    for row in ids:
        assert np.array_equal(b_c.step_token(row), py.step(row, state=b_py))
    b_c.reset()
    b_py = py.new_state(3)
    assert np.array_equal(b_c.step_token(ids[0]), py.step(ids[0], state=b_py))


def test_greedy_generation_equals_python():
    py = ccinfer.load(TEXT)
    model = Model(path=TEXT)
    prefix = encode_text("the quick brown fox ")
    want = py.generate(prefix, 60, temperature=0)
    state = model.new_state()
    for t in prefix:
        logits = state.step_token(int(t))[0]
    got = []
    for _ in range(60):
        got.append(int(np.argmax(logits)))
        logits = state.step_token(got[-1])[0]
    assert got == want.tolist()


@pytest.mark.parametrize("path", TEXT_H256, ids=lambda p: p.name)
@pytest.mark.parametrize("temperature,seed", [(0.8, 7), (1.0, 0), (0.3, 2**64 - 1), (0, 5)])
def test_seeded_sampling_equals_python(path, temperature, seed):
    """ccinfer_sample after ccinfer_step_token draws what GRUStack.generate draws."""
    prefix = encode_text("the quick brown fox ")
    want = ccinfer.load(path).generate(prefix, 80, temperature=temperature, seed=seed)
    got = generate(Model(path=path), prefix, 80, temperature, seed)
    assert got.tolist() == want.tolist()
    if temperature:  # not vacuous: another seed draws another text
        other = ccinfer.load(path).generate(prefix, 80, temperature=temperature, seed=seed ^ 1)
        assert other.tolist() != want.tolist()


def test_sampler_draws_from_the_softmax():
    """The sampler's frequencies match softmax(logits / T) (a chi-square bound, 20k draws)."""
    logits = np.array([0.0, 1.0, 2.0, -1.0, 0.5], np.float32)
    p = np.exp(logits / 0.7 - (logits / 0.7).max())
    p /= p.sum()
    counts, rng = np.zeros(5), 12345
    for _ in range(20000):
        token, rng = sample(logits, 0.7, rng)
        counts[token] += 1
    chi2 = (((counts - 20000 * p) ** 2) / (20000 * p)).sum()
    assert chi2 < 20  # 4 degrees of freedom: p < 0.001
    assert sample(logits, 0, 99) == (2, 99)  # argmax, no draw


def test_sampler_refuses_bad_arguments():
    for logits, temperature, match in [
        (np.ones(3, np.float32), -1.0, "temperature must be a finite number >= 0"),
        (np.ones(3, np.float32), float("nan"), "temperature"),
        (np.array([0, np.inf, 0], np.float32), 1.0, r"logits\[1\] is inf"),
        (np.ones(0, np.float32), 1.0, "n must be in"),
    ]:
        with pytest.raises(CError, match=match) as e:
            sample(logits, temperature, 1)
        assert e.value.status == INVALID_ARGUMENT
    with pytest.raises(ValueError, match="seed must be None or an int"):
        ccinfer.load(TEXT).generate([1], 3, temperature=1.0, seed=-1)


# ---- loading in place ------------------------------------------------------------------------
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_borrowed_load_equals_the_copying_load(path, rng):
    data = path.read_bytes()
    buffer = np.frombuffer(data, np.uint8).copy()
    copied, borrowed = Model(data=data), Model(borrowed=buffer)
    assert bytes(memoryview(copied.info)) == bytes(memoryview(borrowed.info))
    if copied.info.kind == KIND["GRUStack"]:
        a, b = copied.new_state(2), borrowed.new_state(2)
        for _ in range(5):
            tokens = rng.integers(0, copied.info.input_size, 2)
            if copied.info.token_input:
                assert np.array_equal(a.step_token(tokens), b.step_token(tokens))
            else:
                x = rng.standard_normal((2, copied.info.input_size), dtype=np.float32)
                assert np.array_equal(a.step_vector(x), b.step_vector(x))
    else:
        x = rng.random((5, copied.info.input_size), dtype=np.float32)
        assert np.array_equal(copied.forward(x), borrowed.forward(x))
        assert np.array_equal(copied.forward(x[0]), borrowed.forward(x[0]))


def test_borrowed_load_references_the_buffer(rng):
    """Not a copy: a CondMLP's weights are read from the caller's buffer (changing it, which
    a caller must not do, shows through), while the copying load keeps its own."""
    data = MNIST.read_bytes()
    header, _ = split(data)
    start = 8 + struct.unpack("<Q", data[:8])[0]
    last = max(int(k.split(".")[1]) for k in header if k.startswith("layers."))
    begin, _end = header[f"layers.{last}.bias"]["data_offsets"]  # the first output's bias
    buffer = np.frombuffer(data, np.uint8).copy()
    copied, borrowed = Model(data=buffer.tobytes()), Model(borrowed=buffer)
    x = pixels(rng, 3)
    before = borrowed.forward(x)
    buffer[start + begin : start + begin + 4] = np.frombuffer(np.float32(1e3).tobytes(), np.uint8)
    changed = borrowed.forward(x)
    assert np.all(changed[:, 0] > 900) and np.array_equal(changed[:, 1:], before[:, 1:])
    assert np.array_equal(copied.forward(x), before)


def test_borrowed_load_refuses_a_bad_file_alike(rng):
    data = _edit(_tiny(rng), _config({"sizes": [3, 4, 2], "estimators": [{"rank": 9}, None]}))
    with pytest.raises(CError, match="'rank' must be an integer") as e:
        Model(borrowed=np.frombuffer(data, np.uint8).copy())
    assert e.value.status == BAD_MODEL


def test_step_vector_equals_python(tmp_path, rng):
    d, h = 5, 16
    layers = [
        {
            "kind": "dense",
            "W_ih": rng.standard_normal((3 * h, d), dtype=np.float32),
            "W_hh": rng.standard_normal((3 * h, h), dtype=np.float32),
            "b_ih": rng.standard_normal(3 * h, dtype=np.float32),
            "b_hh": rng.standard_normal(3 * h, dtype=np.float32),
        }
    ]
    out = (rng.standard_normal((4, h), dtype=np.float32), np.zeros(4, np.float32))
    py = ccinfer.GRUStack(layers, out, token_input=False)
    path = tmp_path / "vec.safetensors"
    py.save(path, store_dtype=np.float16)  # float16 storage: W_ih, W_hh stay half in C++ too
    py = ccinfer.load(path)
    model = Model(path=path)
    assert model.info.token_input == 0
    s_py, s_c = py.new_state(), model.new_state()
    xs = rng.standard_normal((10, d), dtype=np.float32)
    for x in xs:
        assert np.array_equal(s_c.step_vector(x)[0], py.step(x, state=s_py))
    with pytest.raises(CError, match="takes vectors") as e:
        s_c.step_token(0)
    assert e.value.status == INVALID_ARGUMENT


def test_argument_errors():
    gru, mlp = Model(path=TEXT), Model(path=MNIST)
    state = gru.new_state(2)
    with pytest.raises(CError, match=r"token id 27 \(stream 1\) is out of range \[0, 27\)") as e:
        state.step_token([0, 27])
    assert e.value.status == INVALID_ARGUMENT
    with pytest.raises(CError, match="GRUStack is stepped") as e:
        gru.forward(np.zeros(27, np.float32))
    assert e.value.status == WRONG_KIND
    with pytest.raises(CError, match="only a GRUStack has a state") as e:
        mlp.new_state()
    assert e.value.status == WRONG_KIND
    assert lib.ccinfer_forward(mlp.handle, None, 1, None) == INVALID_ARGUMENT
    assert "must not be NULL" in lib.ccinfer_last_error().decode()
    assert lib.ccinfer_set_num_threads(0) == INVALID_ARGUMENT
    assert lib.ccinfer_info(None, None) == INVALID_ARGUMENT
    assert lib.ccinfer_status_name(BUSY) == b"CCINFER_BUSY"
    assert lib.ccinfer_version().decode() == ccinfer._core.c_api_version()
    # A successful call clears the message.
    assert lib.ccinfer_set_num_threads(2) == OK and lib.ccinfer_last_error() == b""


def test_io_errors(tmp_path):
    for path in (tmp_path / "missing.safetensors", tmp_path):
        with pytest.raises(CError, match="ccinfer_load_file") as e:
            Model(path=path)
        assert e.value.status == IO_ERROR


def test_state_outlives_its_model(rng):
    py = ccinfer.load(TEXT)
    model = Model(path=TEXT)
    state = model.new_state()
    del model  # ccinfer_free: the state keeps the weights
    assert np.array_equal(state.step_token(3)[0], py.step(3, state=py.new_state()))


# ---- concurrency (the rules written in ccinfer.h) --------------------------------------------
def _in_threads(fn, n):
    errors: list[BaseException] = []

    def run(i):
        try:
            fn(i)
        except BaseException as e:  # re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_forward_from_several_threads(rng):
    model = Model(path=MNIST)
    x = pixels(rng, 4)
    want = [model.forward(row) for row in x]

    def work(i):
        for _ in range(20):
            assert np.array_equal(model.forward(x[i]), want[i])

    _in_threads(work, 4)


def test_distinct_states_from_several_threads(rng):
    model = Model(path=TEXT)
    tokens = rng.integers(0, 27, size=(4, 30))
    want = []
    for row in tokens:
        s = model.new_state()
        want.append(np.stack([s.step_token(int(t))[0] for t in row]))

    def work(i):
        s = model.new_state()
        got = np.stack([s.step_token(int(t))[0] for t in tokens[i]])
        assert np.array_equal(got, want[i])

    _in_threads(work, 4)


def test_one_state_from_two_threads_is_refused():
    """Two threads hammer one state: every call either runs or is refused with CCINFER_BUSY
    (never both at once), and the refusals leave the state as if they had not happened."""
    model = Model(path=MODELS / "text" / "char-dense-h1024-l2.safetensors")
    state = model.new_state(16)
    ids = np.arange(16, dtype=np.int32) % 27
    counts = {"ok": 0, "busy": 0}
    lock = threading.Lock()

    def work(_):
        for _ in range(60):
            try:
                state.step_token(ids)
                key = "ok"
            except CError as e:
                assert e.status == BUSY and "in use by another call" in e.message
                key = "busy"
            with lock:
                counts[key] += 1

    _in_threads(work, 2)
    assert counts["busy"] > 0, "the two threads never overlapped"
    # The state advanced exactly once per successful call.
    replay = model.new_state(16)
    for _ in range(counts["ok"]):
        want = replay.step_token(ids)
    assert np.array_equal(state.step_token(ids), replay.step_token(ids))
    assert want is not None


# ---- malformed files: each refused by the C API with a message -------------------------------
def _tiny(rng) -> bytes:
    """A valid two-layer CondMLP file (estimator on layer 0) as bytes."""
    from safetensors.numpy import save

    W = [
        rng.standard_normal((4, 3), dtype=np.float32),
        rng.standard_normal((2, 4), dtype=np.float32),
    ]
    b = [rng.standard_normal(4, dtype=np.float32), rng.standard_normal(2, dtype=np.float32)]
    mf = ccinfer.CondMLP.from_dense(W, b, ranks=[2]).to_model_file()
    metadata = {
        "format": "ccinfer",
        "format_version": "1",
        "model": mf.kind,
        "config": json.dumps(mf.config, sort_keys=True),
    }
    return save(mf.tensors, metadata=metadata)


def _edit(file: bytes, fn) -> bytes:
    header, data = split(file)
    out = fn(header, data)
    if isinstance(out, tuple):
        header, data = out
    return safetensors_bytes(header, data)


def _meta(**changes):
    def fn(h, d):
        h["__metadata__"].update(changes)
        h["__metadata__"] = {k: v for k, v in h["__metadata__"].items() if v is not None}

    return fn


def _config(cfg):
    return _meta(config=json.dumps(cfg))


def _entry(name, **changes):
    def fn(h, d):
        h[name].update(changes)

    return fn


def _nest(depth: int) -> str:
    return "[" * depth + "]" * depth


CASES = {
    "empty": (lambda f: b"", "file is 0 bytes"),
    "seven bytes": (lambda f: f[:7], "too short"),
    "header only": (lambda f: f[:8], "header declares"),
    "truncated data": (lambda f: f[:-3], r"truncated|cover"),
    "truncated header": (lambda f: f[:40], "header declares"),
    "header length 2^63": (lambda f: struct.pack("<Q", 1 << 63) + f[8:], "header declares"),
    "header 17 MiB": (
        lambda f: struct.pack("<Q", 17 << 20) + f[8:] + b" " * (17 << 20),
        "header declares",
    ),
    "not JSON": (lambda f: safetensors_bytes(b"{[}"), "not valid JSON"),
    "invalid UTF-8": (lambda f: safetensors_bytes(b'{"\xff": 1}'), "not valid JSON"),
    "JSON array": (lambda f: safetensors_bytes(b"[]"), "not a JSON object"),
    "deep header": (
        lambda f: safetensors_bytes(('{"a": ' + _nest(100000) + "}").encode()),
        r"header nests 100001 levels deep \(at most 32\)",
    ),
    "duplicate key": (
        lambda f: safetensors_bytes(b'{"x": {}, "x": {}}'),
        "twice",
    ),
    "dtype I64": (lambda f: _edit(f, _entry("layers.1.bias", dtype="I64")), "dtype"),
    "dtype not a string": (lambda f: _edit(f, _entry("layers.1.bias", dtype=7)), "dtype"),
    "negative dim": (lambda f: _edit(f, _entry("layers.1.bias", shape=[-2])), "bad shape"),
    "float dim": (lambda f: _edit(f, _entry("layers.1.bias", shape=[2.0])), "bad shape"),
    "bool dim": (lambda f: _edit(f, _entry("layers.1.bias", shape=[True, True])), "bad shape"),
    "dim above int64": (
        lambda f: _edit(f, _entry("layers.1.bias", shape=[1 << 64])),
        "integer 18446744073709551616 is out of range",
    ),
    "shape overflowing 64 bits": (
        lambda f: _edit(f, _entry("layers.1.bias", shape=[1 << 62, 1 << 62, 4])),
        r"needs more than 2\^127 bytes, header gives 8",
    ),
    "offsets reversed": (
        lambda f: _edit(f, _entry("layers.1.bias", data_offsets=[8, 0])),
        "bad data_offsets",
    ),
    "offsets beyond the file": (
        lambda f: _edit(f, _entry("layers.1.bias", data_offsets=[0, 1 << 50])),
        "data ends at byte",
    ),
    "offsets one int": (
        lambda f: _edit(f, _entry("layers.1.bias", data_offsets=[0])),
        "bad data_offsets",
    ),
    "overlapping tensors": (
        lambda f: _edit(
            f,
            lambda h, d: h["layers.1.bias"].update(data_offsets=[0, 8]),
        ),
        "must not overlap",
    ),
    "bytes after the last tensor": (lambda f: f + b"\0" * 8, r"cover \d+ bytes"),
    "entry missing a key": (
        lambda f: _edit(f, lambda h, d: h["layers.1.bias"].pop("dtype")),
        "malformed header entry",
    ),
    "entry with an extra key": (
        lambda f: _edit(f, _entry("layers.1.bias", extra=1)),
        "malformed header entry",
    ),
    "metadata not strings": (lambda f: _edit(f, _meta(format_version=1)), "map strings"),
    "not ccinfer": (lambda f: _edit(f, _meta(format="other")), "not a ccinfer model"),
    "no format": (lambda f: _edit(f, _meta(format=None)), "not a ccinfer model"),
    "version 2": (lambda f: _edit(f, _meta(format_version="2")), "format_version"),
    "version 0": (lambda f: _edit(f, _meta(format_version="0")), "format_version"),
    "version in Arabic digits": (lambda f: _edit(f, _meta(format_version="١")), "format_version"),
    "version +1": (lambda f: _edit(f, _meta(format_version="+1")), "format_version"),
    "version 1.0": (lambda f: _edit(f, _meta(format_version="1.0")), "format_version"),
    "version huge": (lambda f: _edit(f, _meta(format_version="9" * 40)), "format_version"),
    "unknown kind": (lambda f: _edit(f, _meta(model="Transformer")), "unknown model kind"),
    "config not JSON": (lambda f: _edit(f, _meta(config="{not json")), "'config' is not valid"),
    "config an array": (lambda f: _edit(f, _meta(config="[]")), "must be a JSON object"),
    "config deep": (
        lambda f: _edit(f, _meta(config='{"sizes": ' + _nest(1000) + "}")),
        r"'config' nests 1001 levels deep",
    ),
    "sizes above 2^20": (lambda f: _edit(f, _config({"sizes": [3, 1 << 21]})), "'sizes'"),
    "sizes above int64": (
        lambda f: _edit(f, _config({"sizes": [3, 1 << 70]})),
        "integer 1180591620717411303424 is out of range",
    ),
    "sizes bool": (lambda f: _edit(f, _config({"sizes": [True, 2]})), "'sizes'"),
    "estimator on the output": (
        lambda f: _edit(f, _config({"sizes": [3, 4, 2], "estimators": [None, {"rank": 1}]})),
        "output layer cannot have an estimator",
    ),
    "estimator rank too big": (
        lambda f: _edit(f, _config({"sizes": [3, 4, 2], "estimators": [{"rank": 9}, None]})),
        r"estimator 0 'rank' must be an integer in \[1, 3\], got 9",
    ),
    "estimator rank float": (
        lambda f: _edit(f, _config({"sizes": [3, 4, 2], "estimators": [{"rank": 2.0}, None]})),
        r"estimator 0 'rank' must be an integer in \[1, 3\], got 2.0",
    ),
    "unknown config key": (
        lambda f: _edit(f, _config({"sizes": [3, 4, 2], "estimators": [None, None], "x": 1})),
        "unknown key",
    ),
    "extra tensor": (
        lambda f: _edit(f, _config({"sizes": [3, 4, 2], "estimators": [None, None]})),
        "unexpected tensors",
    ),
    "wrong shape": (
        lambda f: _edit(f, _config({"sizes": [3, 4, 5], "estimators": [{"rank": 2}, None]})),
        r"has shape \(2, 4\), the config needs \(5, 4\)",
    ),
    "missing tensor": (
        lambda f: _edit(
            f, _config({"sizes": [3, 4, 2, 2], "estimators": [{"rank": 2}, None, None]})
        ),
        "missing tensor 'layers.2.weight'",
    ),
    "NaN weight": (
        lambda f: _edit(f, lambda h, d: (h, d[:-4] + struct.pack("<f", float("nan")))),
        "NaN or Inf",
    ),
    "Inf weight": (
        lambda f: _edit(f, lambda h, d: (h, d[:-4] + struct.pack("<f", float("inf")))),
        "NaN or Inf",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_files_are_refused(case, rng):
    make, match = CASES[case]
    data = make(_tiny(rng))
    with pytest.raises(CError, match=match) as e:
        Model(data=data)
    assert e.value.status == BAD_MODEL
    assert e.value.message.startswith("ccinfer.load: <memory>: ")
    # ccinfer.load runs the same reader and says the same.
    with pytest.raises(ValueError, match=match):
        ccinfer.load(data)


def test_the_untouched_tiny_file_loads(rng):
    """The cases above refuse because of their one change, not because the base is bad."""
    data = _tiny(rng)
    assert Model(data=data).info.output_size == 2


GRU_CFG = {
    "input": "tokens",
    "input_size": 27,
    "output_size": 27,
    "layers": [{"kind": "lowrank", "hidden": 256, "rank": 16}],
}
GRU_BAD = {
    "layer hidden above 2^20": (
        {**GRU_CFG, "layers": [{"kind": "dense", "hidden": 1 << 21}]},
        r"GRUStack layer 0 'hidden' must be an integer in \[1, 1048576\], got 2097152",
    ),
    "gating not dividing": (
        {**GRU_CFG, "layers": [{"kind": "block", "hidden": 256, "gating": 7}]},
        "GRUStack layer 0: gating 7 does not divide hidden 256",
    ),
    "layer with an extra key": (
        {**GRU_CFG, "layers": [{"kind": "lowrank", "hidden": 256, "rank": 16, "gating": 4}]},
        r"GRUStack layer 0 \(lowrank\) must be an object .*: unknown keys \['gating'\]",
    ),
    "input neither": (
        {**GRU_CFG, "input": "image"},
        r"GRUStack config 'input' must be one of \['tokens', 'vector'\], got 'image'",
    ),
}


@pytest.mark.parametrize("case", sorted(GRU_BAD))
def test_bad_gru_configs(case):
    config, match = GRU_BAD[case]
    data = _edit(TEXT.read_bytes(), _config(config))
    with pytest.raises(ValueError, match=match):
        ccinfer.load(data)
    with pytest.raises(CError, match=match) as e:
        Model(data=data)
    assert e.value.status == BAD_MODEL


@pytest.mark.parametrize(
    "change,match",
    [
        (
            lambda c: c["stages"][1]["config"].update(depth=25),
            r"Sequential stage 1: TreeGated config 'depth' must be an integer in \[0, 24\]",
        ),
        (
            lambda c: c["stages"][1].update(relu=1),
            "Sequential stage 1 'relu' must be true or false, got 1",
        ),
        (
            lambda c: c["stages"][1]["config"]["gates"].update(units=[0, 1, 2, 784]),
            r"Sequential stage 1: TreeGated gates 'units'\[3\] must be an integer in \[0, 255\]",
        ),
        (
            lambda c: c["stages"][2]["config"].update(sizes=[99, 10]),
            r"Sequential stage 2: tensor 'layers.0.weight' has shape \(10, 128\), the config "
            r"needs \(10, 99\)",
        ),
        (
            lambda c: c["stages"].append(c["stages"][0]),
            "Sequential stage 3: CondMLP file is missing tensor 'layers.0.weight'",
        ),
    ],
)
def test_bad_sequential_configs(change, match):
    def fn(h, d):
        cfg = json.loads(h["__metadata__"]["config"])
        change(cfg)
        h["__metadata__"]["config"] = json.dumps(cfg)

    data = _edit(TREE.read_bytes(), fn)
    with pytest.raises(ValueError, match=match):
        ccinfer.load(data)
    with pytest.raises(CError, match=match) as e:
        Model(data=data)
    assert e.value.status == BAD_MODEL


def test_sequential_widths_must_chain(rng):
    from safetensors.numpy import save

    stage = {"kind": "CondMLP", "relu": False}
    config = {
        "stages": [
            {**stage, "config": {"sizes": [3, 4], "estimators": [None]}},
            {**stage, "config": {"sizes": [5, 2], "estimators": [None]}},
        ]
    }
    tensors = {
        "stages.0.layers.0.weight": np.ones((4, 3), np.float32),
        "stages.0.layers.0.bias": np.ones(4, np.float32),
        "stages.1.layers.0.weight": np.ones((2, 5), np.float32),
        "stages.1.layers.0.bias": np.ones(2, np.float32),
    }
    meta = {"format": "ccinfer", "format_version": "1", "model": "Sequential"}
    data = save(tensors, metadata={**meta, "config": json.dumps(config)})
    with pytest.raises(CError, match="stage 1 takes 5 inputs but the previous stage gives 4"):
        Model(data=data)
    config["stages"][1]["config"]["sizes"][0] = 4
    tensors["stages.1.layers.0.weight"] = np.ones((2, 4), np.float32)
    data = save(tensors, metadata={**meta, "config": json.dumps(config)})
    assert Model(data=data).info.num_layers == 2
