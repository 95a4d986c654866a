import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_semia.errors import SemiaInputError
from napari_semia.labels import LabelCodec, format_colour
from napari_semia.validation import off_palette_warning

# The paper's examples live in shared/ beside the repository (not copied in).
EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "semia-examples"
GREEN, ORANGE, CYAN = (0, 249, 0), (255, 147, 0), (0, 253, 255)


def colour_map(layout: np.ndarray, colours, antialias: bool = True) -> np.ndarray:
    """RGB label map from an id layout, with blended (anti-aliased) borders."""
    rgb = np.asarray(colours, np.float64)[layout]
    if antialias:
        rgb = ndi.uniform_filter(rgb, size=(3, 3, 1))
    return np.round(rgb).astype(np.uint8)


def two_region_layout(shape=(64, 64)) -> np.ndarray:
    layout = np.zeros(shape, np.int64)
    yy, xx = np.indices(shape)
    layout[(yy - 30) ** 2 + (xx - 34) ** 2 < 18**2] = 1
    return layout


# ------------------------------------------------------------ integer maps
def test_integer_map_every_id_is_a_class_including_zero():
    labels = np.array([[0, 0, 7, 7], [3, 3, 7, 0]] * 2, np.uint16)
    codec, index = LabelCodec.from_source(labels)
    assert codec.class_ids == (0, 3, 7)
    assert codec.palette is None
    assert index.dtype == np.int64
    np.testing.assert_array_equal(codec.decode(index), labels)


def test_float_map_holding_integers_is_accepted():
    labels = np.array([[1.0, 2.0], [2.0, 5.0]])
    codec, index = LabelCodec.from_source(labels)
    assert codec.class_ids == (1, 2, 5)
    np.testing.assert_array_equal(index, [[0, 1], [1, 2]])


def test_bool_map_is_read_as_zero_and_one():
    codec, index = LabelCodec.from_source(np.eye(4, dtype=bool))
    assert codec.class_ids == (0, 1)
    np.testing.assert_array_equal(index, np.eye(4))


def test_negative_ids_are_rejected_by_name():
    with pytest.raises(SemiaInputError, match=r"negative ids.*-3"):
        LabelCodec.from_source(np.array([[0, -3], [1, 1]]))


def test_uint64_ids_past_int64_are_named_as_they_are():
    # They were reported as 'negative ids (-9223372036854775803)' (found by a new user).
    ids = np.array([[0, 2**63 + 5], [1, 1]], dtype=np.uint64)
    with pytest.raises(SemiaInputError, match=r"ids up to 9223372036854775813"):
        LabelCodec.from_source(ids)


def test_fractional_ids_are_rejected():
    with pytest.raises(SemiaInputError, match="fractional"):
        LabelCodec.from_source(np.array([[0.5, 1.0], [1.0, 0.0]]))


def test_single_class_is_rejected():
    with pytest.raises(SemiaInputError, match="2 classes"):
        LabelCodec.from_source(np.full((8, 8), 4, np.int32))


def test_encode_maps_ids_to_indices():
    codec, _ = LabelCodec.from_source(np.array([[0, 3], [7, 7]]))
    np.testing.assert_array_equal(codec.encode(np.array([[7, 0], [3, 3]])), [[2, 0], [1, 1]])


def test_encode_unknown_ids_lists_them_and_the_known_ones():
    codec, _ = LabelCodec.from_source(np.array([[0, 3], [7, 7]]))
    with pytest.raises(SemiaInputError) as info:
        codec.encode(np.array([[0, 4], [9, 3]]))
    message = str(info.value)
    assert "4, 9" in message and "0, 3, 7" in message


def test_rgb_target_for_integer_codec_is_rejected():
    codec, _ = LabelCodec.from_source(two_region_layout())
    with pytest.raises(SemiaInputError, match="RGB"):
        codec.encode(colour_map(two_region_layout(), [GREEN, ORANGE]))


