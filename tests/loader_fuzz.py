"""A seeded mutation fuzzer for ``ccinfer.load`` over model files of every kind.

Each case takes one seed file (the shipped models, plus small files of the kinds and storage
types no shipped model has), applies one mutation chosen from the case's own random stream,
writes the result and loads it. Outcomes:

- ``valueerror``: refused with a ValueError (the loader's contract for a malformed file);
- ``loaded``: accepted, and one forward pass or step with a matching input ran (its output may
  be anything finite or not, but the call must return);
- anything else (another exception type, a crash, a hang) is a failure.

Batches of cases run in a child process, so a crash or hang is reported with the seed and the
case that caused it instead of killing the runner; the run then goes on after that case.
Every case is reproducible alone: ``python -m tests.loader_fuzz --seed S --start K --cases 1``.

Usage: ``python -m tests.loader_fuzz --cases N --seed S [--timeout SECONDS]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [
    *sorted((ROOT / "models/mnist").glob("*.safetensors")),
    *sorted((ROOT / "models/tree").glob("*.safetensors")),
    *sorted((ROOT / "models/text").glob("char-*-h256.safetensors")),
]
KINDS = (
    "header_bytes",
    "header_length",
    "truncate",
    "data_bytes",
    "dtype",
    "shape",
    "offsets",
    "deep_nesting",
    "json_structure",
    "numbers",
    "config_value",
    "metadata",
)
# A placeholder replaced by raw JSON text after serialising (deep nesting cannot go through
# json.dumps, which would itself recurse).
_RAW = "\x00fuzz-raw\x00"


# ---- seed files -----------------------------------------------------------------------------
def _extra_seeds(directory: Path) -> list[Path]:
    """Small files of the kinds and storage types the shipped models do not cover: a bare
    TreeGated layer with each gate source, a Sequential of those, and a float16 GRU."""
    import numpy as np

    import ccinfer
    from ccinfer import Sequential, TreeGatedLinear

    rng = np.random.default_rng(0)
    out = []
    threshold = TreeGatedLinear(
        rng.standard_normal((12, 7, 5), dtype=np.float32),
        rng.standard_normal(5, dtype=np.float32),
        path="sliding",
        gate_units=[0, 3, 5],
        tau=0.1,
        activation="relu",
    )
    projection = TreeGatedLinear(
        rng.standard_normal((5, 3, 4), dtype=np.float32),
        gate_weight=rng.standard_normal((2, 5), dtype=np.float32),
        gate_bias=rng.standard_normal(2, dtype=np.float32),
    )
    mlp = ccinfer.CondMLP.from_dense(
        [rng.standard_normal((12, 9), dtype=np.float32)],
        [rng.standard_normal(12, dtype=np.float32)],
    )
    for name, model in (
        ("tree-threshold", threshold),
        ("tree-projection", projection),
        ("sequential", Sequential([mlp, "relu", threshold, "relu", projection])),
    ):
        out.append(directory / f"{name}.safetensors")
        model.save(out[-1])
    half = ccinfer.load(ROOT / "models/text/char-unstructured-h256.safetensors")
    out.append(directory / "gru-float16.safetensors")
    half.save(out[-1], store_dtype=np.float16)
    for (
        path
    ) in out:  # safetensors writes the metadata in hash order: sort it, for reproducible cases
        raw = path.read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        header = json.dumps(json.loads(raw[8 : 8 + n]), sort_keys=True, separators=(",", ":"))
        path.write_bytes(b"".join(_pack(header, raw[8 + n :])))
    return out


class Seed:
    """A seed file split into its parts: header JSON (with the config parsed) and data."""

    def __init__(self, path: Path):
        self.path = path
        self.raw = path.read_bytes()
        (n,) = struct.unpack("<Q", self.raw[:8])
        self.header = json.loads(self.raw[8 : 8 + n])
        self.view = memoryview(self.raw)
        self.data = self.view[8 + n :]
        self.config = json.loads(self.header["__metadata__"]["config"])
        self.tensors = [k for k in self.header if k != "__metadata__"]


# ---- mutations ------------------------------------------------------------------------------
def _weird_value(rng: random.Random, depth: int = 0):
    """A JSON value of a random type, biased to values a reader might mishandle."""
    choices = [
        lambda: rng.choice([0, 1, -1, 2, 3, 7, 16, 255, 256, 1 << 20, (1 << 20) + 1]),
        lambda: rng.choice([2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1]),
        lambda: _Raw(rng.choice(["1" + "0" * 400, "-" + "9" * 30, "1e400", "-1e400", "1e-400"])),
        lambda: _Raw(rng.choice(["NaN", "Infinity", "-Infinity"])),
        lambda: rng.choice([0.0, -0.0, 0.5, 1.5, -2.5, 1e300, 3.0]),
        lambda: rng.choice([True, False, None]),
        lambda: rng.choice(["", "1", "１", "٣", "relu", "F32", "dense", "tokens", "x" * 300]),
        lambda: (
            [] if depth > 2 else [_weird_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
        ),
        lambda: {} if depth > 2 else {"kind": _weird_value(rng, depth + 1)},
        lambda: _Raw(_nested(rng.choice([40, 200, 1000, 3000, 20000]), rng.random() < 0.5)),
    ]
    return rng.choice(choices)()


class _Raw:
    """Raw JSON text to splice in after serialising."""

    def __init__(self, text: str):
        self.text = text


def _nested(depth: int, objects: bool) -> str:
    if objects:
        return '{"a":' * depth + "1" + "}" * depth
    return "[" * depth + "1" + "]" * depth


def _nodes(value, path=()):
    """Every (container, key) position in a JSON value, for picking one to change."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield value, k
            yield from _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield value, i
            yield from _nodes(v, (*path, i))


