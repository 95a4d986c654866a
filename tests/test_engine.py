"""Core engine: augmentation, networks, losses, trainer, model file, synthesis."""

import threading

import numpy as np
import pytest
import torch

from napari_semia.augmentation import AugmentationLimits, JointAugmenter, progressive_strength
from napari_semia.config import PRESETS, TrainingConfig, preset
from napari_semia.device import describe_device, resolve_device
from napari_semia.errors import ModelFileError, SemiaInputError
from napari_semia.losses import fixed_point_loss, semantic_patch_coherence_loss
from napari_semia.model_file import SemiaModel
from napari_semia.networks import AuxSegmenter, MultiScaleDiscriminator, SFTGenerator
from napari_semia.synthesis import to_onehot
from napari_semia.trainer import SemiaTrainer, working_shape

TINY = TrainingConfig(steps=6, size=32, width=8, levels=3, patch_queries=128)


def test_progressive_strength_ramps_then_saturates():
    assert progressive_strength(0, 100, 0.4) == 0.0
    assert progressive_strength(20, 100, 0.4) == pytest.approx(0.5)
    assert progressive_strength(80, 100, 0.4) == 1.0


def test_augmentation_keeps_labels_integer_and_aligned():
    # The image is the label map itself: after a joint warp, labels must still
    # be valid class indices and agree with the warped image almost everywhere.
    labels = torch.zeros(1, 40, 48, dtype=torch.long)
    labels[:, 10:30, 12:36] = 1
    labels[:, 15:20, 5:9] = 2
    image = labels[:, None].float().repeat(1, 3, 1, 1)
    augmenter = JointAugmenter(AugmentationLimits(), seed=3)
    changed = 0
    for _ in range(10):
        warped_image, warped_labels = augmenter(image, labels, strength=1.0)
        assert warped_labels.dtype == torch.long
        assert set(warped_labels.unique().tolist()) <= {0, 1, 2}
        agreement = (warped_image[:, 0].round().long() == warped_labels).float().mean()
        assert agreement > 0.97
        changed += int((warped_labels != labels).any())
    assert changed >= 8  # full strength really warps


def test_augmentation_at_zero_strength_is_identity():
    labels = torch.randint(0, 3, (1, 20, 20))
    image = torch.rand(1, 3, 20, 20)
    out_image, out_labels = JointAugmenter(AugmentationLimits())(image, labels, 0.0)
    assert torch.equal(out_labels, labels) and torch.equal(out_image, image)


@pytest.mark.parametrize("shape", [(37, 53), (64, 64), (17, 90)])
def test_network_shapes_for_odd_sizes(shape):
    gen = SFTGenerator(image_channels=3, num_classes=4, width=8, levels=4)
    image = torch.rand(1, 3, *shape) * 2 - 1
    onehot = to_onehot(torch.randint(0, 4, (1, *shape)), 4)
    out, modulation = gen(image, onehot, onehot, return_modulation=True)
    assert out.shape == image.shape
    assert len(modulation) == 4
    disc = MultiScaleDiscriminator(3, 4)
    results = disc(out, onehot)
    assert len(results) == 2 and all(score.shape[1] == 1 for _, score in results)
    assert AuxSegmenter(3, 4)(out).shape == (1, 4, *shape)


def test_untrained_sft_is_identity_and_fixed_point_loss_zero():
    gen = SFTGenerator(3, 2, width=8, levels=3)
    onehot = to_onehot(torch.randint(0, 2, (1, 24, 24)), 2)
    other = to_onehot(torch.randint(0, 2, (1, 24, 24)), 2)
    _, modulation = gen(torch.zeros(1, 3, 24, 24), onehot, other, return_modulation=True)
    assert fixed_point_loss(modulation).item() == 0.0


def test_patch_coherence_zero_for_source_and_large_for_noise():
    torch.manual_seed(0)
    source = torch.rand(1, 3, 32, 32) * 2 - 1
    labels = torch.zeros(1, 32, 32, dtype=torch.long)
    labels[:, :, 16:] = 1
    same = semantic_patch_coherence_loss(source, labels, source, labels, max_source_patches=10**6)
    noise = semantic_patch_coherence_loss(torch.rand_like(source) * 2 - 1, labels, source, labels)
    assert same.item() < 1e-6
    assert noise.item() > 0.05


def test_patch_coherence_is_label_aware():
    # Left half dark, right half bright. An output with swapped halves is made of
    # source patches, but of the wrong class: the loss must see that.
    source = torch.full((1, 1, 24, 24), -1.0)
    source[..., 12:] = 1.0
    labels = torch.zeros(1, 24, 24, dtype=torch.long)
    labels[:, :, 12:] = 1
    swapped = -source
    right = semantic_patch_coherence_loss(source, labels, source, labels, max_source_patches=10**6)
    wrong = semantic_patch_coherence_loss(swapped, labels, source, labels, max_source_patches=10**6)
    assert right.item() < 1e-6 < 0.5 < wrong.item()


def test_working_shape_longest_side_and_no_upsampling():
    assert working_shape((380, 572), 256) == (170, 256)
    assert working_shape((30, 40), 256) == (30, 40)


