import numpy as np
import pytest

from napari_semia.errors import SemiaInputError
from napari_semia.labels import LabelCodec
from napari_semia.validation import validate_target, validate_training_inputs

rng = np.random.default_rng(0)
IMAGE = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
LABELS = np.zeros((32, 40), np.int32)
LABELS[8:24, 10:30] = 2


def test_good_inputs_pass_and_return_the_codec():
    codec, index = validate_training_inputs(IMAGE, LABELS)
    assert codec.class_ids == (0, 2)
    assert index.shape == (32, 40)


@pytest.mark.parametrize(
    "image",
    [
        rng.integers(0, 65536, (32, 40), dtype=np.uint16),
        rng.normal(size=(32, 40, 7)).astype(np.float32),
        rng.integers(0, 256, (32, 40, 4), dtype=np.uint8),
    ],
    ids=["uint16-gray", "float-7ch", "rgba"],
)
def test_other_supported_images_pass(image):
    validate_training_inputs(image, LABELS)


def test_colour_coded_labels_pass():
    colour = np.zeros((32, 40, 3), np.uint8)
    colour[LABELS == 2] = (255, 147, 0)
    codec, _ = validate_training_inputs(IMAGE, colour)
    assert codec.num_classes == 2


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(SemiaInputError, match=r"The labels are 30 × 40 pixels \(height × width\), but the "
                                              r"image is 32 × 40: they must cover the same pixels"):
        validate_training_inputs(IMAGE, LABELS[:30])


def test_fewer_than_two_classes():
    with pytest.raises(SemiaInputError, match="2 classes"):
        validate_training_inputs(IMAGE, np.ones((32, 40), np.uint8))


def test_empty_image():
    with pytest.raises(SemiaInputError, match="empty"):
        validate_training_inputs(np.zeros((0, 40), np.uint8), LABELS)


def test_all_nan_image():
    with pytest.raises(SemiaInputError, match="all NaN"):
        validate_training_inputs(np.full((32, 40), np.nan, np.float32), LABELS)


def test_some_nan_pixels_are_counted():
    image = rng.normal(size=(32, 40)).astype(np.float32)
    image[3, :5] = np.nan
    with pytest.raises(SemiaInputError, match="5 NaN"):
        validate_training_inputs(image, LABELS)


def test_infinite_values():
    image = rng.normal(size=(32, 40))
    image[0, 0] = np.inf
    with pytest.raises(SemiaInputError, match="infinite"):
        validate_training_inputs(image, LABELS)


@pytest.mark.parametrize("shape", [(32,), (2, 32, 40, 3)])
def test_unsupported_ndim_asks_for_a_2d_slice(shape):
    with pytest.raises(SemiaInputError, match="2D slice"):
        validate_training_inputs(np.zeros(shape, np.uint8), LABELS)


def test_volume_with_many_planes_asks_for_a_2d_slice():
    with pytest.raises(SemiaInputError, match="2D slice"):
        validate_training_inputs(np.zeros((32, 40, 60), np.uint8), LABELS)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((32, 40), np.complex64),
        np.zeros((32, 40), object),
        np.full((32, 40), "a"),
        np.zeros((32, 40), bool),
    ],
    ids=["complex", "object", "str", "bool"],
)
def test_unsupported_dtype(image):
    with pytest.raises(SemiaInputError, match="dtype"):
        validate_training_inputs(image, LABELS)


def test_image_too_small():
    with pytest.raises(SemiaInputError, match="too small"):
        validate_training_inputs(IMAGE[:10], LABELS[:10])


def test_labels_with_unsupported_shape():
    with pytest.raises(SemiaInputError, match="2D"):
        validate_training_inputs(IMAGE, np.zeros((32, 40, 5), np.int32))


def test_negative_label_ids():
    labels = LABELS.copy()
    labels[0, 0] = -1
    with pytest.raises(SemiaInputError, match="negative"):
        validate_training_inputs(IMAGE, labels)


def test_missing_inputs():
    with pytest.raises(SemiaInputError, match="image"):
        validate_training_inputs(None, LABELS)
    with pytest.raises(SemiaInputError, match="labels"):
        validate_training_inputs(IMAGE, None)


# ------------------------------------------------------------ targets
CODEC = LabelCodec.from_source(LABELS)[0]


def test_good_target_returns_indices():
    target = np.zeros_like(LABELS)
    target[0:10, 0:10] = 2
    index = validate_target(target, (32, 40), CODEC)
    assert index.max() == 1 and index[0, 0] == 1


