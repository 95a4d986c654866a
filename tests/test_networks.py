"""Networks, augmentation, schedules and losses."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from napari_semia.augmentation import AugmentationLimits, JointAugmenter
from napari_semia.config import PRESETS, TrainingConfig, preset
from napari_semia.device import describe_device, resolve_device, synchronize
from napari_semia.errors import SemiaInputError
from napari_semia.layout_tensors import resize_index, to_onehot
from napari_semia.losses import SourcePatchBank, fixed_point_loss, semantic_patch_coherence_loss
from napari_semia.networks import AuxSegmenter, MultiScaleDiscriminator, SFTGenerator
from napari_semia.schedules import learning_rate_factor, progressive_strength
from napari_semia.training_data import working_shape


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
    labels = torch.randint(0, 3, (1, 20, 20), generator=torch.Generator().manual_seed(0))
    image = torch.rand(1, 3, 20, 20, generator=torch.Generator().manual_seed(1))
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


def test_patch_coherence_ignores_output_classes_the_source_lacks():
    # Class 2 has no source patch: its output pixels have nothing to match and
    # must neither count nor pull the loss towards another class's patches.
    torch.manual_seed(0)
    source = torch.rand(1, 3, 24, 24) * 2 - 1
    labels = torch.zeros(1, 24, 24, dtype=torch.long)
    labels[:, :, 12:] = 1
    output_labels = labels.clone()
    output_labels[:, :10] = 2  # the random rows and the patch radius (2) below them
    output = source.clone()
    output[..., :8, :] = torch.rand(1, 3, 8, 24) * 2 - 1
    loss = semantic_patch_coherence_loss(output, output_labels, source, labels, max_source_patches=10**6,
                                         max_queries=10**6, scales=(1,))
    assert loss.item() < 1e-6
    alone = semantic_patch_coherence_loss(output, torch.full_like(labels, 2), source, labels, scales=(1,))
    assert alone.item() == 0.0


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
    # Each used to reach numpy or the optimiser and end in a traceback (seed -1:
    # "expected non-negative integer" from default_rng).
    for field, value, word in [("seed", -1, "seed"), ("lr_generator", -1.0, "learning rates"),
                               ("lr_segmenter", float("nan"), "learning rates"),
                               ("flip_probability", 2.0, "flip"), ("w_patch", -1.0, "loss weights"),
                               ("lr_decay_start", 1.5, "lr_decay_start")]:
        with pytest.raises(SemiaInputError, match=word):
            TrainingConfig(**{field: value})
    assert TrainingConfig(seed=np.int64(3)).seed == 3  # numpy integers are whole numbers too


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in {"cpu", "cuda"}  # MPS only by name (device.py)
    assert "CPU" in describe_device(torch.device("cpu"))
    for name in ("tpu", "cuda:abc", "cudax"):
        with pytest.raises(SemiaInputError, match="Unknown device"):
            resolve_device(name)
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(SemiaInputError, match="CUDA"):
            resolve_device("cuda")
    synchronize(torch.device("cpu"))  # nothing queued: returns
    # An MPS tensor's device reads "mps:0"; a model on it is reloaded with that name.
    for name in ("mps", "mps:0", torch.device("mps", 0)):
        try:
            assert resolve_device(name).type == "mps"
        except SemiaInputError as error:
            assert "MPS backend is not available" in str(error)


def test_learning_rate_holds_then_decays_to_a_tenth():
    assert learning_rate_factor(0, 100, 0.5) == 1.0
    assert learning_rate_factor(49, 100, 0.5) == 1.0
    assert learning_rate_factor(75, 100, 0.5) == pytest.approx(0.55)
    assert learning_rate_factor(100, 100, 0.5) == pytest.approx(0.1)


def test_augmentation_limits_come_from_the_config_by_name():
    config = TrainingConfig(max_scale=0.1, max_rotation_deg=3.0, max_shift=0.02, tps_strength=0.04,
                            flip_probability=0.25)
    limits = AugmentationLimits.from_config(config)
    assert (limits.max_scale, limits.max_rotation_deg, limits.max_shift, limits.tps_strength,
            limits.flip_probability) == (0.1, 3.0, 0.02, 0.04, 0.25)


def test_resize_index_keeps_thin_structures_when_shrinking():
    index = torch.zeros(1, 40, 40, dtype=torch.long)
    index[:, :, 20:22] = 1  # a 2-px line survives halving: it fills whole 2x2 cells
    index[:, 10:30, 4:14] = 2
    small = resize_index(index, (20, 20), 3)
    assert small.shape == (1, 20, 20)
    assert (small == 1).any() and (small == 2).sum() == 50
    assert torch.equal(resize_index(small, (20, 20), 3), small)
    assert set(resize_index(small, (40, 40), 3).unique().tolist()) == {0, 1, 2}


def test_patch_coherence_matches_a_brute_force_same_class_search():
    # The loss gathers only the queried patches and searches class by class;
    # it must equal unfolding every patch and taking the nearest same-class
    # source patch from the full distance matrix.
    gen = torch.Generator().manual_seed(3)
    output = torch.rand(1, 3, 30, 26, generator=gen) * 2 - 1
    source = torch.rand(1, 3, 30, 26, generator=gen) * 2 - 1
    labels = torch.randint(0, 3, (1, 30, 26), generator=gen)
    output_labels = torch.randint(0, 4, (1, 30, 26), generator=gen)  # class 3: not in the source

    queries = F.unfold(output, 5)[0].T
    query_classes = output_labels[:, 2:-2, 2:-2].reshape(-1)
    patches = F.unfold(source, 5)[0].T
    patch_classes = labels[:, 2:-2, 2:-2].reshape(-1)
    dist = torch.cdist(queries, patches).pow(2)
    dist[query_classes[:, None] != patch_classes[None, :]] = float("inf")
    nearest = dist.min(1).values
    expected = (nearest[torch.isfinite(nearest)] / queries.shape[1]).mean()

    bank = SourcePatchBank.build(source, labels, 5, scales=(1,), max_source_patches=10**6)
    from_bank = semantic_patch_coherence_loss(output, output_labels, scales=(1,), max_queries=10**6,
                                              source_bank=bank)
    direct = semantic_patch_coherence_loss(output, output_labels, source, labels, scales=(1,),
                                           max_queries=10**6, max_source_patches=10**6)
    assert torch.isclose(from_bank, expected, rtol=1e-4)
    assert torch.isclose(direct, expected, rtol=1e-4)


def test_patch_coherence_gradient_reaches_only_queried_pixels():
    source = torch.rand(1, 1, 40, 40) * 2 - 1
    labels = torch.zeros(1, 40, 40, dtype=torch.long)
    output = torch.zeros(1, 1, 40, 40, requires_grad=True)
    bank = SourcePatchBank.build(source, labels, 5, scales=(1,))
    loss = semantic_patch_coherence_loss(output, labels, max_queries=3, scales=(1,), source_bank=bank,
                                         generator=torch.Generator().manual_seed(0))
    loss.backward()
    touched = int((output.grad != 0).sum())
    assert 0 < touched <= 3 * 25