# ------------------------------------------------------------ colour maps
def test_antialiased_colour_map_gives_its_region_colours_only():
    layout = two_region_layout()
    rgb = colour_map(layout, [GREEN, ORANGE])
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 2  # blended borders exist
    codec, index = LabelCodec.from_source(rgb)
    assert codec.class_ids == (1, 2)  # ids from 1, so all show in napari
    # Ordered by area: the green background is larger than the orange disc.
    assert codec.palette.tolist() == [list(GREEN), list(ORANGE)]
    # Border pixels go to the nearer colour; the interior is exact.
    assert (index != layout).mean() < 0.03
    interior = ndi.binary_erosion(layout == 1, iterations=2)
    assert (index[interior] == 1).all()


def test_alpha_channel_is_ignored():
    layout = two_region_layout()
    rgb = colour_map(layout, [GREEN, ORANGE])
    alpha = np.full(layout.shape + (1,), 200, np.uint8)
    codec_rgba, index_rgba = LabelCodec.from_source(np.concatenate([rgb, alpha], axis=-1))
    codec_rgb, index_rgb = LabelCodec.from_source(rgb)
    assert codec_rgba == codec_rgb
    np.testing.assert_array_equal(index_rgba, index_rgb)


def test_small_but_clean_regions_are_classes():
    # Like the face example: eyes of 0.4% of the pixels are real classes.
    layout = np.zeros((100, 100), np.int64)
    layout[10:16, 10:16] = 1  # 36 px
    layout[50:90, 50:90] = 2
    rgb = colour_map(layout, [GREEN, ORANGE, CYAN], antialias=False)
    codec, index = LabelCodec.from_source(rgb)
    assert codec.num_classes == 3
    # Ids follow area: background, large square, small square.
    assert codec.palette.tolist() == [list(GREEN), list(CYAN), list(ORANGE)]
    np.testing.assert_array_equal(codec.palette[index], rgb)


def test_single_colour_map_is_rejected():
    with pytest.raises(SemiaInputError, match="2 classes"):
        LabelCodec.from_source(np.full((16, 16, 3), 80, np.uint8))


def test_photo_is_not_a_label_map():
    rng = np.random.default_rng(0)
    photo = ndi.zoom(rng.integers(0, 256, (16, 16, 3)), (8, 8, 1), order=0).astype(np.uint8)
    with pytest.raises(SemiaInputError, match="distinct"):
        LabelCodec.from_source(photo)


def test_colour_target_in_other_shades_maps_to_nearest_palette_colour():
    layout = two_region_layout()
    codec, _index = LabelCodec.from_source(colour_map(layout, [GREEN, ORANGE]))
    moved = np.roll(layout, 9, axis=1)
    shaded = colour_map(moved, [(51, 255, 0), (253, 144, 10)])
    target_index = codec.encode(shaded)
    assert (target_index != moved).mean() < 0.03


def test_thin_strokes_in_a_palette_colour_keep_their_class():
    layout = two_region_layout()
    codec, _ = LabelCodec.from_source(colour_map(layout, [GREEN, ORANGE]))
    target = np.zeros(layout.shape + (3,), np.uint8)
    target[:] = GREEN
    target[2, 2:12] = ORANGE  # the only orange: a thin stroke, no region
    index = codec.encode(target)
    assert (index[2, 2:12] == 1).all()
    assert index.sum() == 10


def test_integer_target_for_colour_codec_uses_ids_from_one():
    codec, _ = LabelCodec.from_source(colour_map(two_region_layout(), [GREEN, ORANGE]))
    np.testing.assert_array_equal(codec.encode(np.array([[1, 2], [2, 2]])), [[0, 1], [1, 1]])
    # Named as the source labels' ids: there may be no model (``from-labels``).
    with pytest.raises(SemiaInputError, match=r"unknown id.*0.*source labels have only ids 1, 2") as info:
        codec.encode(np.array([[0, 1], [2, 2]]))
    # What to do instead (a new user, told only "unknown id(s) 0", tried the eraser again).
    assert "0 is what napari's eraser paints, and no class here: paint over with a class" in str(info.value)
    with pytest.raises(SemiaInputError) as info:
        codec.encode(np.array([[3, 1], [2, 2]]))
    assert "eraser" not in str(info.value)
    # Which colour each id is (a new user's map of ids 0, 3, 7 was told of ids 1, 2, 3
    # that the source, a colour map, never had).
    colours = f"1 {format_colour(GREEN)}, 2 {format_colour(ORANGE)}"
    assert f"colour-coded; as ids their classes are {colours}" in str(info.value)
    with pytest.raises(SemiaInputError) as info:
        LabelCodec.from_source(np.array([[0, 3], [3, 3]]))[0].encode(np.array([[0, 7], [3, 3]]))
    assert "colour-coded" not in str(info.value)