def _dump(value, raws: list[str]) -> str:
    """json.dumps with _Raw values spliced in as text."""

    def default(o):
        if isinstance(o, _Raw):
            raws.append(o.text)
            return _RAW
        raise TypeError(type(o).__name__)

    text = json.dumps(value, default=default, ensure_ascii=False)
    return text


def _splice(text: str, raws: list[str], quoted: bool) -> str:
    """Replace each placeholder string by its raw text (``quoted``: inside a JSON string
    that is itself serialised, so the placeholder is escaped once more)."""
    marker = json.dumps(_RAW)
    if quoted:
        marker = json.dumps(marker)[1:-1]
    for raw in raws:
        if quoted:
            raw = json.dumps(raw)[1:-1]
        text = text.replace(marker, raw, 1)
    return text


def _pack(header_text: str, data) -> list:
    body = header_text.encode("utf-8", "surrogatepass")
    body += b" " * (-len(body) % 8)
    return [struct.pack("<Q", len(body)), body, data]


def _rebuild(seed: Seed, header: dict, config) -> list:
    """Serialise a changed header and config (either may hold _Raw values)."""
    config_raws: list[str] = []
    header = dict(header)
    meta = header.get("__metadata__")
    # A mutation that replaced or deleted the config string itself is kept as it is.
    if config is not None and isinstance(meta, dict) and isinstance(meta.get("config"), str):
        header["__metadata__"] = {**meta, "config": _dump(config, config_raws)}
    header_raws: list[str] = []
    text = _dump(header, header_raws)
    # Config raws live inside the escaped metadata string; header raws at the top level.
    text = _splice(text, config_raws, quoted=True)
    text = _splice(text, header_raws, quoted=False)
    return _pack(text, seed.data)


def _copy(value):
    return json.loads(json.dumps(value))


