"""Behaviour at the edges of small core pieces, each test from a mutation audit: a
change to the code it names went unseen by every other test."""

from dataclasses import replace

import numpy as np
import pytest

from napari_semia.errors import SemiaInputError


# ----------------------------------------------------------------- schedules
def test_schedules_take_the_config_s_edge_values():
    # config.py allows a ramp of 0 and a decay that starts at the end: no division by 0.
    from napari_semia.schedules import learning_rate_factor, progressive_strength

    assert progressive_strength(0, 100, 0.0) == 0.0 and progressive_strength(5, 100, 0.0) == 1.0
    assert learning_rate_factor(100, 100, 1.0) == pytest.approx(1.0)
    assert learning_rate_factor(99, 100, 1.0) == 1.0


# ----------------------------------------------------------------- intensity
def test_an_image_with_nan_or_infinite_values_is_refused_by_name():
    from napari_semia.intensity import IntensityNormalizer

    for bad in (np.nan, np.inf):
        image = np.ones((8, 8), np.float32)
        image[0, 0] = bad
        with pytest.raises(SemiaInputError, match="NaN or infinite"):
            IntensityNormalizer.fit(image)


def test_sixteen_channels_are_accepted_and_seventeen_refused():
    from napari_semia.intensity import IntensityNormalizer

    assert IntensityNormalizer.fit(np.zeros((8, 8, 16), np.uint16)).channels == 16
    with pytest.raises(SemiaInputError, match="16"):
        IntensityNormalizer.fit(np.zeros((8, 8, 17), np.uint16))


def test_an_empty_image_is_refused_in_words():
    from napari_semia.intensity import IntensityNormalizer

    with pytest.raises(SemiaInputError, match="empty"):
        IntensityNormalizer.fit(np.zeros((0, 5), np.uint8))


# ------------------------------------------------------------ layout sampler
def test_an_elastic_warp_alone_is_a_change_and_unknown_settings_are_named():
    from napari_semia.layout_sampler import LayoutSamplerSettings

    still = LayoutSamplerSettings().scaled(0)
    assert still.changes_nothing
    assert not replace(still, elastic_probability=1.0, elastic_strength=0.05).changes_nothing
    with pytest.raises(SemiaInputError, match="move_probabilty"):
        LayoutSamplerSettings.from_dict({"move_probabilty": 0.5})


def test_a_negative_sampling_seed_is_refused_in_words():
    from napari_semia.layout_sampler import LayoutSampler

    labels = np.zeros((40, 40), np.int64)
    labels[5:12, 5:12] = 1
    with pytest.raises(SemiaInputError, match="seed"):
        LayoutSampler(labels).sample(0, seed=-1)


# --------------------------------------------------------------- checkpoints
def test_a_checkpoint_without_its_model_file_is_not_offered(tmp_path):
    import json

    from napari_semia.checkpoints import CheckpointStore

    (tmp_path / "abc.json").write_text(json.dumps(
        {"steps": 5, "saved_at": "2026-12-06T12:00:00", "source_shape": [8, 8]}), encoding="utf-8")
    store = CheckpointStore(tmp_path)
    assert store.entries() == [] and store.find("abc") is None
    (tmp_path / "abc.semia").write_bytes(b"")
    assert [info.key for info in store.entries()] == ["abc"]


def test_a_fingerprint_tells_shapes_and_dtypes_apart():
    from napari_semia.checkpoints import fingerprint

    image = np.arange(24, dtype=np.uint16).reshape(4, 6)
    labels = (image % 2).astype(np.uint8)
    key = fingerprint(image, labels)
    assert fingerprint(image.reshape(6, 4), labels.reshape(6, 4)) != key
    assert fingerprint(image.view(np.int16), labels) != key


