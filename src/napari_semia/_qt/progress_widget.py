"""Progress bar (step count) and a status line (phase, elapsed, ETA)."""

from __future__ import annotations

from qtpy.QtWidgets import QProgressBar, QVBoxLayout, QWidget

from .sections import WrappingLabel
from .state import Phase, WidgetState


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


class ProgressWidget(QWidget):
    """Shows the state's progress; it never changes the state."""

    def __init__(self, state: WidgetState, parent=None):
        super().__init__(parent)
        self.state = state
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("step %v / %m")
        self.bar.setAccessibleName("Training progress")
        self.bar.setTextVisible(True)
        self.label = WrappingLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.label)
        state.events.connect(self._show)
        self._show()

    def _show(self, *_args) -> None:
        s = self.state
        self.bar.setRange(0, max(1, s.total_steps))
        self.bar.setValue(min(s.step, max(1, s.total_steps)))
        self.bar.setFormat("step %v / %m" if s.total_steps else "not trained yet")
        if s.phase is Phase.STOPPING and not s.step:
            self.label.setText("Stopping…")
        elif s.training and s.step:
            eta = "stopping…" if s.phase is Phase.STOPPING else f"about {format_duration(s.eta_s)} left"
            self.label.setText(f"Training: {format_duration(s.elapsed_s)} elapsed, {eta}")
        else:
            self.label.setText(s.message + s.hidden_note)
