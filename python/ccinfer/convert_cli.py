"""``ccinfer convert``: a model trained elsewhere into a ccinfer model file.

The input's format is told from its content (formats.py), never from its extension alone: an
ONNX model, a PyTorch ``state_dict`` (read with ``torch.load(weights_only=True)``: no code
runs), a safetensors or ``.npz`` file of arrays named ``layers.{i}.weight`` /
``layers.{i}.bias``, or a ccinfer model file (to choose its estimators again). Weights alone
do not say the activation, so the last two need ``--activation relu``. An MLP then gets its
estimators from ``--ranks`` or from ``--calibrate`` on the caller's data, and the command
prints what it chose and what it left dense.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import formats

DESCRIPTION = """\
Convert a trained model into a ccinfer model file. Inputs, told apart by content:
  ONNX model                MLP graphs -> CondMLP, GRU graphs -> dense GRUStack
  PyTorch state_dict        torch.save(model.state_dict()) of an nn.Sequential of
                            Linear/ReLU (needs --activation relu)
  safetensors / .npz        arrays layers.{i}.weight (out, in) and layers.{i}.bias
                            (needs --activation relu)
  ccinfer model file        a CondMLP whose estimators are chosen again
An MLP's estimators come from --ranks or --calibrate (none: the dense network).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="the model to convert")
    p.add_argument("-o", "--output", required=True, help="the ccinfer model file to write")
    p.add_argument(
        "--activation",
        choices=["relu"],
        default=None,
        help="the hidden activation of a state_dict or array file (arrays do not say it)",
    )
    choice = p.add_mutually_exclusive_group()
    choice.add_argument(
        "--ranks",
        default=None,
        help="estimator rank per hidden layer, comma-separated ('none' keeps a layer dense)",
    )
    choice.add_argument(
        "--calibrate",
        nargs=2,
        metavar=("DATA.npy", "LABELS.npy"),
        default=None,
        help="choose ranks and thresholds on these inputs (n, in) and labels (n,)",
    )
    p.add_argument(
        "--max-accuracy-drop",
        type=float,
        default=None,
        help="with --calibrate: the largest allowed drop of top-1 accuracy, a fraction "
        "(0.005 = half a point)",
    )
    p.add_argument("--tau", type=float, default=0.0, help="estimator threshold with --ranks")
    p.add_argument("--onnx-output", default=None, help="the ONNX graph output to convert")
    p.add_argument(
        "--token-input",
        action="store_true",
        help="an ONNX GRU whose float input is one-hot vectors: take token ids instead",
    )
    p.add_argument(
        "--float16", action="store_true", help="store the weights in float16 (half the size)"
    )


def run(args: argparse.Namespace) -> int:
    source = Path(args.input)
    if not source.is_file():
        raise FileNotFoundError(f"no such file: {source}")
    if args.calibrate is None and args.max_accuracy_drop is not None:
        raise ValueError("--max-accuracy-drop needs --calibrate DATA.npy LABELS.npy")
    if args.calibrate is not None and args.max_accuracy_drop is None:
        raise ValueError("--calibrate needs --max-accuracy-drop X")
    kind, model = _read(source, args)
    print(f"read {source} ({kind}): {model!r}")
    if args.ranks is not None or args.calibrate is not None:
        model = _choose_estimators(model, args)
    model.card = {**model.card, "converted_from": f"{source.name} ({kind})"}
    model.save(args.output, store_dtype=np.float16 if args.float16 else np.float32)
    print(f"wrote {args.output}: {model!r}")
    return 0


# ---- reading ----------------------------------------------------------------------------------


def _read(path: Path, args: argparse.Namespace):
    """The format's name and a dense ccinfer model."""
    from .mlp import CondMLP

    kind = formats.sniff(path)
    if kind == formats.ONNX:
        from .convert.onnx import from_onnx

        token_input = True if args.token_input else None
        return "ONNX", from_onnx(path, output=args.onnx_output, token_input=token_input)
    if args.onnx_output is not None or args.token_input:
        raise ValueError(f"--onnx-output and --token-input are for ONNX inputs; {path} is not")
    if kind == formats.SAFETENSORS:
        if formats.is_ccinfer_model(path):
            from ._load import load

            if args.activation is not None:
                raise ValueError(f"{path} is a ccinfer model: --activation is not needed")
            return "ccinfer model", load(path)
        from safetensors.numpy import load_file

        return "safetensors arrays", _from_arrays(CondMLP, load_file(str(path)), args)
    if kind == formats.ZIP and _is_npz(path):
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in f.files}
        return "npz arrays", _from_arrays(CondMLP, arrays, args)
    if kind in (formats.ZIP, formats.PICKLE):
        return "PyTorch state_dict", _from_torch_file(CondMLP, path, args)
    raise ValueError(
        f"{path} is {formats.DESCRIPTIONS[kind]}; supported inputs are ONNX models, PyTorch "
        f"state_dict files, safetensors or .npz arrays and ccinfer model files"
    )


