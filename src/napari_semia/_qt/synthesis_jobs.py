"""Turn the layers chosen into synthesis jobs: copies of the planes, made on the
main thread, for the synthesis worker. A target that has not changed since the
last job gives none (napari redraws a layer on many occasions), and what is
said of the inputs (another plane, another source image) is said once.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np

from ..errors import SemiaInputError
from ..labels_only import LabelsOnlySynthesizer
from ..model import SemiaModel
from ..validation import MODEL_SOURCE, check_target
from . import notify
from .jobs import SynthesisJob
from .layer_data import (
    PlaneOffLayerError,
    PlaneViewError,
    displayed_plane,
    displayed_plane_index,
    output_plane,
    plane_checksum,
    training_planes,
)
from .layer_pickers import opened_as_image_hint, plane_shape
from .output_layer import output_spec
from .training_notes import NotedOnce, misplaced_target_note


class SynthesisJobs:
    """``report_error(message)``: a job could not be made (the widget shows why);
    ``note_misaligned(source, labels)``: say, once, that the two are not drawn
    over each other. ``settings``: the training settings (the labels-only
    synthesizer's working size and device)."""

    def __init__(self, viewer, pickers, settings, report_error: Callable[[str], None],
                 note_misaligned: Callable[[object, object], None]):
        self._viewer = viewer
        self._pickers = pickers
        self._settings = settings
        self._report_error = report_error
        self._note_misaligned = note_misaligned
        # ((what made it, plane), target) of the last job on display: a repeat is skipped.
        # The target itself, compared: a digest of it took 0.15 s a stroke at 24
        # megapixels, on the UI thread.
        self._last_job = None
        self._noted_other_source = None  # the source name a synthesis warned of, once per model
        self._pixels_known = None  # (model, weak refs to the source arrays, other pixels?)
        self._planes_noted: set = set()  # planes of a stacked source already noted as not learned
        self._misplaced_target = NotedOnce(misplaced_target_note)  # said once per placement
        # Before there is a model: results from the label map alone, and the
        # (image, labels) checksums its source side was built from.
        self.labels_only: tuple[tuple, LabelsOnlySynthesizer] | None = None

    def model_changed(self, model: SemiaModel | None) -> None:
        """Notes and keys are per model. Not keyed on id(model): a new model may take a
        freed one's id, and its notes were then never given."""
        self._last_job = None
        self._planes_noted.clear()
        self._noted_other_source = None
        self._pixels_known = None
        if model is not None:
            self.labels_only = None  # its results are the model's from now on

    def _repeats(self, made_by: tuple, target: np.ndarray) -> bool:
        """Whether ``target`` is what the last job synthesized, by the same model (or
        labels-only synthesizer) for the same plane; if not, it is the last from now on."""
        last = self._last_job
        if (last is not None and last[0][0] is made_by[0] and last[0][1] == made_by[1]
                and np.array_equal(last[1], target)):
            return True
        self._last_job = (made_by, target)
        return False

    def forget_last_target(self) -> None:
        """The next job is made even if its target equals the last one."""
        self._last_job = None

    def for_model(self, model: SemiaModel, request_id: int, plane_index: tuple = ()) -> SynthesisJob | None:
        """The model's job for the target on display, or for ``plane_index`` of a
        stacked target (the end of training's plane, a plane completed later)."""
        target_layer = self._pickers.target.current_layer()
        elsewhere = False  # a plane other than the one on display (end of training, completion)
        try:
            if target_layer is None:
                raise SemiaInputError(self._no_target_message())
            source = self.source_fitting(model)
            if not plane_index:  # the end of training's result is for the plane the model learned
                self._note_other_plane(model, source)
            index, leading = output_plane(self._viewer, target_layer, source)
            elsewhere = bool(plane_index and len(plane_index) == len(index) and plane_index != index
                             and all(i < n for i, n in zip(plane_index, leading)))
            if elsewhere:
                index = plane_index
                plane = (np.array(target_layer.data[index], copy=True) if target_layer.ndim > 2
                         else displayed_plane(self._viewer, target_layer)[0])
            else:
                plane = displayed_plane(self._viewer, target_layer)[0]
            target = self._fitting_target(model, plane, target_layer, index if elsewhere else ())
        except SemiaInputError as error:
            self._report_error(str(error))
            return None
        if source is not None:
            self.note_placement(source, target_layer)
        # (Not for another plane: its key would make a mere redraw of the plane on
        # display synthesize that plane again.)
        if not elsewhere and self._repeats((model, index), target):
            return None  # nothing changed (e.g. the layer was only redrawn)
        info = model.source_info
        spec = output_spec(source, target_layer, index, leading, info.channel_names, info.colour)
        self._pickers.pin()
        return SynthesisJob(model, target, request_id, destination=spec)

    def note_placement(self, source, target_layer) -> None:
        """Say once (not on every Live stroke) that the target is not drawn over the source."""
        note = self._misplaced_target(source, target_layer)
        if note:
            notify.warning(note)

    def _no_target_message(self) -> str:
        """'Choose the target labels', and why none was chosen by itself where layouts
        of another size than the source labels are open (a new user saw only the first)."""
        return "Choose the target labels to synthesize (Layers > Target labels)." + self.no_target_reason()

    def no_target_reason(self) -> str:
        """Why no target was chosen by itself (' None was chosen by itself: ...'), or ''."""
        labels = self._pickers.labels.current_layer()
        if labels is None:
            return opened_as_image_hint(self._viewer.layers, self._pickers.image.current_layer())
        others = [layer for layer in self._pickers.target.candidates()
                  if layer is not None and layer != labels and plane_shape(layer) != plane_shape(labels)]
        if not others:
            return ""
        shown = ", ".join(f"'{layer.name}' ({' × '.join(map(str, plane_shape(layer)))})"
                          for layer in others[:3])
        verb = "has" if len(others) == 1 else "have"
        return (f" None was chosen by itself: a target must have the size of '{labels.name}' "
                f"({' × '.join(map(str, plane_shape(labels)))}), and {shown} {verb} another.")

    def _fitting_target(self, model: SemiaModel, target: np.ndarray, layer,
                        plane: tuple[int, ...] = ()) -> np.ndarray:
        """``target`` (a plane of ``layer``: ``plane`` when not the one on display), or
        SemiaInputError naming the layer (and that plane)."""
        try:
            check_target(target, model.source_shape, model.codec, source=MODEL_SOURCE)
        except SemiaInputError as error:
            where = f" (plane {', '.join(map(str, plane))})" if plane else ""
            raise SemiaInputError(f"'{layer.name}'{where}: {error}") from None
        return target

    def is_learned_plane(self, model: SemiaModel, source) -> bool | None:
        """Whether ``source``'s plane on display is the image the model learned;
        None when that cannot be told (no source, an old model file, another size)."""
        if source is None or not model.can_refine:
            return None
        try:
            plane = displayed_plane(self._viewer, source)[0]
        except SemiaInputError:
            return None
        if plane.shape != model.full_image.shape:
            return None
        return model.is_source_image(plane)

    def _note_other_plane(self, model: SemiaModel, source) -> None:
        """Say once per plane when the stack's plane on display is not the one the
        model learned: its result has the learned plane's look (a time-lapse user
        saw plane 4 come out at plane 2's brightness, with no word)."""
        if source is None:
            return
        try:
            index = displayed_plane_index(self._viewer, source)
        except SemiaInputError:
            return
        if not index or index in self._planes_noted:
            return
        self._planes_noted.add(index)
        if self.is_learned_plane(model, source) is False:
            notify.info(f"The model learned another plane of '{source.name}': this plane's result "
                        "has that plane's look (brightness, texture), not this one's. Train on this "
                        "plane for its own.")

    def source_fitting(self, model: SemiaModel, source=None):
        """The chosen source image (or ``source``), if the model's output can be shown
        as it is (its size and channels); else None: the result is placed like the
        target. A result shown as another image (a grey one for an RGB model, two
        channels of three) made broken layers or channels under the wrong names."""
        source = source if source is not None else self._pickers.image.current_layer()
        if source is None:
            return None
        try:
            plane, index = displayed_plane(self._viewer, source)
            problem = model.source_mismatch(plane)
            if problem is None and not index and self._other_pixels(model, source, plane):
                # (Another plane of a stack is noted apart: its result goes into the stack.)
                problem = "it has the model's size and channels, but other pixels"
        except PlaneViewError:
            # Said as it is, and nothing synthesized: the model's own stack in a 3D view was
            # called "not the image the model was trained on", and its result went into a
            # new layer beside the stack's (found by a napari power user).
            raise
        except PlaneOffLayerError:
            # A target stack longer than the source's, on a plane past it: the result goes
            # into the stack's output, in the source's look, like the planes before it (it
            # was called "not the image the model was trained on", and went into a new
            # layer; a review). There is no plane to compare: only the size is checked.
            # With a 2D target the plane is the source's, and the error is said as it is.
            target = self._pickers.target.current_layer()
            if target is None or target.ndim <= 2 or plane_shape(source) != tuple(model.source_shape):
                raise
            return source
        except SemiaInputError as error:
            problem = str(error)
        if problem is None:
            return source
        noted = source.name
        if noted != self._noted_other_source:
            self._noted_other_source = noted
            notify.warning(f"'{source.name}' is not the image the model was trained on ({problem}). "
                           "The result is always the model's own image in the target's layout: it is "
                           "placed like the target and named after the model. To use this image, "
                           "train on it.")
        return None

    def _other_pixels(self, model: SemiaModel, source, plane: np.ndarray) -> bool:
        """Whether ``plane`` (of the model's size and channels) is not the model's own
        source: another field of view of one microscope named the result after itself
        and showed the model's cells in its place. Decided once per source data, known
        by weak references: a removed layer's arrays are not kept alive, and a new array
        that takes a freed one's id does not pass for it."""
        if not model.can_refine:
            return False  # (an old model file keeps no full-size source to compare with)
        arrays = tuple(layer.data for layer in getattr(source, "layers", (source,)))
        known = self._pixels_known
        if known is None or known[0] is not model or len(known[1]) != len(arrays) or any(
                seen() is not a for seen, a in zip(known[1], arrays)):
            other = model.is_source_image(plane) is False
            try:
                self._pixels_known = (model, tuple(weakref.ref(a) for a in arrays), other)
            except TypeError:  # (data that takes no weak reference is compared each time)
                self._pixels_known = None
            return other
        return known[2]

    def from_labels_alone(self, request_id: int) -> SynthesisJob | None:
        """No model yet: the target rebuilt from the source's own patches with no
        generator (``labels_only.py``), in seconds. The trained model's result
        replaces it."""
        pickers = self._pickers
        source, labels = pickers.image.current_layer(), pickers.labels.current_layer()
        target_layer = pickers.target.current_layer()
        try:
            if target_layer is None:
                raise SemiaInputError(self._no_target_message())
            planes = training_planes(self._viewer, source, labels, target_layer)
        except SemiaInputError as error:
            self._report_error(str(error))
            return None
        self._note_misaligned(source, labels)
        self.note_placement(source, target_layer)
        sources = (plane_checksum(planes.image), plane_checksum(planes.labels))  # (shapes included)
        if self.labels_only is None or self.labels_only[0] != sources:
            # Built (checked, pyramid) in the worker on first use; kept while the source is the same.
            self.labels_only = (sources, LabelsOnlySynthesizer(planes.image, planes.labels,
                                                               size=self._settings.size,
                                                               device=self._settings.device))
        synthesizer = self.labels_only[1]
        if self._repeats((synthesizer, planes.index), planes.target):
            return None
        spec = output_spec(source, target_layer, planes.index, planes.leading_shape)
        self._pickers.pin()
        return SynthesisJob(None, planes.target, request_id, destination=spec, labels_only=synthesizer)
