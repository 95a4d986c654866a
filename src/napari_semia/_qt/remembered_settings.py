"""The widget's fields outlive the widget, for as long as its viewer lives.

napari destroys a plugin's dock widget when the X on its title bar is clicked,
and opening it again from the Plugins menu made a new one with every field at
its default: a preset, steps, device or dataset folder chosen a minute before
were gone (found by new users). Each new widget of a viewer therefore starts
from the values its last one had. Not what belongs to the model of the moment
(continuing it); the dataset's object classes are kept with the classes they
were chosen among, for a model of those classes (the same model restored). The
model itself comes back through the checkpoint cache's offer
(``checkpoint_search``).
"""

from __future__ import annotations

import weakref
from dataclasses import fields

#: Per viewer, per settings class: the settings of its last widget.
_LAST: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: Fields that describe the current model or source rather than the user's choices.
_NOT_KEPT = frozenset({"continue_training"})


def remembered(viewer, settings):
    """``settings`` (a new widget's evented dataclass, at its defaults) given the values
    the viewer's last widget had, and remembered for the next one."""
    last = _LAST.setdefault(viewer, {})
    previous = last.get(type(settings))
    if previous is not None:
        for field in fields(settings):
            if field.name not in _NOT_KEPT:
                setattr(settings, field.name, getattr(previous, field.name))
    last[type(settings)] = settings
    return settings
