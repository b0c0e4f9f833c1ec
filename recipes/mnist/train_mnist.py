"""Train the MNIST conditional MLPs of Davis & Arel (2014) and record their test errors.

Trains the control network (no estimator) and the four networks with low-rank sign estimators
in the loop (dissertation table 3.3), all with the same seed and number of epochs. For each it
writes ``mlp-<config>.safetensors`` (tensors ``layers.{i}.weight`` (out, in) and
``layers.{i}.bias``, float32, i = 0..3) and updates ``results.json`` in the output directory
(entries of configurations not trained in this run are kept). For the control the JSON also
holds the test error with estimators of every rank set added after training (SVD of the
control's weights, tau = 0). Adam, batch 128, learning rate 1e-3 decayed per epoch to 1e-4 by
the last epoch, one PyTorch thread.

Needs ccinfer installed with the ``torch`` extra. Example, from the project root::

    python recipes/mnist/train_mnist.py --config all --epochs 50
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from safetensors.numpy import save_file

from ccinfer.datasets import load_mnist
from ccinfer.train.mlp import MNIST_SIZES, evaluate, state_to_numpy, train_mlp

# Training output stays inside the repository, in the ignored build/ tree.
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "artifacts" / "mnist"

CONFIGS = {
    "control": None,
    "50-35-25": (50, 35, 25),
    "25-25-25": (25, 25, 25),
    "15-10-5": (15, 10, 5),
    "10-10-5": (10, 10, 5),
}
PAPER_TEST_ERROR = {  # dissertation table 3.3, mean of 10 runs
    "control": 1.124,
    "50-35-25": 1.150,
    "25-25-25": 1.2335,
    "15-10-5": 1.5245,
    "10-10-5": 3.273,
}
INPUT_NOTE = "MNIST pixels / 255 as float32 in [0, 1], 28x28 flattened row by row"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments; default ``sys.argv[1:]``.

    Returns
    -------
    argparse.Namespace
        The parsed options.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="default: $CCINFER_DATA, else ./data")
    parser.add_argument("--out-dir", type=Path, default=ARTIFACTS)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--config", choices=[*CONFIGS, "all"], default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument(
        "--final-lr",
        type=float,
        default=1e-4,
        help="the learning rate decays exponentially, once per epoch, from --lr to this "
        "(1e-4 is the dissertation's Adam learning rate)",
    )
    parser.add_argument("--batch-size", type=int, default=128)
    return parser.parse_args(argv)


def save_weights(path: Path, net, metadata: dict[str, str]) -> None:
    """Write the linear layers of `net` as ``layers.{i}.weight`` / ``layers.{i}.bias``.

    Parameters
    ----------
    path : Path
        The ``.safetensors`` file to write.
    net : torch.nn.Sequential
        A trained `ccinfer.train.mlp.make_mlp` network.
    metadata : dict of str to str
        Stored in the file header.
    """
    weights, biases = state_to_numpy(net)
    tensors = {}
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        tensors[f"layers.{i}.weight"] = w
        tensors[f"layers.{i}.bias"] = b
    save_file(tensors, str(path), metadata=metadata)


def main(argv: list[str] | None = None) -> None:
    """Train the selected configurations and write weights and results.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments; default ``sys.argv[1:]``.
    """
    args = parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    results_path = args.out_dir / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results["paper_test_error"] = PAPER_TEST_ERROR
    configs = list(CONFIGS) if args.config == "all" else [args.config]
    x_test, y_test = load_mnist(args.data_dir, "test")
    lr_decay = (args.final_lr / args.lr) ** (1.0 / args.epochs)
    for name in configs:
        ranks = CONFIGS[name]
        start = time.perf_counter()
        net, metrics = train_mlp(
            args.data_dir,
            ranks=ranks,
            epochs=args.epochs,
            seed=args.seed,
            lr=args.lr,
            batch_size=args.batch_size,
            lr_decay=lr_decay,
        )
        seconds = time.perf_counter() - start
        weights_file = args.out_dir / f"mlp-{name}.safetensors"
        save_weights(
            weights_file,
            net,
            {
                "config": name,
                "ranks": "" if ranks is None else ",".join(map(str, ranks)),
                "epochs": str(args.epochs),
                "seed": str(args.seed),
                "test_error": f"{metrics['test_error']:.4f}",
                "sizes": ",".join(map(str, MNIST_SIZES)),
                "input": INPUT_NOTE,
            },
        )
        entry = {
            "ranks": None if ranks is None else list(ranks),
            "epochs": args.epochs,
            "seed": args.seed,
            "lr": args.lr,
            "final_lr": args.final_lr,
            "lr_decay": lr_decay,
            "batch_size": args.batch_size,
            "train_seconds": seconds,
            "weights": weights_file.name,
            **metrics,
        }
        if ranks is None:
            entry["post_hoc"] = {
                other: evaluate(net, x_test, y_test, other_ranks)
                for other, other_ranks in CONFIGS.items()
                if other_ranks is not None
            }
        results.setdefault("configs", {})[name] = entry
        results_path.write_text(json.dumps(results, indent=2) + "\n")
        print(
            f"{name}: test error {metrics['test_error']:.3f}% "
            f"(without estimators {metrics['test_error_dense']:.3f}%), {seconds:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
