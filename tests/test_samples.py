import socket

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_semia.errors import SemiaInputError
from napari_semia.figures import montage
from napari_semia.samples import SAMPLE_NAMES, SAMPLE_SIZE, SampleCase, load_sample
from napari_semia.validation import validate_target, validate_training_inputs


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection (e.g. a data download) fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("samples must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_there_is_a_microscopy_and_a_natural_sample():
    assert "histology" in SAMPLE_NAMES
    assert len(SAMPLE_NAMES) >= 2


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_is_a_valid_case(name, no_network):
    case = load_sample(name)
    assert isinstance(case, SampleCase) and case.name == name
    assert case.image.dtype == np.uint8
    assert max(case.image.shape[:2]) == SAMPLE_SIZE
    assert case.labels.dtype == np.int32 and case.target.dtype == np.int32
    assert case.labels.shape == case.target.shape == case.image.shape[:2]
    ids = np.unique(case.labels)
    assert 2 <= len(ids) <= 5
    assert set(np.unique(case.target)) <= set(ids)
    assert case.description
    # The target is an edit: clearly different, but not a different picture.
    changed = np.mean(case.target != case.labels)
    assert 0.005 < changed < 0.5
    # The core accepts it.
    codec, _ = validate_training_inputs(case.image, case.labels)
    validate_target(case.target, case.image.shape[:2], codec)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_labels_are_clean_regions(name):
    case = load_sample(name)
    for layout in (case.labels, case.target):
        for class_id in np.unique(layout):
            components, count = ndi.label(layout == class_id)
            sizes = np.bincount(components.ravel())[1:]
            # No salt-and-pepper: every region has at least a few pixels.
            assert sizes.min() >= 5, (class_id, sizes.min())
            assert count < 200


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_samples_are_deterministic(name):
    first, second = load_sample(name), load_sample(name)
    np.testing.assert_array_equal(first.image, second.image)
    np.testing.assert_array_equal(first.labels, second.labels)
    np.testing.assert_array_equal(first.target, second.target)


def test_unknown_sample_lists_the_known_ones():
    with pytest.raises(SemiaInputError, match="histology"):
        load_sample("nope")


def test_montage_puts_panels_side_by_side():
    case = load_sample("coins")
    figure = montage([case.image, case.labels, case.target], gap=4)
    height, width = case.image.shape
    assert figure.shape == (height, 3 * width + 8, 3)
    assert figure.dtype == np.uint8
    # Labels are rendered in distinct colours per id.
    label_panel = figure[:, width + 4 : 2 * width + 4]
    assert len(np.unique(label_panel.reshape(-1, 3), axis=0)) == len(np.unique(case.labels))


def test_montage_of_rows_is_a_grid_padded_with_white():
    small = np.zeros((4, 6), np.uint8)
    big = np.full((8, 10, 3), 7, np.uint8)
    grid = montage([[small, big], [big]], gap=2)
    # Columns as wide as their widest panel, rows as tall as their tallest.
    assert grid.shape == (8 + 2 + 8, 10 + 2 + 10, 3)
    assert (grid[:4, :6] == 0).all() and (grid[4:8, :10] == 255).all() and (grid[:4, 6:10] == 255).all()
    assert (grid[:8, 12:] == 7).all()
    assert (grid[10:, :10] == 7).all() and (grid[10:, 10:] == 255).all()