def test_a_map_of_ids_stored_as_grey_rgb_is_read_as_ids():
    # Found by a new user: a target of ids 1..3 saved by a paint program as an RGB PNG
    # with three equal channels was refused as a colour map.
    ids = np.array([[1, 2, 3], [3, 2, 1]], np.uint8)
    codec, _ = LabelCodec.from_source(ids)
    grey_rgb = np.repeat(ids[..., None], 3, axis=-1)
    np.testing.assert_array_equal(codec.encode(grey_rgb), codec.encode(ids))
    codec.check(grey_rgb)
    coloured = grey_rgb.copy()
    coloured[0, 0] = (1, 0, 0)
    with pytest.raises(SemiaInputError, match="colour"):
        codec.encode(coloured)
    with pytest.raises(SemiaInputError, match="unknown id"):
        codec.encode(np.repeat(np.array([[1, 7]], np.uint8)[..., None], 3, axis=-1))


def test_colour_far_from_the_palette_is_named():
    layout = two_region_layout()
    codec, _ = LabelCodec.from_source(colour_map(layout, [GREEN, ORANGE]))
    target = colour_map(layout, [GREEN, (0, 0, 255)], antialias=False)
    with pytest.raises(SemiaInputError, match=r"\(0, 0, 255\)"):
        codec.encode(target)


def test_a_photo_given_as_the_target_is_named_a_photo_not_a_list_of_its_colours():
    layout = two_region_layout()
    codec, _ = LabelCodec.from_source(colour_map(layout, [GREEN, ORANGE]))
    rng = np.random.default_rng(0)
    photo = ndi.zoom(rng.integers(0, 256, (8, 12, 3)), (layout.shape[0] / 8, layout.shape[1] / 12, 1),
                     order=0).astype(np.uint8)
    with pytest.raises(SemiaInputError, match="looks like a photo") as error:
        codec.encode(photo)
    assert "match none" not in str(error.value) and str(GREEN) in str(error.value)


def test_a_photo_in_the_label_colours_given_as_the_target_is_refused():
    """The face photo's colours all lie near the face palette's (skin, hair,
    white), so it was read as a layout; a photo is told apart by its look."""
    layout = two_region_layout()
    source = colour_map(layout, [GREEN, ORANGE])
    codec, _ = LabelCodec.from_source(source)
    rng = np.random.default_rng(0)
    photo = np.clip(source + rng.normal(0, 12, source.shape), 0, 255).astype(np.uint8)
    with pytest.raises(SemiaInputError, match="looks like a photo"):
        codec.encode(photo)
    np.testing.assert_array_equal(codec.encode(source), layout)


@pytest.mark.parametrize("source", [np.array([[0, 5], [9, 5]]), "colour"])
def test_dict_round_trip_through_json(source):
    if isinstance(source, str):
        source = colour_map(two_region_layout(), [GREEN, ORANGE])
    codec, _ = LabelCodec.from_source(source)
    restored = LabelCodec.from_dict(json.loads(json.dumps(codec.to_dict())))
    assert restored == codec
    assert restored.class_ids == codec.class_ids


def test_decode_rejects_out_of_range_indices():
    codec, _ = LabelCodec.from_source(np.array([[0, 1], [1, 1]]))
    with pytest.raises(SemiaInputError, match=r"0\.\.1"):
        codec.decode(np.array([[0, 2]]))