# --------------------------------------------------------------- source info
def test_source_info_keeps_colour_when_continued_and_fits_names_to_channels():
    from napari_semia.source_info import SourceInfo

    assert SourceInfo().continued_from(SourceInfo(colour=True)).colour
    assert SourceInfo((), (1.0, 1.0), "µm").continued_from(SourceInfo(colour=True)).colour
    info = SourceInfo(("DAPI", "Actin"), (0.5, 0.5), "µm")
    assert info.fitting(np.zeros((4, 4))).channel_names == ()
    assert info.fitting(np.zeros((4, 4, 2))).channel_names == ("DAPI", "Actin")
    assert info.fitting(np.zeros((4, 4))).pixel_size == (0.5, 0.5)


def test_a_pixel_size_that_is_no_size_is_dropped():
    from napari_semia.source_info import SourceInfo

    for bad in ((0, 1), (-1, 1), (float("nan"), 1), (float("inf"), 1), (1,)):
        assert SourceInfo(pixel_size=bad).pixel_size is None, bad


# --------------------------------------------------------------- labels only
def test_the_labels_only_seed_is_used():
    from conftest import make_scene

    from napari_semia.labels_only import LabelsOnlySynthesizer

    image, labels = make_scene(48)
    synthesizer = LabelsOnlySynthesizer(image, labels, size=32, device="cpu")
    target = np.roll(labels, 6, axis=1)
    first, other, again = (synthesizer.synthesize(target, seed=seed) for seed in (0, 1, 0))
    assert np.array_equal(first, again) and not np.array_equal(first, other)


# ------------------------------------------------------------- class regions
def test_regions_touching_at_a_corner_are_two():
    from napari_semia.class_regions import ClassRegions

    mask = np.zeros((10, 10), bool)
    mask[0:3, 0:3] = True
    mask[3:6, 3:6] = True
    assert ClassRegions.of(mask, 1).count == 2



def test_regions_too_large_to_move_are_never_dropped():
    # The sampler's notes promise it: only regions cut by the edge may be dropped among
    # those that keep their place (a vessel tree must not vanish from a layout).
    from napari_semia.layout_sampler import LayoutSampler, LayoutSamplerSettings

    labels = np.zeros((60, 60), np.int64)
    labels[10:40, 10:45] = 1  # 29 % of the image: too large to move
    labels[48:54, 48:54] = 1  # small, movable
    sampler = LayoutSampler(labels, LayoutSamplerSettings(drop_probability=1.0, elastic_probability=0.0))
    for index in range(4):
        layout = sampler.sample(index)
        assert (layout.labels[10:40, 10:45] == 1).all(), index
        assert (layout.labels == 1).sum() == 30 * 35, index  # the small one dropped every time


# ------------------------------------------------------- checkpoints, progress
def test_a_continued_run_is_checkpointed_even_before_its_first_new_step(tmp_path):
    # Stopped at once, a run continued from a model (labels edited since) wrote nothing
    # under its new key when only this run's steps counted (a mutation audit).
    from types import SimpleNamespace

    from napari_semia.checkpoints import Checkpointer

    saved = []
    store = SimpleNamespace(save=lambda model, key, names: saved.append(key) or tmp_path / key)
    checkpointer = Checkpointer(store, "new-key")
    assert checkpointer.save(SimpleNamespace(steps_before=100, step=0, model=object())) is not None
    assert checkpointer.save(SimpleNamespace(steps_before=0, step=0, model=object())) is None
    assert saved == ["new-key"]


def test_the_time_left_follows_a_change_of_speed():
    # The mean of recent steps, not of all: a laptop that stops throttling (a mutation audit).
    from napari_semia.training_progress import _RECENT_STEPS, EtaEstimator

    estimator = EtaEstimator(1000, 0)
    for _ in range(200):
        estimator.record(False, 1.0)
    for _ in range(_RECENT_STEPS):
        estimator.record(False, 0.1)
    assert estimator.seconds_left(200 + _RECENT_STEPS) == pytest.approx((800 - _RECENT_STEPS) * 0.1)
    assert EtaEstimator(10, 5, fine_extra_s=-5).fine_extra_s == 0.0  # (never below the coarse cost)
