"""The resumable training state of a `CharLM` (`CharLMTrainer`) and its checkpoints."""

from __future__ import annotations

import json
import math
import os
from numbers import Real
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from .density import DensitySchedule
from .model import CharLM
from .stack import z_density


class CharLMTrainer:
    """The resumable training state of a `CharLM`: model, Adam, text streams, carried state.

    Training follows the dissertation (section 4.5.1): the training text is cut into
    `batch_size` contiguous streams of equal length, read side by side; every update takes the
    next `seq_len` symbols of every stream, back-propagates through those steps only
    (truncated BPTT) and keeps the final state as the next update's initial state. The state
    is reset to zero every `reset_every` updates, and when the streams reach their end and
    start again from the beginning (an epoch). Adam with a constant learning rate; before
    each step the gradients are clipped to a global L2 norm of `clip_norm` (the dissertation
    does not say; this guards against the occasional exploding gradient of truncated BPTT
    without changing ordinary steps).

    Two additions for fine-tuning a model converted from a dense one
    (`conditional_from_dense`), usable for any model:

    - a `teacher` (distillation): the objective becomes ``(1 - distil) * CE + distil * KL``,
      the KL divergence from the teacher's next-symbol distribution to the model's, the
      teacher reading the same streams with its own carried state. The dense model a
      conditional one was converted from knows the text better than the one-hot targets say.
    - a `density` schedule (`DensitySchedule`): each layer's shift ``s`` is moved after every
      update to hold the fraction of open gates at the schedule's target.

    Parameters
    ----------
    model : CharLM
        The model to train (in place).
    train_ids : numpy.ndarray
        The training text as symbol ids.
    seq_len : int
        Steps per update (truncated BPTT length).
    batch_size : int
        Parallel streams.
    lr : float
        Adam learning rate.
    clip_norm : float
        Maximum global gradient norm.
    reset_every : int
        The carried state is zeroed before updates 0, reset_every, 2 * reset_every, ...
    stagger_resets : bool
        Reset each stream on its own: stream ``b`` before the updates ``u`` with
        ``(u + b * reset_every // batch_size) % reset_every == 0``, so that at most updates
        only a few streams start from a zero state (all do at the first update and when the
        streams wrap around to the start of the text). Batch normalisation in training mode takes
        each step's statistics over the batch; when every stream starts from zero together,
        the zero-state steps are normalised among themselves and half of their gates open
        whatever the weights, while eval mode (running statistics) may open none and stay at
        zero for good. Staggered, the zero-state steps are normalised like the rest, as in
        eval mode. Needed with short `reset_every` for models that must learn to keep state.
    teacher : CharLM, optional
        A trained model over the same symbols to distil from (kept in eval mode, not trained).
    distil : float
        Weight of the teacher's term, in [0, 1] (used only with a `teacher`).
    density : DensitySchedule, optional
        Steer each layer's z density (conditional models only).
    """

    def __init__(
        self,
        model: CharLM,
        train_ids: np.ndarray,
        seq_len: int = 50,
        batch_size: int = 64,
        lr: float = 1e-3,
        clip_norm: float = 1.0,
        reset_every: int = 1000,
        *,
        stagger_resets: bool = False,
        teacher: CharLM | None = None,
        distil: float = 0.5,
        density: DensitySchedule | None = None,
    ):
        if teacher is not None:
            if not isinstance(teacher, CharLM) or teacher.vocab_size != model.vocab_size:
                raise ValueError(
                    "CharLMTrainer: the teacher must be a CharLM over the same symbols"
                )
            if not (isinstance(distil, Real) and math.isfinite(distil) and 0 <= distil <= 1):
                raise ValueError(f"CharLMTrainer: distil must lie in [0, 1], got {distil!r}")
        if density is not None and not isinstance(density, DensitySchedule):
            raise ValueError(
                f"CharLMTrainer: density must be a DensitySchedule (e.g. "
                f"DensitySchedule(0.5, anneal=1000)), got {density!r}"
            )
        if density is not None and model.gru.gate == "dense":
            raise ValueError("CharLMTrainer: a dense model has no z density to steer")
        if min(seq_len, batch_size, reset_every) < 1:
            raise ValueError(
                f"CharLMTrainer: seq_len, batch_size and reset_every must be at least 1, got "
                f"{seq_len}, {batch_size}, {reset_every}"
            )
        length = len(train_ids) // batch_size
        if length < seq_len + 1:
            raise ValueError(
                f"CharLMTrainer: {len(train_ids)} training symbols are too few for "
                f"{batch_size} streams of at least {seq_len + 1}"
            )
        if batch_size < 2 and model.gru.gate != "dense":
            raise ValueError("CharLMTrainer: batch normalisation needs batch_size >= 2")
        self.model = model
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.clip_norm = clip_norm
        self.reset_every = reset_every
        self.stagger_resets = bool(stagger_resets)
        self.reset_offsets = torch.arange(batch_size) * reset_every // batch_size
        self.streams = torch.from_numpy(
            np.ascontiguousarray(np.asarray(train_ids[: batch_size * length], dtype=np.uint8))
        ).view(batch_size, length)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        self.teacher = None if teacher is None else teacher.eval()  # read under no_grad
        self.distil = float(distil) if teacher is not None else None
        self.density = density
        self.density_start: float | None = None  # measured at the first update
        self.step = 0
        self.adam_start = 0  # the update Adam's moments started from (a slim checkpoint's)
        self.pos = 0
        self.state: torch.Tensor | None = None
        self.teacher_state: torch.Tensor | None = None

    def settings(self) -> dict:
        """The training hyper-parameters and the model config, for checkpoints and results."""
        return {
            "model": self.model.config(),
            "seq_len": self.seq_len,
            "batch_size": self.batch_size,
            "lr": self.optimizer.param_groups[0]["lr"],
            "clip_norm": self.clip_norm,
            "reset_every": self.reset_every,
            "stagger_resets": self.stagger_resets,
            "stream_length": self.streams.shape[1],
            "distil": self.distil,
            "density": None if self.density is None else self.density.config(),
        }

    def train_step(self) -> float:
        """One update on the next `seq_len` symbols of every stream.

        Returns
        -------
        float
            The mean cross-entropy (nats per symbol) of this update against the text, before
            the step (without the teacher's term).
        """
        if self.pos + self.seq_len + 1 > self.streams.shape[1]:
            self.pos = 0
            self.state = self.teacher_state = None
        if self.stagger_resets:
            due = (self.step + self.reset_offsets) % self.reset_every == 0
            self.state, self.teacher_state = (
                None if s is None else s.masked_fill(due[None, :, None], 0.0)
                for s in (self.state, self.teacher_state)
            )
        elif self.step % self.reset_every == 0:
            self.state = self.teacher_state = None
        chunk = self.streams[:, self.pos : self.pos + self.seq_len + 1].t().long()
        self.model.train()
        trace: list[torch.Tensor] | None = [] if self.density is not None else None
        logits, state = self.model(chunk[:-1], self.state, trace)
        loss = F.cross_entropy(logits.flatten(0, 1), chunk[1:].flatten())
        objective = loss
        if self.teacher is not None and self.distil is not None:
            with torch.no_grad():
                target, self.teacher_state = self.teacher(chunk[:-1], self.teacher_state)
            divergence = F.kl_div(
                F.log_softmax(logits, -1).flatten(0, 1),
                F.log_softmax(target, -1).flatten(0, 1),
                log_target=True,
                reduction="batchmean",
            )
            objective = (1.0 - self.distil) * loss + self.distil * divergence
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
        self.optimizer.step()
        if trace is not None:
            self._steer_density([z_density(z) for z in trace])
        self.state = state.detach()
        self.pos += self.seq_len
        self.step += 1
        return float(loss.item())

    def _steer_density(self, measured: list[float]) -> None:
        """Move every layer's shift towards the schedule's target (see `DensitySchedule`)."""
        assert self.density is not None
        if self.density_start is None:
            self.density_start = sum(measured) / len(measured)
        target = self.density.at(self.step + 1, self.density_start)
        for cell, density in zip(self.model.gru.layers, measured, strict=True):
            cell.shift += self.density.gain * (target - density)

    def save(self, path: str | os.PathLike, extra: dict | None = None) -> None:
        """Write a checkpoint: ``<path>.safetensors`` (tensors) and ``<path>.json`` (the rest).

        The tensors are the model's state dict (``model.*``, batch-norm statistics included),
        Adam's moments and step counts (``optim.{i}.*``), the carried state (``state``) and
        PyTorch's RNG state (``rng``); the JSON holds the update count, the stream position,
        the settings, Adam's hyper-parameters and `extra`. No pickle. Both files are written to
        temporary names and renamed, the JSON last; `load` checks that the two belong together.

        Parameters
        ----------
        path : str or PathLike
            Checkpoint path without suffix.
        extra : dict, optional
            JSON-able data to keep with the checkpoint (metrics history, wall time).
        """
        path = Path(path)
        tensors = {f"model.{k}": v.contiguous() for k, v in self.model.state_dict().items()}
        optim = self.optimizer.state_dict()
        for index, values in optim["state"].items():
            for key, value in values.items():
                tensors[f"optim.{index}.{key}"] = value.contiguous()
        if self.state is not None:
            tensors["state"] = self.state.contiguous()
        if self.teacher_state is not None:
            tensors["teacher_state"] = self.teacher_state.contiguous()
        tensors["rng"] = torch.get_rng_state()
        groups = [
            {k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
            for g in optim["param_groups"]
        ]
        meta = {
            "step": self.step,
            "adam_start": self.adam_start,
            "pos": self.pos,
            "settings": self.settings(),
            "shifts": [cell.shift for cell in self.model.gru.layers],
            "density_start": self.density_start,
            "param_groups": groups,
            "extra": extra or {},
        }
        tensor_file = path.with_name(path.name + ".safetensors")
        json_file = path.with_name(path.name + ".json")
        save_file(tensors, str(tensor_file) + ".tmp", metadata={"step": str(self.step)})
        json_file.with_name(json_file.name + ".tmp").write_text(json.dumps(meta, indent=1))
        os.replace(str(tensor_file) + ".tmp", tensor_file)
        os.replace(json_file.with_name(json_file.name + ".tmp"), json_file)

    def load(self, path: str | os.PathLike) -> dict:
        """Restore a checkpoint written by `save` into this trainer.

        Parameters
        ----------
        path : str or PathLike
            Checkpoint path without suffix.

        Returns
        -------
        dict
            The `extra` data saved with it.

        Raises
        ------
        ValueError
            If the checkpoint was written with other settings, or its two files do not match.
        """
        path = Path(path)
        meta = json.loads(path.with_name(path.name + ".json").read_text())
        tensors = load_file(str(path.with_name(path.name + ".safetensors")))
        mine, theirs = _comparable(self.settings()), _comparable(meta["settings"])
        if theirs != mine:
            raise ValueError(f"checkpoint {path}: settings {theirs} differ from {mine}")
        optim_state: dict[int, dict[str, torch.Tensor]] = {}
        model_state = {}
        for name, value in tensors.items():
            kind, _, rest = name.partition(".")
            if kind == "model":
                model_state[rest] = value
            elif kind == "optim":
                index, _, key = rest.partition(".")
                optim_state.setdefault(int(index), {})[key] = value
        if len(optim_state) not in (0, len(list(self.model.parameters()))):
            raise ValueError(f"checkpoint {path}: optimiser state does not match the model")
        self.model.load_state_dict(model_state)
        groups = [
            {k: (tuple(v) if k == "betas" else v) for k, v in g.items()}
            for g in meta["param_groups"]
        ]
        self.optimizer.load_state_dict({"state": optim_state, "param_groups": groups})
        # Adam counts its own steps from where its moments started: 0, or the update of the
        # slim checkpoint (no moments) a run was resumed from.
        adam_start = int(meta.get("adam_start", 0)) if optim_state else int(meta["step"])
        steps = {int(v["step"]) for v in optim_state.values()}
        if steps and steps != {meta["step"] - adam_start}:
            raise ValueError(
                f"checkpoint {path}: tensors are from update {steps}, the JSON from "
                f"{meta['step']} (Adam started at {adam_start}; interrupted write?)"
            )
        self.step = meta["step"]
        self.adam_start = adam_start
        self.pos = meta["pos"]
        self.state = tensors.get("state")
        self.teacher_state = tensors.get("teacher_state")
        for cell, shift in zip(self.model.gru.layers, meta.get("shifts", []), strict=False):
            cell.shift = float(shift)
        self.density_start = meta.get("density_start")
        torch.set_rng_state(tensors["rng"])
        return meta["extra"]


def _comparable(settings: dict) -> dict:
    """Settings as `CharLMTrainer.load` compares them: keys added since a checkpoint was
    written take their defaults, and a steered shift is state, not a setting."""
    settings = {"stagger_resets": False, "distil": None, "density": None} | settings
    settings["model"] = {"affine": False} | settings["model"]
    if settings["density"] is not None:
        settings["model"] = {k: v for k, v in settings["model"].items() if k != "shift"}
    return settings


def slim_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Copy a checkpoint without Adam's moments and with the model in float16.

    A slim checkpoint resumes like a full one (`CharLMTrainer.load`): the update count, stream
    position, carried state and RNG state are kept, the weights come back rounded to float16
    once, and Adam starts again from zero moments. A third of the size and half the precision
    of a full one: small enough to keep the 27-1024-1024-27 models' training state in the
    repository (13 MB instead of 80 MB each).

    Parameters
    ----------
    src, dst : str or PathLike
        Checkpoint paths without suffix (``.safetensors`` and ``.json`` are added).
    """
    src, dst = Path(src), Path(dst)
    tensors = load_file(str(src.with_name(src.name + ".safetensors")))
    meta = json.loads(src.with_name(src.name + ".json").read_text())
    slim = {
        name: (value.half() if name.startswith("model.") and value.is_floating_point() else value)
        for name, value in tensors.items()
        if not name.startswith("optim.")
    }
    meta["slim"] = True
    save_file(
        slim, str(dst.with_name(dst.name + ".safetensors")), metadata={"step": str(meta["step"])}
    )
    dst.with_name(dst.name + ".json").write_text(json.dumps(meta, indent=1))