def test_a_class_too_blurred_to_be_found_is_named():
    # Found by a new user: blue pores (801 px) in a colour-coded map blurred at its
    # edges (or saved as JPEG) were not found as a class, and the nearest class took
    # them without a word ("2 classes"): pairs made from it labelled them as matrix.
    layout = two_region_layout((96, 96))
    yy, xx = np.indices(layout.shape)
    for cy, cx in ((10, 10), (10, 80), (85, 12), (85, 85)):
        layout[(yy - cy) ** 2 + (xx - cx) ** 2 < 9] = 2  # spots of 5 px across
    sharp = colour_map(layout, [GREEN, ORANGE, CYAN], antialias=False)
    blurred = np.round(ndi.gaussian_filter(sharp.astype(float), (1.0, 1.0, 0))).astype(np.uint8)
    codec, _ = LabelCodec.from_source(blurred)
    assert codec.num_classes == 2  # the spots were not found
    note = off_palette_warning(blurred, codec)
    assert note is not None and "colours of no class" in note and "JPEG" in note
    count = int(note.split(" pixels")[0])
    assert 0.3 * (layout == 2).sum() < count <= (layout == 2).sum() * 2
    unblurred = colour_map(layout, [GREEN, ORANGE, CYAN], antialias=False)  # found: nothing to say
    codec, _ = LabelCodec.from_source(unblurred)
    assert codec.num_classes == 3 and off_palette_warning(unblurred, codec) is None
    # A map of two colours, anti-aliased: nothing to say; read as floats in [0, 1]
    # too (a false alarm named every pixel; found in review).
    plain = colour_map(two_region_layout(), [GREEN, ORANGE])
    assert off_palette_warning(plain, LabelCodec.from_source(plain)[0]) is None
    floats = plain.astype(np.float32) / 255
    assert off_palette_warning(floats, LabelCodec.from_source(floats)[0]) is None


# ------------------------------------------------------------ shared examples
EXPECTED_CLASSES = {"zebra": 2, "tree": 3, "face": 10, "building": 3}


@pytest.mark.parametrize("case", sorted(EXPECTED_CLASSES))
def test_shared_examples_quantize_and_targets_encode(case):
    import skimage.io

    folder = EXAMPLES / case
    if not folder.is_dir():
        pytest.skip(f"example data not available: {folder}")
    codec, index = LabelCodec.from_source(skimage.io.imread(folder / "label.png"))
    assert codec.num_classes == EXPECTED_CLASSES[case]
    counts = np.bincount(index.ravel(), minlength=codec.num_classes)
    assert counts.min() > 0
    targets = sorted((folder / "cond").glob("*.png"))
    assert targets
    for path in targets:
        target_index = codec.encode(skimage.io.imread(path))
        assert target_index.shape == index.shape
        # A target is an edit of the source layout, not a different picture.
        assert (target_index != index).mean() < 0.5, path.name
        if path.name == "rec.png":
            np.testing.assert_array_equal(target_index, index)
        if case == "zebra":
            assert set(np.unique(target_index)) == {0, 1}, path.name
    # Their anti-aliased edges are blends of two classes: no colour goes unnamed.
    assert off_palette_warning(skimage.io.imread(folder / "label.png"), codec) is None


def test_check_agrees_with_encode_without_making_the_indices():
    # The widget checks each Live stroke's target on the UI thread: check() says
    # what encode() would, for every kind of map, with no index map made.
    from napari_semia.errors import SemiaInputError
    from napari_semia.labels import LabelCodec

    source = np.zeros((40, 60), dtype=np.int32)
    source[10:20, 10:30] = 3
    source[25:35] = 7
    codec, _ = LabelCodec.from_source(source)
    good = np.roll(source, 5, axis=1)
    cases = [good, good.astype(np.uint8), good.astype(np.int64), good.astype(bool),
             np.where(good == 7, 9, good), np.where(good == 3, -1, good), good.astype(np.float32),
             np.zeros((0, 60), np.int32)]
    for target in cases:
        try:
            codec.encode(target)
            expected = None
        except SemiaInputError as error:
            expected = str(error)
        try:
            codec.check(target)
            got = None
        except SemiaInputError as error:
            got = str(error)
        assert got == expected, (target.dtype, got, expected)
    with pytest.raises(SemiaInputError, match="unknown id"):
        codec.check(np.where(good == 7, 9, good))


def test_encoding_a_small_integer_map_makes_no_int64_copy_of_it():
    # An int64 copy of the ids came before the lookup: half a gigabyte and a second
    # at 67 megapixels, for each synthesis of a large target.
    import tracemalloc

    from napari_semia.labels import LabelCodec

    source = np.zeros((500, 400), dtype=np.uint8)
    source[100:300, 50:250] = 3
    codec, _ = LabelCodec.from_source(source)
    target = np.roll(source, 40, axis=1)
    for dtype in (np.uint8, np.uint16, np.int32):
        labels = target.astype(dtype)
        tracemalloc.start()
        index = codec.encode(labels)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        np.testing.assert_array_equal(index, np.searchsorted([0, 3], labels))
        assert index.dtype == np.int64 and peak < 1.25 * index.nbytes, (dtype, peak, index.nbytes)


