"""What training reports: one :class:`TrainingProgress` per step, and the
estimate of the time left (:class:`EtaEstimator`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Steps whose durations make a phase's current cost (a moving mean).
_RECENT_STEPS = 50


@dataclass
class TrainingProgress:
    """One training update, yielded after every step and once at the end."""

    step: int
    total_steps: int
    losses: dict[str, float]
    elapsed_s: float
    eta_s: float
    mode: str = "sampling"
    preview: np.ndarray | None = None
    finished: bool = False
    stopped: bool = False
    device: str = "cpu"
    resolution: tuple[int, int] = (0, 0)
    diverged: str | None = None
    """Why training stopped on its own: a loss or gradient became NaN or
    infinite, or the GAN collapsed for good. The model keeps the weights of
    the last good (or best) step."""
    note: str | None = None
    """Something the user should hear about that did not stop training (a
    collapse undone)."""


class EtaEstimator:
    """Seconds left in a run of a coarse phase (half size) then a fine phase.

    Each phase's cost per step is the mean of its recent step durations (the
    first step, which allocates memory, left out once there are others).
    Until a fine step has run, its cost is the coarse cost plus
    ``fine_extra_s``, the extra seconds a fine step's four times the pixels
    add, measured on the real networks before training (see
    ``SemiaTrainer``), so the estimate covers both phases from the first step
    on. An added cost, not a ratio: the part of a step that does not grow
    with the pixels (optimizer updates, augmentation, Python) costs the same
    at both sizes.
    """

    def __init__(self, total_steps: int, coarse_steps: int, fine_extra_s: float = 0.0) -> None:
        self.total_steps = int(total_steps)
        self.coarse_steps = int(coarse_steps)
        self.fine_extra_s = max(0.0, float(fine_extra_s))
        self._seconds: dict[bool, list[float]] = {True: [], False: []}

    def record(self, coarse: bool, seconds: float) -> None:
        self._seconds[coarse].append(float(seconds))

    def _cost(self, coarse: bool) -> float | None:
        times = self._seconds[coarse]
        if not times:
            return None
        recent = times[1:][-_RECENT_STEPS:] if len(times) > 2 else times
        return float(np.mean(recent))

    def seconds_left(self, steps_done: int) -> float:
        coarse_cost, fine_cost = self._cost(True), self._cost(False)
        if fine_cost is None:
            fine_cost = (coarse_cost or 0.0) + self.fine_extra_s
        if coarse_cost is None:
            coarse_cost = max(0.0, fine_cost - self.fine_extra_s)
        coarse_left = max(0, self.coarse_steps - steps_done)
        fine_left = max(0, self.total_steps - max(steps_done, self.coarse_steps))
        return coarse_left * coarse_cost + fine_left * fine_cost
