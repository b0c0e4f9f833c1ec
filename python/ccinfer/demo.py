"""``python -m ccinfer demo``: the shipped models, dense and conditional, measured side by side.

Without a data directory it runs on the sample shipped in the package (the first 1,000 MNIST
test digits and 30,000 symbols of the held-out text, `ccinfer.shipped.load_sample`), so it
works from any install; ``--data-dir`` evaluates on the full test sets.

MNIST: the test digits through the shipped conditional MLP, accuracy with estimators and
without (the control), the active fraction per layer, and latency at batch 1 and batch 64
against dense OpenBLAS on the same weights, timed interleaved in this run (docs/design.md
section 4).

Text: the shipped character models (conditional GRUs, dissertation ch. 4) generate from a
prompt; on held-out text each reports bits per character, its z density per layer, and the
latency of one step of one stream against the dense GRU control, timed interleaved in this run
on that text (so the masks are the model's own and change every step).

Every timed number carries the checks of `ccinfer.timing.Measurement` beside it: a spread or
outlier rounds, a load average above the core count, or a speed-up beyond its flop bound is
printed as UNSTABLE with the reason.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

import ccinfer

from . import timing
from .char_lm import dense_like, stream_stepper
from .datasets import decode_text, encode_text, load_mnist, load_text, text_split
from .shipped import load_sample, models_dir

MNIST_MODEL = "mnist-50-35-25"
CHAR_DENSE = "char-dense-h256"
CHAR_CONDITIONAL = ("char-unstructured-h256", "char-block-h256")
# The dissertation-size models (27-1024-1024-27), timed against a dense stack of their shape
# stored like them (float16); the wheel carries the block one, a checkout all of them.
CHAR_LARGE = ("char-block-h1024-l2", "char-unstructured-h1024-l2")
# A 27-1024-1024-27 step costs about ten 256-wide ones: on the shipped sample the large
# models read only this many symbols, so the demo stays within its time.
LARGE_SAMPLE_SYMBOLS = 5_000
PROMPT = "and it came to pass that "
WARM_UP = 500
LONG_ROUNDS = 4  # rounds of 0.25 s at more than one thread (ccinfer.timing.compare)


@contextmanager
def progress(total: int, desc: str):
    """A tqdm bar on stderr (none when stderr is not a terminal); yields its ``update``."""
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, leave=False, unit="round", disable=None) as bar:
        yield bar.update


def timed(candidates: dict, rounds: int, calls: int, what: str) -> timing.Measurement:
    """Say what is measured, then measure it interleaved with a progress bar."""
    threads = ccinfer.get_num_threads()
    n = rounds if threads == 1 else min(rounds, LONG_ROUNDS)
    print(f"    measuring {what}: {n} interleaved rounds ...", flush=True)
    with progress(n, "    timing") as tick:
        return timing.measure(candidates, rounds, calls, LONG_ROUNDS, on_round=lambda: tick(1))


def latency_table(model: ccinfer.CondMLP, X: np.ndarray, batch: int, rounds: int, bound: float):
    """Conditional vs dense OpenBLAS (same weights, estimators off, plan dense), interleaved;
    inputs rotate through the test digits so masks change call to call."""
    n_batches = len(X) // batch
    batches = [np.ascontiguousarray(X[i * batch : (i + 1) * batch]) for i in range(n_batches)]
    if batch == 1:
        batches = [b[0] for b in batches]
    dense = ccinfer.CondMLP(model.weights, model.biases)  # plan: dense everywhere
    m = timed(
        {
            "dense": lambda i: dense(batches[i % n_batches]),
            "conditional": lambda i: model(batches[i % n_batches]),
        },
        rounds,
        1 if batch > 1 else 20,
        f"batch {batch}, dense OpenBLAS against conditional",
    )
    return {
        "dense": timing.summarize(m.times["dense"] / batch),
        "conditional": timing.summarize(m.times["conditional"] / batch),
        "speedup": m.speedup("dense", "conditional", bound),
    }


def accuracy_and_stats(model: ccinfer.CondMLP, X: np.ndarray, y: np.ndarray):
    """Test error (%) without and with the estimators, and the model's stats of the conditional
    pass with recall and precision counted (the whole test set, by the engine)."""
    model.estimators_enabled = False
    dense_err = 100 * float((model.predict(X) != y).mean())
    model.estimators_enabled = True
    model.reset_stats()
    model.track_accuracy = True
    cond_err = 100 * float((model.predict(X) != y).mean())
    stats = model.stats
    model.track_accuracy = False
    return dense_err, cond_err, stats


def mnist_data(data_dir: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    if data_dir is None:
        s = load_sample()
        return s["images"], s["labels"], "the shipped sample (first 1,000 MNIST test digits)"
    X, y = load_mnist(data_dir, "test")
    return X, y, f"{len(X):,} MNIST test digits from {data_dir}"


def mnist_demo(data_dir: str | None, rounds: int = 60) -> None:
    model = ccinfer.load(MNIST_MODEL)
    X, y, where = mnist_data(data_dir)
    print(
        f"MNIST model {MNIST_MODEL}: sizes {model.sizes}, estimator ranks "
        f"{[e.rank for e in model.estimators if e]}, on {where}"
    )

    dense_err, cond_err, stats = accuracy_and_stats(model, X, y)
    print(
        f"  test error on {len(X):,} digits: dense {dense_err:.2f}%   conditional {cond_err:.2f}%"
    )
    for i, layer in enumerate(stats["layers"][:-1]):
        print(
            f"  layer {i}: active {layer['active_fraction']:6.1%}   input non-zero "
            f"{layer['input_density']:6.1%}   recall {layer['recall']:6.1%}   precision "
            f"{layer['precision']:6.1%}"
        )
    bound = stats["flop_bound_speedup"]
    print(f"  flop-bound speed-up from these masks (docs/design.md section 1): {bound:.2f}x")

    previous = ccinfer.get_num_threads()
    try:
        for threads in sorted({1, previous}):
            ccinfer.set_num_threads(threads)
            # The best kernels depend on the thread count: choose them again for each.
            print(f"  {threads} thread(s): measuring each layer's kernels (autotune) ...")
            tune = model.autotune(np.ascontiguousarray(X[:256]), repeats=3)
            print(
                f"  {threads} thread(s): plan chosen by measurement {tune['plan']}, "
                f"{'one thread' if tune['single_sample_threads'] == 1 else 'all threads'} "
                f"per single sample"
            )
            for batch in (1, 64):
                n = rounds if batch == 1 else max(rounds // 2, 3)
                t = latency_table(model, X, batch, n, bound)
                s = t["speedup"]
                print(
                    f"  {threads} thread(s), batch {batch:2d}: dense OpenBLAS "
                    f"{t['dense']['median_us']:7.1f} us/sample   conditional "
                    f"{t['conditional']['median_us']:7.1f} us/sample   speed-up "
                    f"{s['median']:.2f}x (IQR {s['q1']:.2f}-{s['q3']:.2f}){s['note']}"
                )
    finally:
        ccinfer.set_num_threads(previous)


def step_latency(dense: ccinfer.GRUStack, model: ccinfer.GRUStack, tokens, rounds, bound):
    """One step of one stream, conditional against dense, interleaved (ccinfer.timing)."""
    m = timed(
        {
            "dense": stream_stepper(dense, tokens, 200),
            "conditional": stream_stepper(model, tokens, 200),
        },
        rounds,
        20,
        "one step of one stream, dense against conditional",
    )
    return {
        "dense": m.summary("dense"),
        "conditional": m.summary("conditional"),
        "speedup": m.speedup("dense", "conditional", bound),
    }


def bits_per_char(model: ccinfer.GRUStack, ids: np.ndarray, desc: str, chunk: int = 2000):
    """`char_lm.bits_per_char` a chunk at a time (one stream, state carried), with progress."""
    from tqdm import tqdm

    ids = np.asarray(ids, dtype=np.int32)
    state = model.new_state()
    total = 0.0
    with tqdm(total=len(ids) - 1, desc=desc, leave=False, unit="sym", disable=None) as bar:
        for start in range(0, len(ids) - 1, chunk):
            x = ids[start : min(start + chunk, len(ids) - 1)]
            logits = model.run(x, state=state).astype(np.float64)
            logits -= logits.max(axis=1, keepdims=True)
            log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            total -= log_probs[np.arange(len(x)), ids[start + 1 : start + 1 + len(x)]].sum()
            bar.update(len(x))
    return total / (len(ids) - 1) / np.log(2)


def text_data(data_dir: str | None, max_symbols: int | None) -> tuple[np.ndarray, str]:
    if data_dir is None:
        valid = load_sample()["text"]
        where = "the shipped sample (first 30,000 held-out symbols)"
    else:
        _, valid = text_split(load_text(data_dir, "both"))
        where = f"the held-out text of {data_dir}"
    if max_symbols is not None:
        valid = valid[:max_symbols]
    return valid, where


def text_demo(data_dir: str | None, rounds: int = 60, max_symbols: int | None = None) -> None:
    """The character models: a sample from the prompt, BPC and z density on the held-out
    symbols, and step latency against the dense control."""
    valid, where = text_data(data_dir, max_symbols)
    tokens = valid[:20_000]
    dense = ccinfer.load(CHAR_DENSE)
    models = [(name, ccinfer.load(name), dense, "dense", valid) for name in CHAR_CONDITIONAL]
    have = ccinfer.shipped_models()
    for name in CHAR_LARGE:
        if name in have:  # timed against a dense stack of its size
            large = ccinfer.load(name)
            symbols = valid if data_dir is not None else valid[:LARGE_SAMPLE_SYMBOLS]
            models.append((name, large, dense_like(large), "dense (same shape)", symbols))
    print(f"Text models (Austen + King James Bible, held out) on {where}:")
    print(f"  measuring bits per character on {len(valid):,} symbols ...", flush=True)
    control = bits_per_char(dense, valid, f"  {CHAR_DENSE}")
    print(f"  {CHAR_DENSE}: {control:.3f} bits/char on {len(valid):,} symbols (control)")
    prompt = encode_text(PROMPT)
    for name, model, reference, reference_name, symbols in models:
        model.reset_stats()
        bpc = bits_per_char(model, symbols, f"  {name}")
        stats = model.stats
        density = ", ".join(f"{layer['z_density']:.2f}" for layer in stats["layers"])
        bound = stats["flop_bound_speedup"]
        print(
            f"  {name} ({model}): {bpc:.3f} bits/char on {len(symbols):,} symbols, z density "
            f"per layer [{density}], flop-bound speed-up {bound:.2f}x"
        )
        # From a zero state every gate may be shut (z = 0 keeps h = 0), and training only
        # rarely starts from one (the state is reset every 1000 updates): warm it on text.
        state = model.new_state()
        model.run(valid[:WARM_UP], state=state)
        ids = model.generate(prompt, 120, temperature=0.6, seed=0, state=state)
        print(f"    sample (state warmed on {WARM_UP} symbols): {PROMPT}{decode_text(ids)}")
        t = step_latency(reference, model, tokens, rounds, bound)
        s = t["speedup"]
        print(
            f"    one step, 1 stream, {ccinfer.get_num_threads()} thread(s): {reference_name} "
            f"{t['dense']['median_us']:7.1f} us   conditional "
            f"{t['conditional']['median_us']:7.1f} us   speed-up {s['median']:.2f}x "
            f"(IQR {s['q1']:.2f}-{s['q3']:.2f}){s['note']}"
        )
    missing = [n for n in CHAR_LARGE if n not in have]
    if missing:
        root = models_dir()
        print(
            f"  ({', '.join(missing)}: in models/ of the source repository, not in this "
            f"install{'' if root is None else f' ({root})'})"
        )