def _is_npz(path: Path) -> bool:
    """A numpy .npz archive holds only .npy members (a torch.save archive holds data.pkl)."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    return bool(names) and all(n.endswith(".npy") for n in names)


def _from_arrays(CondMLP, arrays: dict, args: argparse.Namespace):
    _need_activation(args)
    return CondMLP.from_numpy(arrays, activation=args.activation)


def _from_torch_file(CondMLP, path: Path, args: argparse.Namespace):
    try:
        import torch
    except ImportError:
        raise ValueError(f"{path} looks like a PyTorch file; reading it needs torch") from None
    _need_activation(args)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # weights_only refuses anything but tensors and containers
        raise ValueError(f"{path}: cannot read it as a state_dict ({e})") from None
    if not isinstance(state, dict):
        raise ValueError(
            f"{path} holds a {type(state).__name__}, not a state_dict (save "
            f"model.state_dict(), not the model)"
        )
    return CondMLP.from_torch(state, activation=args.activation)


def _need_activation(args: argparse.Namespace) -> None:
    if args.activation is None:
        raise ValueError(
            "weights alone do not say the activation: pass --activation relu to state that "
            "every layer but the last is followed by a ReLU and the last is linear"
        )


# ---- estimators -------------------------------------------------------------------------------


def _choose_estimators(model, args: argparse.Namespace):
    from .mlp import CondMLP

    if not isinstance(model, CondMLP):
        raise ValueError(
            f"--ranks and --calibrate are for MLPs; this is a {type(model).__name__}, written "
            f"dense (ccinfer.train.gru makes a GRU conditional by fine-tuning)"
        )
    output: dict[str, Any] = {
        "output_activation": model.output_activation,
        "task": model.task,
        "classes": model.classes,
    }
    hidden = len(model.weights) - 1
    if args.ranks is not None:
        ranks = _parse_ranks(args.ranks, hidden)
        model = CondMLP.from_dense(model.weights, model.biases, ranks, args.tau, **output)
        print("estimators (--ranks):")
        for i, r in enumerate(ranks):
            what = "dense (no estimator)" if r is None else f"rank {r}, tau {args.tau:g}"
            print(f"  layer {i}: {what}")
        return model
    data, labels = (np.load(p, allow_pickle=False) for p in args.calibrate)
    model = CondMLP.from_dense(model.weights, model.biases, **output)
    X = np.ascontiguousarray(data, dtype=np.float32)
    # Labels are class indices, or the model's own labels when it has classes.
    report = model.calibrate(X, labels, max_accuracy_drop=args.max_accuracy_drop)
    print(
        f"calibrated on {len(X)} samples, max accuracy drop {args.max_accuracy_drop:g}: "
        f"accuracy {report['dense_accuracy']:.4f} dense -> {report['accuracy']:.4f}"
    )
    for i, layer in enumerate(report["layers"]):
        if layer["rank"] is None:
            print(f"  layer {i}: refused every estimator (none kept the bound): stays dense")
        else:
            print(
                f"  layer {i}: rank {layer['rank']}, tau {layer['tau']:.4g}, active fraction "
                f"{layer['active_fraction']:.3f}, recall {layer['recall']:.3f}"
            )
    model.reset_stats()
    model(X)
    bound = model.stats["flop_bound_speedup"]
    model.reset_stats()
    print(f"  flop-bound speed-up on this data (docs/design.md section 1): {bound:.2f}x")
    return model


def _parse_ranks(text: str, hidden: int) -> list[int | None]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != hidden:
        raise ValueError(f"--ranks: the model has {hidden} hidden layers, got {len(parts)} ranks")
    ranks: list[int | None] = []
    for p in parts:
        if p.lower() == "none":
            ranks.append(None)
        elif p.isascii() and p.isdigit() and int(p) >= 1:
            ranks.append(int(p))
        else:
            raise ValueError(f"--ranks: {p!r} is not a positive integer or 'none'")
    return ranks
