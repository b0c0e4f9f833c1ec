"""`DensitySchedule`: a z density to hold while training, reached by moving each layer's shift."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from numbers import Integral, Real


@dataclass(frozen=True)
class DensitySchedule:
    """A target fraction of open update gates, held by adjusting ``s`` after every update.

    After each update `CharLMTrainer` measures, per layer, the fraction of non-zero gate
    values of that update's forward pass and moves the layer's shift towards the target:
    ``s += gain * (target - measured)``. The gradient step and the shift both move the gates,
    so the density is steered from what the run gives rather than set once: a shift chosen
    on one model drifts as the model trains (a converted model's optimiser keeps opening the
    gates its loss wants open).

    The target moves linearly from the density measured at the first update to `target` over
    `anneal` updates, then stays there: a model converted from a dense GRU starts with nearly
    every gate open, and shutting half of them in one step costs it several bits per
    character that it then has to learn back from a poor state.

    Parameters
    ----------
    target : float
        The density to reach, in (0, 1).
    anneal : int
        Updates over which the target moves from the starting density to `target` (0: hold
        `target` from the first update).
    gain : float
        Shift change per unit of density error (batch normalisation leaves unit variance,
        so near a density of 0.5 one unit of ``s`` moves the density by about 0.4).

    Raises
    ------
    ValueError
        If a value is out of range.
    """

    target: float
    anneal: int = 0
    gain: float = 2.0

    def __post_init__(self) -> None:
        for name in ("target", "gain"):
            value = getattr(self, name)
            if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"DensitySchedule: {name} must be a finite number, got {value!r}")
        if not 0.0 < self.target < 1.0:
            raise ValueError(f"DensitySchedule: target must lie in (0, 1), got {self.target}")
        if not isinstance(self.anneal, Integral) or isinstance(self.anneal, bool):
            raise ValueError(f"DensitySchedule: anneal must be an int, got {self.anneal!r}")
        if self.anneal < 0 or not 0.0 < self.gain <= 10.0:
            raise ValueError(
                f"DensitySchedule: need anneal >= 0 and gain in (0, 10], got {self.anneal}, "
                f"{self.gain}"
            )

    def at(self, update: int, start: float) -> float:
        """The target after `update` updates, starting from the density `start`."""
        if self.anneal == 0 or update >= self.anneal:
            return self.target
        return start + (self.target - start) * update / self.anneal

    def config(self) -> dict:
        """The schedule as a JSON-able dict (``DensitySchedule(**config)``)."""
        return asdict(self)
