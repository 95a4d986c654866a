"""napari sample data: each sample opens a source image, its labels and an
edited target layout, so a newcomer can press Train straight away.

The cases themselves are built by :mod:`napari_semia.samples` (offline, from
images bundled with scikit-image); this module only turns one into layers.
"""

from __future__ import annotations

import numpy as np

from ..samples import SampleCase, load_sample

#: Metadata key naming the sample a layer came from (File > Open Sample).
SAMPLE_KEY = "semia_sample"


def _class_features(case: SampleCase) -> dict | None:
    """A per-label ``class`` feature so napari's status bar names the class under
    the cursor. napari indexes features by label id, so ids must be 0..K-1."""
    ids = sorted(set(np.unique(case.labels).tolist()) | set(case.class_names))
    if not case.class_names or ids != list(range(len(ids))):
        return None
    return {"class": [case.class_names.get(i, str(i)) for i in ids]}


def sample_layers(case: SampleCase) -> list[tuple]:
    """LayerData tuples: "<name> image", "<name> labels", "<name> target"."""
    rgb = case.image.ndim == 3 and case.image.shape[-1] in (3, 4)
    features = _class_features(case)
    label_kwargs = {"opacity": 0.5}
    if features is not None:
        label_kwargs["features"] = features
    # Each layer knows its sample: the target picker keeps a sample's target with its source.
    return [
        (case.image, {"name": f"{case.name} image", "rgb": rgb,
                      "metadata": {SAMPLE_KEY: case.name, "description": case.description}}, "image"),
        (case.labels, {"name": f"{case.name} labels", "visible": False, **label_kwargs,
                       "metadata": {SAMPLE_KEY: case.name}}, "labels"),
        (case.target, {"name": f"{case.name} target", **label_kwargs,
                       "metadata": {SAMPLE_KEY: case.name}}, "labels"),
    ]


def load_sample_layers(name: str) -> list[tuple]:
    return sample_layers(load_sample(name))


# One function per manifest entry: npe2 needs an importable callable per sample.
def histology_sample() -> list[tuple]:
    return load_sample_layers("histology")


def coins_sample() -> list[tuple]:
    return load_sample_layers("coins")


def coffee_sample() -> list[tuple]:
    return load_sample_layers("coffee")