# ------------------------------------------ limits, each on its edge (a mutation audit)
def test_a_colour_just_past_the_distance_limit_is_refused_and_one_within_is_its_class():
    # Only pure blue, far from every class, was tried: a limit twice as loose went unseen,
    # and a target in a wrong colour would have become a class without a word.
    layout = two_region_layout()
    codec, _ = LabelCodec.from_source(colour_map(layout, [GREEN, ORANGE]))
    wrong = colour_map(layout, [(0, 249, 120), ORANGE], antialias=False)  # 120 from green
    with pytest.raises(SemiaInputError, match="match none of the source's"):
        codec.encode(wrong)
    near = colour_map(layout, [(0, 249, 80), ORANGE], antialias=False)  # 80 from green
    np.testing.assert_array_equal(codec.encode(near), layout)


def test_a_colour_map_of_more_than_32_region_colours_is_refused():
    rng = np.random.default_rng(1)
    colours = rng.choice(256, size=(33, 3))
    layout = np.arange(36).reshape(6, 6) % 33
    rgb = colours[np.kron(layout, np.ones((12, 12), np.int64))].astype(np.uint8)
    with pytest.raises(SemiaInputError, match="at most 32"):
        LabelCodec.from_source(rgb)
    fewer = colours[np.kron(layout % 32, np.ones((12, 12), np.int64))].astype(np.uint8)
    assert len(LabelCodec.from_source(fewer)[0].class_ids) == 32


def test_class_ids_out_of_order_or_repeated_are_refused():
    # A model file edited, or written by another version: the lookups assume sorted ids.
    with pytest.raises(SemiaInputError, match="distinct and sorted"):
        LabelCodec((3, 1))
    with pytest.raises(SemiaInputError, match="distinct and sorted"):
        LabelCodec((1, 1, 2))


def test_an_integer_colour_map_past_0_255_is_refused_not_wrapped():
    rgb = np.zeros((32, 32, 3), np.uint16)
    rgb[:, 16:] = 1000  # as uint8 it wraps to 232 without a word
    with pytest.raises(SemiaInputError, match=r"0\.\.255"):
        LabelCodec.from_source(rgb)
    rgb = np.zeros((32, 32, 3), np.int16)
    rgb[:, 16:] = (-5, 200, 0)
    with pytest.raises(SemiaInputError, match=r"0\.\.255"):
        LabelCodec.from_source(rgb)
    np.testing.assert_array_equal(LabelCodec.from_source(rgb.clip(0))[1][:, 16:], 1)


def test_off_palette_pixels_are_named_past_a_thousandth_of_the_map_only():
    # Specks where three classes meet are below it (the shared examples: 0.05 % at most).
    layout = two_region_layout((100, 100))
    for specks, warned in ((9, False), (11, True)):
        rgb = colour_map(layout, [GREEN, ORANGE], antialias=False)
        rgb[np.arange(specks) * 4 + 5, 3] = (0, 0, 255)  # single pixels: no class of their own
        codec, _ = LabelCodec.from_source(rgb)
        note = off_palette_warning(rgb, codec)
        assert (note is not None) == warned and (not warned or note.startswith(f"{specks} pixels"))


