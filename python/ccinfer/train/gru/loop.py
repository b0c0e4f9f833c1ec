"""`train_char_lm`: a whole training run the dissertation's way, with periodic measurements
and checkpoints; `fit_char_lm`: the same loop for a given model and text (fine-tuning)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .data import evaluate_char_lm, load_char_splits
from .density import DensitySchedule
from .model import CharLM
from .trainer import CharLMTrainer


def train_char_lm(
    data_dir: str | Path | None = None,
    corpus: str = "both",
    hidden: int = 256,
    layers: int = 1,
    gate: str = "dense",
    rank: int | None = None,
    shift: float = 0.0,
    updates: int = 10000,
    *,
    seed: int = 0,
    num_threads: int = 1,
    **training,
) -> tuple[CharLM, dict]:
    """Train a character language model on ``text/`` the dissertation's way (section 4.5.1).

    A fresh `CharLM` (seeded) trained by `fit_char_lm`; see `CharLMTrainer` for the update.
    Every ``eval_every`` updates the validation BPC and the update-gate densities are measured
    on the first ``eval_symbols`` symbols of the validation text, and at the end on all of it
    and on as many symbols from the start of the training text (all in eval mode, running
    batch-norm statistics). With ``checkpoint_path`` a checkpoint is written every
    ``checkpoint_every`` updates and at the end; with ``resume`` an existing checkpoint is
    loaded first and training continues from it up to `updates` in total (a finished
    checkpoint just re-evaluates).

    Parameters
    ----------
    data_dir : str or Path, optional
        The shared data directory.
    corpus : {"austen", "kjv", "both"}
        See `load_char_splits`.
    hidden, layers : int
        Width and number of GRU layers.
    gate : {"dense", "lowrank", "block"}
        Kind of update gate.
    rank : int, optional
        Bottleneck rank (``lowrank``) or gating dimension (``block``).
    shift : float
        The ``s`` of ``BN_s``.
    updates : int
        Total number of updates (including those of a resumed checkpoint).
    seed : int
        Seeds the initialisation.
    num_threads : int
        PyTorch intra-op threads (`torch.set_num_threads`, process-wide).
    **training
        The loop's settings, passed to `fit_char_lm` with its defaults: ``seq_len``,
        ``batch_size``, ``lr``, ``clip_norm``, ``reset_every``, ``eval_every``,
        ``eval_symbols``, ``checkpoint_path``, ``checkpoint_every``, ``resume``, ``progress``
        (and the fine-tuning ones).

    Returns
    -------
    model : CharLM
        The trained model, in eval mode.
    metrics : dict
        As `fit_char_lm` returns, with ``corpus`` and ``seed`` added to ``settings``.
    """
    torch.set_num_threads(num_threads)
    train_ids, valid_ids = load_char_splits(data_dir, corpus)
    torch.manual_seed(seed)
    model = CharLM(hidden, layers, gate, rank, shift)
    metrics = fit_char_lm(model, train_ids, valid_ids, updates, **training)
    metrics["settings"]["corpus"] = corpus
    metrics["settings"]["seed"] = seed
    return model, metrics


def fit_char_lm(
    model: CharLM,
    train_ids: np.ndarray,
    valid_ids: np.ndarray,
    updates: int,
    *,
    seq_len: int = 50,
    batch_size: int = 64,
    lr: float = 1e-3,
    clip_norm: float = 1.0,
    reset_every: int = 1000,
    eval_every: int = 1000,
    eval_symbols: int = 64000,
    evaluate: Callable[[CharLM], dict] | None = None,
    stagger_resets: bool = False,
    teacher: CharLM | None = None,
    distil: float = 0.5,
    density: DensitySchedule | None = None,
    checkpoint_path: str | Path | None = None,
    checkpoint_every: int = 500,
    resume: bool = True,
    progress: bool = True,
) -> dict:
    """Train (or fine-tune) a given `CharLM` on a text with `CharLMTrainer`.

    The loop of `train_char_lm` for any model and any symbol ids: a fresh model, or one that
    `conditional_from_dense` initialised from a trained dense GRU. Every `eval_every` updates
    (and at the end) the model is measured in eval mode, by default with `evaluate_char_lm`
    on the first `eval_symbols` symbols of `valid_ids`.

    Parameters
    ----------
    model : CharLM
        Trained in place.
    train_ids, valid_ids : numpy.ndarray
        Training and held-out text as symbol ids (1-D).
    updates : int
        Total number of updates (including those of a resumed checkpoint).
    seq_len, batch_size, lr, clip_norm, reset_every :
        See `CharLMTrainer`.
    eval_every : int
        Updates between measurements.
    eval_symbols : int
        Held-out symbols the default measurement uses.
    evaluate : callable, optional
        ``evaluate(model) -> dict`` with ``bpc`` and ``z_density`` (see `evaluate_char_lm`),
        called in place of the default measurement (the model is in eval mode; its mode is
        restored after). Its own time is not counted as training time.
    stagger_resets, teacher, distil, density :
        Streams reset one by one, distillation from a trained model and a z density to
        steer to: see `CharLMTrainer` (what fine-tuning a converted model uses;
        `conditional_from_dense`).
    checkpoint_path, checkpoint_every, resume :
        A checkpoint path without suffix (``.safetensors`` and ``.json`` are added), written
        every `checkpoint_every` updates and at the end; with `resume` an existing one is
        loaded first and training continues from it up to `updates` in total.
    progress : bool
        Show a tqdm progress bar. A line per measurement is printed either way.

    Returns
    -------
    dict
        ``history`` (per measurement: ``step``, ``train_bpc`` (mean training loss since the
        previous measurement, batch statistics), ``valid_bpc``, ``z_density``, ``seconds``
        (training wall time so far)), ``train_seconds``, ``updates``, ``valid`` and ``train``
        (`evaluate_char_lm` on all of `valid_ids` and on as many symbols of `train_ids`),
        ``settings``. The model is left in eval mode.
    """

    def measure() -> dict:
        was_training = model.training
        model.eval()
        result = evaluate(model) if evaluate else evaluate_char_lm(model, valid_ids[:eval_symbols])
        model.train(was_training)
        return result

    trainer = CharLMTrainer(
        model,
        train_ids,
        seq_len,
        batch_size,
        lr,
        clip_norm,
        reset_every,
        stagger_resets=stagger_resets,
        teacher=teacher,
        distil=distil,
        density=density,
    )
    extra: dict = {"history": [], "train_seconds": 0.0}
    if checkpoint_path is not None and resume:
        if Path(str(checkpoint_path) + ".json").exists():
            extra = trainer.load(checkpoint_path)
    gate, rank, shift = model.gru.gate, model.gru.rank, model.gru.layers[0].shift
    name = gate if gate == "dense" else f"{gate}-{rank}-s{shift:g}"
    window, window_loss = 0, 0.0
    last_time = time.perf_counter()
    bar = tqdm(total=updates, initial=min(trainer.step, updates), desc=name, disable=not progress)
    while trainer.step < updates:
        window_loss += trainer.train_step()
        window += 1
        bar.update(1)
        now = time.perf_counter()
        extra["train_seconds"] += now - last_time
        last_time = now
        if trainer.step % eval_every == 0 or trainer.step == updates:
            result = measure()
            extra["history"].append(
                {
                    "step": trainer.step,
                    "train_bpc": window_loss / window / math.log(2),
                    "valid_bpc": result["bpc"],
                    "z_density": result["z_density"],
                    "seconds": extra["train_seconds"],
                }
            )
            window, window_loss = 0, 0.0
            bar.set_postfix(valid_bpc=f"{result['bpc']:.3f}")
            measured = result["z_density"]
            tqdm.write(
                f"{name} update {trainer.step}: train {extra['history'][-1]['train_bpc']:.3f}"
                f" valid {result['bpc']:.3f} BPC"
                + ("" if measured is None else f", z density {np.round(measured, 3).tolist()}")
                + f" ({extra['train_seconds']:.0f} s)"
            )
            last_time = time.perf_counter()
        if checkpoint_path is not None and (
            trainer.step % checkpoint_every == 0 or trainer.step == updates
        ):
            trainer.save(checkpoint_path, extra)
            last_time = time.perf_counter()
    bar.close()
    model.eval()
    metrics = dict(extra)
    metrics["updates"] = trainer.step
    metrics["settings"] = trainer.settings()
    metrics["valid"] = evaluate_char_lm(model, valid_ids)
    metrics["train"] = evaluate_char_lm(model, train_ids[: len(valid_ids)])
    return metrics