def test_presets_are_valid_configs():
    assert {"quick", "default"} <= set(PRESETS)
    assert preset("quick").steps < preset("default").steps
    with pytest.raises(SemiaInputError, match="preset"):
        preset("nope")
    with pytest.raises(SemiaInputError, match="steps"):
        TrainingConfig(steps=0)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    assert "CPU" in describe_device(torch.device("cpu"))
    with pytest.raises(SemiaInputError, match="Unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(SemiaInputError, match="CUDA"):
            resolve_device("cuda")


def test_short_training_lowers_reconstruction_loss(scene):
    image, labels = scene
    cfg = TINY.replace(steps=60, rec_every=1, coarse_fraction=0.0, augment_ramp=10.0)
    trainer = SemiaTrainer(image, labels, cfg, device="cpu")
    rec = [p.losses["rec"] for p in trainer.run() if "rec" in p.losses]
    assert np.mean(rec[-10:]) < 0.6 * np.mean(rec[:5])


def test_training_yields_progress_and_preview(scene, moved_target):
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY, device="cpu", preview_target=moved_target, preview_every=3)
    updates = list(trainer.run())
    assert [u.step for u in updates[:-1]] == list(range(1, 7))
    assert updates[-1].finished and not updates[-1].stopped
    assert {"D", "adv", "fm", "S"} <= set(updates[-1].losses)
    modes = {u.mode for u in updates[:-1]}
    assert modes == {"reconstruction", "sampling"}
    previews = [u.preview for u in updates if u.preview is not None]
    assert len(previews) >= 2
    assert previews[0].shape == image.shape and previews[0].dtype == image.dtype
    assert updates[-2].eta_s == 0.0 or updates[-2].step == 6


def test_stop_from_another_thread_ends_promptly_and_keeps_model(scene, moved_target):
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=10_000), device="cpu")
    seen = []
    for progress in trainer.run():
        seen.append(progress)
        if progress.step == 3:
            threading.Thread(target=trainer.stop).start()
            threading.Event().wait(0.2)
    assert seen[-1].finished and seen[-1].stopped
    assert seen[-1].step < 10
    out = trainer.model.synthesize(moved_target)
    assert out.shape == image.shape


def test_save_load_round_trip_reproduces_synthesis(tmp_path, scene, moved_target):
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY, device="cpu")
    for _ in trainer.run():
        pass
    model = trainer.model
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


def test_resume_continues_from_model(scene):
    image, labels = scene
    first = SemiaTrainer(image, labels, TINY, device="cpu")
    for _ in first.run():
        pass
    second = SemiaTrainer(image, labels, TINY.replace(steps=3), device="cpu", resume=first.model)
    for _ in second.run():
        pass
    assert second.model.steps_done == 9
    with pytest.raises(SemiaInputError, match="classes"):
        SemiaTrainer(image, (labels > 0) * 5, TINY, device="cpu", resume=first.model)


def test_model_file_errors(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        SemiaModel.load(tmp_path / "missing.semia")
    corrupt = tmp_path / "corrupt.semia"
    corrupt.write_bytes(b"PK\x03\x04 this is not a model")
    with pytest.raises(ModelFileError, match="not a readable"):
        SemiaModel.load(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ModelFileError, match="not a napari-semia model"):
        SemiaModel.load(foreign)


def test_truncated_model_file_error(tmp_path, scene):
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=1), device="cpu")
    for _ in trainer.run():
        pass
    path = trainer.model.save(tmp_path / "m.semia")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        SemiaModel.load(path)


def test_synthesis_rejects_bad_targets(scene):
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=1), device="cpu")
    model = trainer.model
    with pytest.raises(SemiaInputError, match="shape"):
        model.synthesize(labels[:10])
    bad = labels.copy()
    bad[0, 0] = 7
    with pytest.raises(SemiaInputError, match="7"):
        model.synthesize(bad)


def test_resume_rejects_other_channel_count(scene):
    image, labels = scene
    first = SemiaTrainer(image[..., 0], labels, TINY.replace(steps=1), device="cpu")
    for _ in first.run():
        pass
    with pytest.raises(SemiaInputError, match="channel"):
        SemiaTrainer(image, labels, TINY, device="cpu", resume=first.model)


def test_cached_source_encoding_gives_the_same_synthesis(scene, moved_target):
    image, labels = scene
    trainer = SemiaTrainer(image, labels, TINY.replace(steps=2), device="cpu")
    for _ in trainer.run():
        pass
    model = trainer.model
    cached = model.synthesize(moved_target)
    assert model._source_encoding is not None
    model.cache_source = False
    np.testing.assert_array_equal(model.synthesize(moved_target), cached)


def test_texture_offsets_copy_whole_regions_of_the_right_class():
    from napari_semia.networks import _shift, texture_offsets

    src = torch.zeros(1, 8, 10, dtype=torch.long)
    src[:, 2:5, 2:5] = 1
    tgt = torch.zeros(1, 8, 10, dtype=torch.long)
    tgt[:, 2:5, 6:9] = 1  # the square moved 4 px right
    offsets, found, fill = texture_offsets(to_onehot(src, 2), to_onehot(tgt, 2), (8, 10))
    assert found.min() == 1
    # The new square is one coherent copy of the old one (same shift everywhere).
    assert set(offsets[0, 1, 2:5, 6:9].unique().tolist()) == {-4.0}
    assert set(offsets[0, 0, 2:5, 6:9].unique().tolist()) == {0.0}
    # Unchanged pixels are not shifted; filled pixels come from the right class.
    assert offsets[0, :, 6:, :].abs().sum() == 0
    # Both changed regions are filled, with a margin inside their target class.
    assert fill[0, 0, 2:5, 2:9].min() == 1 and fill[0, 0, 7].max() == 0
    assert fill[0, 0, 1, 2] == 1 and fill[0, 0, 3, 9] == 0
    shifted = _shift(src[:, None].float(), offsets, (1.0, 1.0))[0, 0].long()
    assert torch.equal(shifted, tgt[0])