def test_unknown_ids_numbered_another_way_say_how():
    # Fiji and most tools save a mask as 0 and 255, napari as 0 and 1; ids counted from 1
    # instead of 0: "unknown id(s) 255" alone left the user to guess.
    from napari_semia.errors import SemiaInputError

    mask01, _ = LabelCodec.from_source(np.array([[0, 1], [1, 0]]))
    mask255, _ = LabelCodec.from_source(np.array([[0, 255], [255, 0]], np.uint8))
    for codec, target, said in (
            (mask01, [[0, 255], [255, 0]], "look like a mask saved as 0 and 255: save it with 0 and 1"),
            (mask255, [[0, 1], [1, 0]], "look like a mask of 0 and 1; the source's is of 0 and 255"),
            (mask01, [[1, 2], [2, 1]], "Their ids are the source's plus one throughout: counted from 1"),
            (mask01, [[0, 1], [1, 2]], None),
            (mask01, np.arange(24).reshape(4, 6) % 13, "hold 13 ids, one per object it seems"),
            # An eraser's strokes with the rarest class gone: no "minus one" (a review).
            (LabelCodec.from_source(np.array([[1, 2, 3, 3]]))[0], [[0, 1, 2, 2]], None)):
        with pytest.raises(SemiaInputError) as refused:
            codec.encode(np.array(target))
        assert (said in str(refused.value)) if said else ("Their ids" not in str(refused.value)
                                                           and "mask" not in str(refused.value))


def test_a_colour_map_in_bgr_says_so():
    # cv2.imwrite writes blue, green, red: every colour of the layout a palette colour turned.
    from napari_semia.errors import SemiaInputError

    palette = np.array([[255, 0, 0], [0, 200, 0], [255, 255, 0]], np.uint8)
    index = np.zeros((30, 30), int)
    index[5:15, 5:15], index[18:28, 10:25] = 1, 2
    codec, _ = LabelCodec.from_source(palette[index])
    with pytest.raises(SemiaInputError, match=r"red and blue swapped \(OpenCV's cv2.imwrite writes BGR\)"):
        codec.encode(palette[index][..., ::-1])
    other = palette.copy()
    other[1] = [200, 0, 200]  # one colour of another map: no such hint
    with pytest.raises(SemiaInputError) as refused:
        codec.encode(other[index])
    assert "match none of the source's label colours" in str(refused.value)
    assert "swapped" not in str(refused.value)


def test_the_numbering_hints_say_only_what_fits():
    # From a mutation audit: each hint's edges (a hint that does not fit is untrue advice).
    from napari_semia.errors import SemiaInputError
    from napari_semia.labels import format_ids

    def refused(codec, target):
        with pytest.raises(SemiaInputError) as error:
            codec.encode(np.array(target))
        return str(error.value)

    ids02, _ = LabelCodec.from_source(np.array([[0, 2], [2, 0]]))  # mask hints: only against 0/1 or 0/255
    assert "mask" not in refused(ids02, [[0, 255], [255, 0]])
    assert "mask" not in refused(ids02, [[0, 1], [1, 0]])
    mask01, _ = LabelCodec.from_source(np.array([[0, 1], [1, 0]]))
    assert "one per object" not in refused(mask01, [np.arange(11)])  # 9 unknown ids
    assert "hold 12 ids, one per object" in refused(mask01, [np.arange(12)])  # 10
    many, _ = LabelCodec.from_source(np.arange(12).reshape(3, 4))
    assert "one per object" not in refused(many, [np.arange(22)])  # not past twice the source's ids
    ids12, _ = LabelCodec.from_source(np.array([[1, 2], [2, 1]]))
    assert "plus one" not in refused(ids12, [[2, 3], [3, 2]])  # (only for a source counted from 0)
    palette = np.array([[255, 0, 0], [0, 200, 0], [255, 255, 0]], np.uint8)
    index = np.zeros((30, 30), int)
    index[5:15, 5:15], index[18:28, 10:25] = 1, 2
    codec, _ = LabelCodec.from_source(palette[index])
    turned = palette[index][..., ::-1].copy()
    turned[index == 1] = [200, 0, 200]  # one colour no turned palette colour: no BGR hint
    assert "swapped" not in refused(codec, turned)
    partly = palette[index].copy()
    partly[index == 2] = [0, 255, 255]  # yellow turned, red left red
    assert "swapped" not in refused(codec, partly)
    palette14 = np.array([[i * 17, 255 - i * 17, (i * 97) % 256] for i in range(14)], np.uint8)
    index14 = np.kron(np.repeat(np.arange(14), 16).reshape(14, 16), np.ones((4, 1), int))
    described = LabelCodec.from_source(palette14[index14])[0].describe_classes()
    assert described.startswith("colours ") and described.count("(") == 13
    assert described.endswith("(14 in total)")
    assert format_ids(range(13)) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ... (13 in total)"