def mutate(seed: Seed, kind: str, rng: random.Random) -> list:
    """The bytes of ``seed`` changed by one mutation of ``kind``, as a list of pieces to be
    written one after the other (the seed's megabytes of tensor data are not copied)."""
    raw, view = seed.raw, seed.view
    (n,) = struct.unpack("<Q", raw[:8])
    if kind == "header_bytes":
        out = bytearray(view[: 8 + n])
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(8, 8 + n)
            out[i] = rng.choice([rng.randrange(256), *b'{}[]",:0123456789-eE. \\'])
        return [bytes(out), seed.data]
    if kind == "header_length":
        new = rng.choice(
            [
                0,
                1,
                2,
                n - 1,
                n + 1,
                n - 8,
                n + 8,
                rng.randrange(n),
                len(raw),
                len(raw) - 8,
                len(raw) - 7,
                2**24,
                2**63,
                2**64 - 1,
                2**32 + n,
            ]
        )
        return [struct.pack("<Q", max(0, min(new, 2**64 - 1))), view[8:]]
    if kind == "truncate":
        cut = rng.choice([rng.randrange(0, 8 + n + 1), rng.randrange(0, len(raw)), len(raw) - 1])
        return [view[:cut]]
    if kind == "data_bytes":
        edits: dict[int, int] = {}
        for _ in range(rng.randint(1, 8)):
            if len(raw) > 8 + n:
                value = rng.randrange(256)
                edits[rng.randrange(8 + n, len(raw))] = value
        pieces, at = [], 0
        for pos in sorted(edits):
            pieces += [view[at:pos], bytes([edits[pos]])]
            at = pos + 1
        return [*pieces, view[at:]]
    header, config = _copy(seed.header), _copy(seed.config)
    name = rng.choice(seed.tensors)
    entry = header[name]
    if kind == "dtype":
        entry["dtype"] = rng.choice(
            [
                "F32",
                "F16",
                "BF16",
                "F64",
                "I32",
                "U8",
                "BOOL",
                "",
                "f32",
                "F 32",
                32,
                ["F32"],
                {"F32": 1},
                None,
                True,
                _weird_value(rng),
            ]
        )
    elif kind == "shape":
        shape = list(entry["shape"])
        op = rng.randrange(7)
        if op == 0 and shape:
            i = rng.randrange(len(shape))
            shape[i] = max(0, shape[i] + rng.choice([-1, 1, -shape[i], shape[i]]))
        elif op == 1:
            shape = shape[::-1]
        elif op == 2:
            shape = [*shape, rng.choice([1, 2, 0])]
        elif op == 3:
            shape = shape[:-1]
        elif op == 4 and shape:
            shape[rng.randrange(len(shape))] = _weird_value(rng)
        elif op == 5:
            shape = [1] * rng.randint(9, 40)
        else:
            shape = _weird_value(rng)
        entry["shape"] = shape
    elif kind == "offsets":
        a, b = entry["data_offsets"]
        op = rng.randrange(6)
        if op == 0:
            d = rng.choice([1, 2, 4, 8, -4, -8, 4096])
            entry["data_offsets"] = [a + d, b + d]
        elif op == 1:
            entry["data_offsets"] = [b, a]
        elif op == 2:
            entry["data_offsets"] = [a, b + rng.choice([-4, 4, 2**40, 2**62])]
        elif op == 3:
            other = header[rng.choice(seed.tensors)]["data_offsets"]
            entry["data_offsets"] = list(other)
        elif op == 4:
            entry["data_offsets"] = [a, b, b]
        else:
            entry["data_offsets"] = [a, _weird_value(rng)]
    elif kind == "deep_nesting":
        text = _nested(rng.choice([33, 100, 1000, 2000, 5000, 50000]), rng.random() < 0.5)
        if rng.random() < 0.5:
            container, key = rng.choice(list(_nodes(config)))
            container[key] = _Raw(text)
        else:
            container, key = rng.choice(list(_nodes(header)))
            container[key] = _Raw(text)
    elif kind == "json_structure":
        target = config if rng.random() < 0.6 else header
        nodes = list(_nodes(target))
        container, key = rng.choice(nodes)
        op = rng.randrange(5)
        if op == 0:  # a string or number becomes a list or object holding it
            container[key] = rng.choice([[container[key]], {"v": container[key]}])
        elif op == 1 and isinstance(container, dict):
            del container[key]
        elif op == 2 and isinstance(container, dict):
            container[rng.choice(["extra", "kind", "", "__metadata__", "stages"])] = _weird_value(
                rng
            )
        elif op == 3 and isinstance(container, list):
            container.append(_copy(container[key]) if rng.random() < 0.5 else _weird_value(rng))
        elif op == 4 and isinstance(container, list):
            container.pop(key)
        else:
            container[key] = _weird_value(rng)
    elif kind in ("numbers", "config_value"):
        nodes = list(_nodes(config))
        numeric = [(c, k) for c, k in nodes if isinstance(c[k], (int, float))]
        container, key = rng.choice(numeric if kind == "numbers" and numeric else nodes)
        value = container[key]
        if kind == "numbers" and isinstance(value, (int, float)) and not isinstance(value, bool):
            container[key] = rng.choice(
                [
                    value + rng.choice([-1, 1]),
                    -value,
                    value * 2,
                    float(value),
                    int(value) if isinstance(value, float) else value,
                    str(value),
                    _Raw(str(value).translate(_FULLWIDTH)),
                    _weird_value(rng),
                    rng.uniform(-3, 3),
                ]
            )
        else:
            container[key] = _weird_value(rng)
    elif kind == "metadata":
        meta = header["__metadata__"]
        key = rng.choice(["format", "format_version", "model", "config", "card.x"])
        meta[key] = rng.choice(
            [
                "1",
                "01",
                " 1",
                "1 ",
                "１",
                "١",
                "²",
                "1.0",
                "2",
                "0",
                "-1",
                "9" * 30,
                "",
                "ccinfer",
                "CondMLP",
                "GRUStack",
                "TreeGated",
                "Sequential",
                "null",
                "[]",
                "{}",
                _weird_value(rng),
            ]
        )
        return _rebuild(seed, header, None)
    else:
        raise ValueError(f"unknown mutation kind {kind!r}")
    return _rebuild(seed, header, config)


