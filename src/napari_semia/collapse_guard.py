"""Noticing a collapsed GAN: the reconstruction error is the training's own
measure of how well the generator reproduces the source, so when it climbs far
above its best and stays there, training has collapsed (the discriminator
has won and outputs turn flat). Seen on a 512 px histology image: the
discriminator loss fell from 0.5 to 0.05, the reconstruction error rose from
0.04 to 0.63 and never came back.

The guard keeps the weights of the step with the best (smoothed)
reconstruction error after the augmentation ramp, and says when to go back to
them (the trainer then goes on with lower learning rates, or stops).
"""

from __future__ import annotations

#: Weight of a new reconstruction error in the moving average.
SMOOTHING = 0.1
#: Collapsed: the moving average stays above this many times its best...
FACTOR = 3.0
#: ...for this many reconstruction steps in a row.
PATIENCE = 20


class CollapseGuard:
    def __init__(self, start_step: int, factor: float = FACTOR, patience: int = PATIENCE) -> None:
        self.start_step = int(start_step)
        """Steps before this (the augmentation ramp: errors rise with the warps) are not judged."""
        self.factor, self.patience = float(factor), int(patience)
        self.average: float | None = None
        self.best: float | None = None
        self.best_step: int | None = None
        self._bad = 0

    def restart(self) -> None:
        """After going back to the best weights: judge afresh from the best."""
        self.average, self._bad = self.best, 0

    def observe(self, step: int, reconstruction_error: float) -> str:
        """Take a reconstruction step's error; returns "best" (keep these
        weights), "collapsed" (stop and restore them) or "ok"."""
        value = float(reconstruction_error)
        self.average = value if self.average is None else (1 - SMOOTHING) * self.average + SMOOTHING * value
        if step < self.start_step:
            return "ok"
        if self.best is None or self.average < self.best:
            self.best, self.best_step, self._bad = self.average, step, 0
            return "best"
        self._bad = self._bad + 1 if self.average > self.factor * self.best else 0
        return "collapsed" if self._bad >= self.patience else "ok"
