"""Failures on the status line: shown in full there (napari's pop-up cuts long
messages short), and gone once they no longer apply.

A synthesis error replaces the line until a synthesis goes through, which
brings back what the line said before. A training failure (or "Not trained")
stays until other layers are chosen: it was about the layers chosen then. A
loaded model that does not fit the layers stays until other layers are chosen
or a synthesis goes through (the target painted to fit).
"""

from __future__ import annotations

from . import notify


class FailureStatus:
    def __init__(self, state):
        self._state = state
        self._popped_up: str | None = None  # the synthesis error popped up (once, until something changes)
        self._synthesis_line: str | None = None  # the status line while it shows a synthesis error
        self._line_before = ""  # and what it said before
        self._training_line: str | None = None  # the status line after a failed training
        self._unfit_line: str | None = None  # the status line after loading a model that does not fit

    def training_failed(self, line: str) -> None:
        self._state.message = self._training_line = line

    def model_does_not_fit(self, line: str) -> None:
        self._state.message = self._unfit_line = line

    def synthesis_failed(self, message: str, output_kept: bool) -> None:
        """A pop-up (once while the same error repeats, as on every stroke of Live) and,
        unless training owns the status line, the line in full."""
        if message != self._popped_up:
            self._popped_up = message
            notify.error(message)
        state = self._state
        if state.training:
            return
        if state.message != self._synthesis_line:
            self._line_before = state.message
        kept = " The output keeps its last result." if output_kept else ""
        self._synthesis_line = f"Not synthesized: {message}{kept}"
        state.message = self._synthesis_line

    def may_pop_up_again(self) -> None:
        """Something changed (a new target, an explicit Synthesize): the same error is news again."""
        self._popped_up = None

    def synthesis_went_through(self, of_current_model: bool = True) -> None:
        """The status line says what it said before the error; and not that the current
        model does not fit, where its result came in (``of_current_model``: a replaced
        model's late result says nothing of the current one's fit; found in review)."""
        self._popped_up = None
        self._restore_line()
        if of_current_model:
            self._drop_unfit_line()

    def inputs_changed(self) -> None:
        """Other layers were chosen: a failure about the ones before goes."""
        state = self._state
        if self._synthesis_line is not None and state.message == self._synthesis_line:
            if self._line_before == self._training_line:
                self._line_before = state.ready_message()  # not the failure again
            self._restore_line()
        elif self._training_line is not None and state.message == self._training_line:
            state.message = state.ready_message()
        self._training_line = None
        self._drop_unfit_line()

    def _drop_unfit_line(self) -> None:
        """The usual line instead of "does not fit" (it stayed while the model's results
        for other layers came in; found by a new user)."""
        if self._unfit_line is not None and self._state.message == self._unfit_line:
            self._state.message = self._state.ready_message()
        self._unfit_line = None

    def _restore_line(self) -> None:
        if self._synthesis_line is not None and self._state.message == self._synthesis_line:
            self._state.message = self._line_before
        self._synthesis_line = None