# Digits written full-width: spliced raw, not valid JSON numbers.
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


# ---- running --------------------------------------------------------------------------------
def case_plan(seed: int, case: int, n_seeds: int) -> tuple[int, str, random.Random]:
    """The seed file index, mutation kind and random stream of one case (reproducible)."""
    rng = random.Random(f"{seed}:{case}")
    return rng.randrange(n_seeds), rng.choice(KINDS), rng


def _exercise(model) -> None:
    """One forward pass or step with a matching input."""
    import numpy as np

    import ccinfer

    if isinstance(model, ccinfer.GRUStack):
        if model.token_input:
            model.step(model.input_size - 1)
        else:
            model.step(np.ones(model.input_size, np.float32))
        return
    width = model.sizes[0] if isinstance(model, ccinfer.CondMLP) else model.in_features
    x = np.linspace(-1, 1, 2 * width, dtype=np.float32).reshape(2, width)
    model(x)
    model(np.ascontiguousarray(x[0]))


def child(seed: int, start: int, stop: int, progress: Path, workdir: Path) -> dict:
    """Run cases [start, stop) and return the counts; write each case number to ``progress``
    before running it, so the parent can name the case of a crash or hang."""
    import ccinfer

    seeds = [Seed(p) for p in SHIPPED + _extra_seeds(workdir)]
    crash_at = int(os.environ.get("CCINFER_FUZZ_ABORT_AT", "-1"))
    counts: collections.Counter = collections.Counter()
    failures = []
    target = workdir / "case.safetensors"
    with open(progress, "w") as prog:
        for case in range(start, stop):
            prog.seek(0)
            prog.write(f"{case:>20}\n")
            prog.flush()
            if case == crash_at:  # the fuzzer's own test: a crash must be reported, not lost
                os.abort()
            index, kind, rng = case_plan(seed, case, len(seeds))
            with open(target, "wb") as f:
                for piece in mutate(seeds[index], kind, rng):
                    f.write(piece)
            try:
                model = ccinfer.load(target)
            except ValueError:
                outcome = "valueerror"
            except BaseException as e:
                outcome = f"error:{type(e).__name__}"
                failures.append(
                    {
                        "case": case,
                        "kind": kind,
                        "file": seeds[index].path.name,
                        "error": f"{type(e).__name__}: {str(e)[:300]}",
                    }
                )
            else:
                try:
                    _exercise(model)
                    outcome = "loaded"
                except BaseException as e:
                    outcome = f"step-error:{type(e).__name__}"
                    failures.append(
                        {
                            "case": case,
                            "kind": kind,
                            "file": seeds[index].path.name,
                            "error": f"after loading: {type(e).__name__}: {str(e)[:300]}",
                        }
                    )
            counts[f"{kind}/{outcome}"] += 1
    return {"counts": dict(counts), "failures": failures}