def test_target_shape_mismatch():
    with pytest.raises(SemiaInputError, match="are 40 × 32 pixels") as info:
        validate_target(np.zeros((40, 32), np.int32), (32, 40), CODEC)
    assert "the source is 32 × 40" in str(info.value)


def test_target_unknown_ids():
    target = LABELS.copy()
    target[0, 0] = 5
    with pytest.raises(SemiaInputError, match="unknown id") as info:
        validate_target(target, (32, 40), CODEC)
    assert "5" in str(info.value) and "0, 2" in str(info.value)


def test_target_3d_stack():
    with pytest.raises(SemiaInputError, match="2D slice"):
        validate_target(np.zeros((3, 32, 40, 2), np.int32), (32, 40), CODEC)


def test_an_instance_map_is_named_a_semantic_map_is_not():
    # Found by a new user: 22 nuclei of one id each trained 23 classes with no word
    # (the warning spoke only above 64 classes), and a new nucleus could only be
    # painted with the id of one of them.
    from napari_semia.config import TrainingConfig
    from napari_semia.trainer import SemiaTrainer
    from napari_semia.validation import instance_map_warning

    def warned(index):
        index = np.asarray(index)
        return instance_map_warning(index, int(index.max()) + 1)

    instances = np.zeros((60, 66), np.int32)
    for n in range(22):
        row, col = divmod(n, 6)
        instances[2 + 15 * row:10 + 15 * row, 2 + 11 * col:9 + 11 * col] = n + 1
    note = warned(instances)
    assert note is not None
    assert note.startswith("The source labels hold 23 classes, 22 of them one small region")
    assert "every cell 1, background 0" in note
    assert warned((instances > 0).astype(np.int32)) is None  # semantic
    paired = instances.copy()
    paired[paired > 12] -= 12  # twelve kinds of object, most in two places: classes
    assert warned(paired) is None
    # An atlas of 15 regions that tile the image: classes, each one region, but large.
    assert warned(np.repeat(np.arange(15), 4)[None].repeat(60, 0)[:, :60]) is None
    # Thin objects of one pixel's width, diagonal: one region each (8-connected; from a review).
    diagonal = np.zeros((60, 66), np.int32)
    for n in range(15):
        for i in range(3):
            diagonal[4 * n // 2 + i, 4 * n + i] = n + 1
    assert warned(diagonal) is not None
    # Whatever the map's type, read through the codec (float ids, one colour per
    # object: the review's misses), in training.
    image = np.random.default_rng(0).integers(0, 256, instances.shape, dtype=np.uint8)
    colours = np.random.default_rng(1).integers(0, 256, (23, 3)).astype(np.uint8)
    for labels in (instances, instances.astype(np.float32), colours[instances]):
        trainer = SemiaTrainer(image, labels, TrainingConfig(steps=1, size=32, width=8, levels=3),
                               device="cpu", warn=False)
        assert "like an instance map" in (trainer.input_note or ""), labels.dtype


def test_labels_saved_flipped_or_turned_are_named():
    # Labels saved by a tool that puts the origin at the bottom, or written column by
    # column, are of the image's size and trained without a word (a file-format pass).
    from napari_semia.config import TrainingConfig
    from napari_semia.trainer import SemiaTrainer
    from napari_semia.validation import turned_labels_warning

    yy, xx = np.mgrid[:48, :48]
    labels = np.zeros((48, 48), np.int32)
    labels[6:20, 8:30] = 1
    labels[(yy - 34) ** 2 + (xx - 36) ** 2 < 64] = 2
    noise = np.random.default_rng(0).normal(0, 6, labels.shape)
    image = (np.array([60.0, 180.0, 120.0])[labels] + noise).clip(0, 255)
    assert turned_labels_warning(image, labels) is None
    for turned, named in ((np.flipud(labels), "flipped upside down"),
                          (np.fliplr(labels), "mirrored left to right"),
                          (labels[::-1, ::-1], "turned 180°"),
                          (labels.T, "transposed (rows saved as columns)"),
                          (np.rot90(labels, -1), "turned 90° clockwise"),
                          (np.rot90(labels), "turned 90° counter-clockwise")):
        note = turned_labels_warning(image, turned)
        assert note is not None and note.startswith(f"The source labels look {named}:"), (named, note)
    # Labels that follow no edge of the image fit any way alike.
    for seed in range(5):
        unrelated = np.random.default_rng(seed).normal(120, 20, labels.shape)
        assert turned_labels_warning(unrelated, np.flipud(labels)) is None
    assert turned_labels_warning(image, np.zeros_like(labels)) is None  # one class: no borders
    # In training: the trainer's input note (which the command line and the widget show).
    config = TrainingConfig(steps=1, size=48, width=8, levels=3)
    trainer = SemiaTrainer(image.astype(np.uint8), np.fliplr(labels), config, device="cpu", warn=False)
    assert "look mirrored left to right" in (trainer.input_note or "")
    trainer = SemiaTrainer(image.astype(np.uint8), labels, config, device="cpu", warn=False)
    assert "look" not in (trainer.input_note or "")


def test_labels_with_a_trailing_axis_of_one_are_a_map_and_channels_first_are_named():
    # A scripting user: (H, W, 1) labels (a network's [..., None], a grey 'L' image)
    # were refused where such an image is one channel; a (3, H, W) image was called
    # one of H channels, for a z-stack.
    codec, index = validate_training_inputs(IMAGE, LABELS[..., None])
    assert codec.class_ids == (0, 2) and index.shape == (32, 40)
    validate_target(LABELS[..., None], (32, 40), codec)
    assert codec.encode(LABELS[..., None]).shape == (32, 40)
    with pytest.raises(SemiaInputError, match=r"move them last: np\.moveaxis\(image, 0, -1\)"):
        validate_training_inputs(np.moveaxis(IMAGE, -1, 0).copy(), LABELS)
    with pytest.raises(SemiaInputError, match="z-stack or time series"):
        validate_training_inputs(np.zeros((32, 40, 30), np.uint8), LABELS)


def test_coarse_labels_a_brush_s_width_off_the_edges_are_not_called_turned():
    # A review: coarse labels (painted a brush's width outside the objects) fit as
    # given below the edges' mean, and a turn that crossed edges 1.5 times as well
    # was named ("The source labels look turned 180°": a user may flip right labels).
    import skimage.data
    import torch
    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu

    from napari_semia.training_data import TrainingData
    from napari_semia.validation import turned_labels_warning

    camera = skimage.data.camera()
    labels = (camera > threshold_otsu(camera)).astype(np.uint8)
    for coarse in (ndi.grey_dilation(labels, size=15), ndi.grey_dilation(labels, size=25)):
        data = TrainingData.build(camera, coarse, 256, torch.device("cpu"))
        grey, index = data.fine.image[0].mean(0).numpy(), data.fine.index[0].numpy()
        assert turned_labels_warning(grey, index) is None
    data = TrainingData.build(camera, np.flipud(labels).copy(), 256, torch.device("cpu"))
    note = turned_labels_warning(data.fine.image[0].mean(0).numpy(), data.fine.index[0].numpy())
    assert note is not None and "flipped upside down" in note  # (the exact map, flipped, still is)


# ------------------------------------------ limits, each on its edge (a mutation audit)
def test_the_smallest_side_is_accepted_and_one_less_refused():
    from napari_semia.validation import MIN_SIDE, validate_image

    validate_image(np.zeros((MIN_SIDE, 40), np.uint8))
    with pytest.raises(SemiaInputError, match="too small"):
        validate_image(np.zeros((40, MIN_SIDE - 1), np.uint8))


def test_an_image_of_two_adjacent_grey_levels_is_flat_and_two_apart_is_not():
    from napari_semia.validation import flat_image_warning

    image = np.full((64, 64), 100, np.uint8)
    image[:, 32:] = 101
    assert "(nearly) constant" in flat_image_warning(image)
    image[:, 32:] = 102
    assert flat_image_warning(image) is None


def test_many_classes_are_warned_of_past_the_limit_only():
    from napari_semia.validation import MANY_CLASSES, many_classes_warning

    assert many_classes_warning(MANY_CLASSES) is None
    assert f"{MANY_CLASSES + 1} classes" in many_classes_warning(MANY_CLASSES + 1)


def test_a_narrow_working_size_is_not_warned_of_where_the_source_is_that_narrow():
    # A 20 x 400 px image trained at its own size: "a larger working size gives it
    # more" cannot help there.
    from napari_semia.validation import narrow_working_size_warning

    assert narrow_working_size_warning((20, 400), (20, 400), 400) is None
    assert "learns little across 8 px" in narrow_working_size_warning((37, 400), (8, 64), 64)
