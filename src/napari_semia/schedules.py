"""Schedules over the training run: augmentation strength and learning rates.

Both are pure functions of the step, kept apart from the trainer so the
training loop reads as steps and the schedules can be tested on their own.
"""

from __future__ import annotations


def progressive_strength(step: int, total_steps: int, ramp_fraction: float) -> float:
    """Augmentation strength ramping linearly from 0 to 1 over the first part of training."""
    ramp_steps = max(1.0, ramp_fraction * total_steps)
    return float(min(1.0, step / ramp_steps))


def learning_rate_factor(step: int, total_steps: int, decay_start: float) -> float:
    """1 until ``decay_start`` (a fraction of the run), then linear decay to 1/10 at the end."""
    start = decay_start * total_steps
    if step < start:
        return 1.0
    return 1.0 - 0.9 * (step - start) / max(1.0, total_steps - start)