def run(
    cases: int,
    seed: int,
    start: int = 0,
    batch: int = 2000,
    timeout: float = 600.0,
    log=None,
    deadline: float | None = None,
) -> dict:
    """Run ``cases`` cases from ``start`` in child processes of ``batch`` cases each. A batch
    that crashes or hangs records a failure for the case it was running and the run resumes
    after that case. Returns the counts per ``kind/outcome`` and the failures."""
    counts: collections.Counter = collections.Counter()
    failures: list[dict] = []
    case, stop = start, start + cases
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as d:
        progress = Path(d) / "progress"
        while case < stop:
            end = min(case + batch, stop)
            progress.write_text("")
            # One thread: the fuzzer tests the loader, and must not take more than one core.
            env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
            cmd = [
                sys.executable,
                __file__,
                "--child",
                "--seed",
                str(seed),
                "--start",
                str(case),
                "--cases",
                str(end - case),
                "--workdir",
                d,
            ]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
                reason = None if proc.returncode == 0 else f"exit status {proc.returncode}"
                tail = proc.stderr[-2000:]
            except subprocess.TimeoutExpired as e:
                reason, tail = f"no answer within {timeout} s", str(e.stderr or "")[-2000:]
            if reason is None:
                result = json.loads(proc.stdout.splitlines()[-1])
                counts.update(result["counts"])
                failures.extend(result["failures"])
                case = end
            else:
                text = progress.read_text().strip()
                bad = int(text) if text else case
                failures.append(
                    {"case": bad, "error": f"child process died: {reason}", "stderr": tail}
                )
                counts["crash"] += 1
                # Cases before the crash ran but their counts died with the child: rerun them
                # without the bad one, so every case is counted once.
                if bad > case:
                    part = run(bad - case, seed, case, batch, timeout)
                    counts.update(part["counts"])
                    failures.extend(part["failures"])
                case = bad + 1
            if log:
                log(f"{case - start}/{cases} cases, {len(failures)} failures", counts, failures)
            if deadline is not None and time.time() > deadline and case < stop:
                cases = case - start  # out of time: report the cases that ran
                break
    return {
        "seed": seed,
        "start": start,
        "cases": cases,
        "counts": dict(counts),
        "failures": failures,
    }


def summarize(result: dict) -> str:
    """Counts per outcome and per mutation kind, as a table."""
    per_kind: dict = collections.defaultdict(collections.Counter)
    totals: collections.Counter = collections.Counter()
    for key, n in result["counts"].items():
        kind, _, outcome = key.partition("/")
        per_kind[kind][outcome or kind] += n
        totals[outcome or kind] += n
    outcomes = sorted(totals)
    lines = [
        f"seed {result['seed']}, cases {result['start']}..{result['start'] + result['cases']}",
        "| kind | " + " | ".join(outcomes) + " |",
        "| --- |" + " --- |" * len(outcomes),
    ]
    for kind in sorted(per_kind):
        lines.append(f"| {kind} | " + " | ".join(str(per_kind[kind][o]) for o in outcomes) + " |")
    lines.append("| total | " + " | ".join(str(totals[o]) for o in outcomes) + " |")
    for f in result["failures"][:50]:
        lines.append(f"FAILURE {json.dumps(f)[:600]}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", type=Path, help="also write the result here (after each batch)")
    parser.add_argument(
        "--max-seconds", type=float, help="start no batch after this long; report what ran"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = child(
            args.seed, args.start, args.start + args.cases, args.workdir / "progress", args.workdir
        )
        print(json.dumps(result))
        return 0
    t0 = time.time()

    def log(line, counts, failures):
        print(f"[{time.time() - t0:7.0f} s] {line}", file=sys.stderr, flush=True)
        if args.json:  # partial results survive a run that is stopped
            partial = {"seed": args.seed, "start": args.start, "counts": dict(counts)}
            args.json.write_text(json.dumps({**partial, "failures": failures}, indent=1))

    deadline = None if args.max_seconds is None else t0 + args.max_seconds
    result = run(
        args.cases, args.seed, args.start, args.batch, args.timeout, log=log, deadline=deadline
    )
    result["seconds"] = round(time.time() - t0, 1)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(summarize(result))
    print(f"{result['seconds']} s")
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
