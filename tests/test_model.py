"""The trained model: synthesis, its file, and file errors."""

import numpy as np
import pytest
import torch
from conftest import TINY

from napari_semia.errors import ModelFileError, SemiaInputError
from napari_semia.model import SemiaModel
from napari_semia.trainer import SemiaTrainer


@pytest.fixture(scope="module")
def model():
    from conftest import make_scene

    image, labels = make_scene()
    trainer = SemiaTrainer(image, labels, TINY, device="cpu")
    for _ in trainer.run():
        pass
    return trainer.model


def test_save_load_round_trip_reproduces_synthesis(tmp_path, model, scene, moved_target):
    _, labels = scene
    before = model.synthesize(moved_target)
    path = model.save(tmp_path / "m.semia")
    loaded = SemiaModel.load(path, device="cpu")
    assert loaded.class_ids == model.class_ids
    assert loaded.steps_done == 6 and loaded.config == model.config
    np.testing.assert_array_equal(loaded.synthesize(moved_target), before)
    # Batches give the same images as single targets (batched convolutions may
    # round one uint8 level differently).
    batch = loaded.synthesize([moved_target, labels])
    assert len(batch) == 2
    np.testing.assert_allclose(batch[0].astype(int), before.astype(int), atol=1)
    np.testing.assert_allclose(batch[1].astype(int), loaded.synthesize(labels).astype(int), atol=1)


def test_working_size_and_full_size_outputs(model, moved_target, scene):
    image, _ = scene
    assert model.synthesize(moved_target).shape == image.shape
    small = model.synthesize(moved_target, full_size=False)
    assert small.shape[:2] == model.working_shape and small.dtype == image.dtype


def test_cached_source_encoding_gives_the_same_synthesis(model, moved_target):
    model._source_encoding = None
    cached = model.synthesize(moved_target)
    assert model._source_encoding is not None
    encoding = model._source_encoding
    np.testing.assert_array_equal(model.synthesize(moved_target), cached)
    assert model._source_encoding is encoding  # computed once


def test_model_file_errors(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        SemiaModel.load(tmp_path / "missing.semia")
    with pytest.raises(ModelFileError, match="folder"):
        SemiaModel.load(tmp_path)
    corrupt = tmp_path / "corrupt.semia"
    corrupt.write_bytes(b"PK\x03\x04 this is not a model")
    with pytest.raises(ModelFileError, match="not a readable"):
        SemiaModel.load(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ModelFileError, match="not a napari-semia model"):
        SemiaModel.load(foreign)


def test_truncated_model_file_error(tmp_path, model):
    path = model.save(tmp_path / "m.semia")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        SemiaModel.load(path)


def test_saving_into_a_read_only_folder_names_the_path_and_keeps_the_old_file(tmp_path, model, monkeypatch):
    import napari_semia.model as model_module

    old = tmp_path / "m.semia"
    old.write_bytes(b"the previous model")

    def read_only_open(path, mode="r", *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(model_module, "open", read_only_open, raising=False)
    with pytest.raises(ModelFileError, match=r"Could not save the model to .*m\.semia: Permission denied"):
        model.save(old)
    assert old.read_bytes() == b"the previous model"


def test_a_failed_save_keeps_the_existing_file_and_leaves_no_partial(tmp_path, model, monkeypatch):
    path = tmp_path / "m.semia"
    path.write_bytes(b"the previous model")

    def failing_save(payload, stream):
        stream.write(b"half")
        raise RuntimeError("[enforce fail at inline_container.cc:747] . unexpected pos 123 vs 456")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(ModelFileError) as info:
        model.save(path)
    assert str(path) in str(info.value) and "enforce fail" in str(info.value)
    assert "\n" not in str(info.value)
    assert path.read_bytes() == b"the previous model"
    assert list(tmp_path.iterdir()) == [path]


def test_saving_where_a_folder_cannot_be_made(tmp_path, model):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ModelFileError, match="Could not save the model"):
        model.save(blocker / "sub" / "m.semia")


def test_synthesis_rejects_bad_targets(model, scene):
    _, labels = scene
    with pytest.raises(SemiaInputError, match="shape"):
        model.synthesize(labels[:10])
    bad = labels.copy()
    bad[0, 0] = 7
    with pytest.raises(SemiaInputError, match="7"):
        model.synthesize(bad)
