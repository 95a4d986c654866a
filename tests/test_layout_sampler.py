"""Layout sampler: valid ids, determinism, real changes, object/background choices."""

import dataclasses
import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_semia.errors import SemiaInputError
from napari_semia.labels import LabelCodec
from napari_semia.layout_sampler import LayoutSampler, LayoutSamplerSettings, layout_rng

BACKGROUND, CELL, NUCLEUS, ROCK = 3, 5, 9, 12


def cells_scene() -> np.ndarray:
    """64 x 64: background, five cells (each with a nucleus inside), and a rock
    touching the left border. Ids are deliberately not 0..K-1."""
    labels = np.full((64, 64), BACKGROUND, np.int32)
    yy, xx = np.mgrid[:64, :64]
    for cy, cx in [(12, 20), (14, 46), (34, 30), (50, 14), (50, 50)]:
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= 25] = CELL
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= 4] = NUCLEUS
    labels[28:40, 0:5] = ROCK
    return labels


NO_WARP = LayoutSamplerSettings(elastic_strength=0.0)


def test_default_background_is_the_largest_class():
    sampler = LayoutSampler(cells_scene())
    assert sampler.background_ids == (BACKGROUND,)
    assert sampler.object_ids == (CELL, NUCLEUS, ROCK)
    # Each nucleus lies inside its cell: one instance per cell, plus the rock.
    assert sampler.instances == 6


def test_a_source_whose_objects_cannot_move_is_named():
    # Found by a new user: the coffee sample's cup, saucer and shadow are one region
    # over half the image; half the generated pairs were the source, unnoticed.
    assert LayoutSampler(cells_scene()).unchanging_note() is None
    big = np.full((64, 64), BACKGROUND, np.int32)
    big[10:50, 10:50] = CELL  # 39 % of the image: scenery
    sampler = LayoutSampler(big, LayoutSamplerSettings(object_ids=(CELL,)))
    assert sampler.instances == 1 and sampler.movable == 0
    note = sampler.unchanging_note()
    assert "No object can move" in note and "20%" in note and "elastic warp" in note
    # Which classes were taken for what (in a dense culture the cells were the
    # largest class, taken for the background, and the note named neither).
    assert f"Objects: class(es) {CELL}; background: class(es) {BACKGROUND} (the largest class)" in note
    crowded = np.full((64, 64), BACKGROUND, np.int32)
    crowded[2:62, 2:62] = CELL  # the cells are the largest class: taken for the background
    note = LayoutSampler(crowded).unchanging_note()
    assert f"Objects: class(es) {BACKGROUND}; background: class(es) {CELL} (the largest class)" in note
    note = LayoutSampler(crowded, LayoutSamplerSettings(background_ids=(BACKGROUND,))).unchanging_note()
    assert f"Objects: class(es) {CELL}; background: class(es) {BACKGROUND} (as chosen)" in note
    note = LayoutSampler(crowded, LayoutSamplerSettings(object_ids=(CELL,))).unchanging_note()
    assert f"background: class(es) {BACKGROUND} (the classes not chosen as objects)" in note
    # A map of one id per cell, tiles touching: a dozen ids named, not all 319.
    tiles = (np.arange(64)[:, None] // 4 * 20 + np.arange(80)[None, :] // 4 + 1).astype(np.int32)
    note = LayoutSampler(tiles).unchanging_note()
    assert "Objects: class(es) 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, ... (319 in total); " in note
    assert len(note) < 600
    # An object cut by the edge stays too, unless border objects may move.
    edge = np.full((64, 64), BACKGROUND, np.int32)
    edge[20:30, 0:8] = ROCK
    assert LayoutSampler(edge).movable == 0
    assert LayoutSampler(edge, LayoutSamplerSettings(move_border_objects=True)).movable == 1
    # ... but it may be dropped, and the note says so (it said every pair was the
    # source's layout; found by a new user, whose pair 2 had dropped a cell cluster).
    note = LayoutSampler(edge).unchanging_note()
    assert "only where one of the 1 region(s) cut by the edge is dropped (each in 10% of the pairs)" in note
    assert "every pair" not in note
    assert any("dropped" in LayoutSampler(edge).sample(i).summary for i in range(40))
    kept = LayoutSampler(edge, LayoutSamplerSettings(drop_probability=0))
    assert "every pair has the source's layout" in kept.unchanging_note()
    assert not any("dropped" in kept.sample(i).summary for i in range(20))


def test_the_class_that_joins_objects_into_a_region_too_large_is_named():
    # Found by a new user: the histology sample's default objects (stroma among them)
    # made one large region of the stroma and the nuclei in it; "Only 4 smaller
    # region(s) move", and no word of what to untick.
    scene = np.full((64, 64), BACKGROUND, np.int32)
    scene[4:40, 4:60] = CELL  # a tissue, 49 % of the image, nuclei inside
    for row in range(8, 36, 8):
        for col in range(8, 56, 8):
            scene[row:row + 3, col:col + 3] = NUCLEUS
    scene[50:53, 20:23] = NUCLEUS  # one apart, which moves
    sampler = LayoutSampler(scene, LayoutSamplerSettings(object_ids=(CELL, NUCLEUS)))
    note = sampler.mostly_fixed_note()
    assert f". The large regions join object classes, mostly class {CELL}: with it left out" in note, note
    assert note.endswith("the classes it holds can move. Only 1 smaller region(s) move.")
    nuclei = LayoutSampler(scene, LayoutSamplerSettings(object_ids=(NUCLEUS,)))
    assert nuclei.movable == 25 and nuclei.mostly_fixed_note() is None
    # One class alone in the large region: nothing to leave out.
    alone = LayoutSampler(scene, LayoutSamplerSettings(object_ids=(CELL,)))
    assert "mostly class" not in (alone.mostly_fixed_note() or "")
    # Two large regions of one class each join nothing (a review: class 1 was named).
    apart = np.full((64, 64), BACKGROUND, np.int32)
    apart[2:34, 2:40] = CELL
    apart[38:62, 10:60] = ROCK
    apart[5:8, 50:53] = NUCLEUS
    note = LayoutSampler(apart, LayoutSamplerSettings(object_ids=(CELL, ROCK, NUCLEUS))).mostly_fixed_note()
    assert "too large to move" in note and "mostly class" not in note


def test_a_source_whose_objects_mostly_cannot_move_is_named():
    # Found by a new user: a retina's vessel tree is one region over 20 % of the
    # image and never moved, while a few small fragments did, without a word.
    assert LayoutSampler(cells_scene()).mostly_fixed_note() is None  # the rock alone is cut
    tree = np.full((64, 64), BACKGROUND, np.int32)
    tree[4:60, 30:34] = CELL  # a trunk and branches: one region, 14 % of the image
    tree[30:34, 4:60] = CELL
    tree[8:52, 10:12] = CELL  # (no loop: footprints are filled)
    tree[50:52, 40:60] = CELL
    tree[34:50, 40:42] = CELL
    tree[45:48, 5:8] = CELL  # a small fragment that can move
    few = LayoutSampler(tree, LayoutSamplerSettings(object_ids=(CELL,), max_object_fraction=0.1))
    assert few.movable == 1
    note = few.mostly_fixed_note()
    assert note.startswith("Most of the objects' footprint (loops filled) keeps its place in the layouts: "
                           "98% in regions too large to move (over 10% of the image;"), note
    assert note.endswith("Only 1 smaller region(s) move.")
    assert few.unchanging_note() is None  # (that note is for none moving at all)
    # The same tree, allowed to move: nothing to say.
    assert LayoutSampler(tree, LayoutSamplerSettings(object_ids=(CELL,))).mostly_fixed_note() is None
    # Most of it cut by the edge: said with how to move them.
    edge = np.full((64, 64), BACKGROUND, np.int32)
    edge[20:40, 0:10] = ROCK
    edge[5:8, 30:33] = ROCK
    note = LayoutSampler(edge).mostly_fixed_note()
    assert ("96% in regions cut by the image's edge, though they may be dropped (each in 10% of the "
            "layouts); the command line's --move-border-objects (in Python, move_border_objects=True) "
            "moves them") in note


def test_ids_stay_valid_and_dtype_is_integer():
    source = cells_scene()
    sampler = LayoutSampler(source, LayoutSamplerSettings(elastic_strength=0.05, elastic_probability=1.0))
    for index in range(8):
        layout = sampler.sample(index, seed=1)
        assert layout.labels.shape == source.shape
        assert np.issubdtype(layout.labels.dtype, np.integer)
        assert set(np.unique(layout.labels)) <= {BACKGROUND, CELL, NUCLEUS, ROCK}


def test_deterministic_for_seed_and_index_whatever_the_order():
    source = cells_scene()
    first = LayoutSampler(source).sample(3, seed=7)
    other = LayoutSampler(source)
    other.sample(0, seed=7)  # making other layouts first changes nothing
    again = other.sample(3, seed=7)
    assert np.array_equal(first.labels, again.labels)
    assert first.record == again.record
    assert not np.array_equal(first.labels, other.sample(3, seed=8).labels)
    assert not np.array_equal(first.labels, other.sample(4, seed=7).labels)


def test_layout_rng_depends_on_seed_and_index_only():
    assert layout_rng(1, 2).random() == layout_rng(1, 2).random()
    assert layout_rng(1, 2).random() != layout_rng(2, 1).random()


def test_layouts_change_and_record_what_changed():
    source = cells_scene()
    sampler = LayoutSampler(source, NO_WARP)
    layouts = [sampler.sample(i) for i in range(10)]
    changed = [not np.array_equal(layout.labels, source) for layout in layouts]
    assert sum(changed) >= 9
    for layout, was_changed in zip(layouts, changed):
        json.dumps(layout.record)  # JSON-able
        assert bool(layout.record["changes"]) == was_changed
        assert (layout.summary == "unchanged") == (not was_changed)


def test_nuclei_move_with_their_cells():
    sampler = LayoutSampler(cells_scene(), NO_WARP)
    for index in range(10):
        labels = sampler.sample(index).labels
        nuclei = labels == NUCLEUS
        ring = ndi.binary_dilation(nuclei) & ~nuclei
        assert np.all(labels[ring] == CELL)


def test_objects_never_overlap_unless_allowed():
    settings = LayoutSamplerSettings(elastic_strength=0.0, duplicate_probability=1.0, max_shift=0.5)
    sampler = LayoutSampler(cells_scene(), settings)
    for index in range(10):
        layout = sampler.sample(index)
        _, count = ndi.label(np.isin(layout.labels, [CELL, NUCLEUS]), structure=np.ones((3, 3)))
        changes = layout.record["changes"]
        dropped = sum(c["action"] == "dropped" for c in changes)
        duplicated = sum(c["action"] == "duplicated" for c in changes)
        # Every placed cell is its own component: none touches another.
        assert count == 5 - dropped + duplicated


def test_border_objects_stay_unless_asked_to_move():
    source = cells_scene()
    rock = source == ROCK
    settings = LayoutSamplerSettings(elastic_strength=0.0, drop_probability=0.0)
    for index in range(5):
        assert np.array_equal(LayoutSampler(source, settings).sample(index).labels == ROCK, rock)
    moving = LayoutSamplerSettings(elastic_strength=0.0, drop_probability=0.0, move_probability=1.0,
                                   move_border_objects=True)
    moved = [LayoutSampler(source, moving).sample(i).labels == ROCK for i in range(5)]
    assert any(not np.array_equal(m, rock) for m in moved)


def test_named_objects_only_are_edited_and_the_background_fills_in():
    source = cells_scene()
    # Only the rock is an object; cells are background. Dropping every object
    # must leave the cells exactly as they were and fill the rock's place with
    # the class around it.
    settings = LayoutSamplerSettings(object_ids=(ROCK,), drop_probability=1.0, elastic_strength=0.0)
    sampler = LayoutSampler(source, settings)
    assert sampler.object_ids == (ROCK,)
    assert sampler.background_ids == (BACKGROUND, CELL, NUCLEUS)
    labels = sampler.sample(0).labels
    expected = np.where(source == ROCK, BACKGROUND, source)
    assert np.array_equal(labels, expected)


def test_background_named_makes_every_other_class_an_object():
    sampler = LayoutSampler(cells_scene(), LayoutSamplerSettings(background_ids=(BACKGROUND, ROCK)))
    assert sampler.object_ids == (CELL, NUCLEUS)


def test_strength_zero_keeps_the_source_and_two_changes_more():
    source = cells_scene()
    still = LayoutSampler(source, LayoutSamplerSettings().scaled(0.0))
    assert all(np.array_equal(still.sample(i).labels, source) for i in range(3))
    mild = LayoutSampler(source, NO_WARP.scaled(0.5))
    wild = LayoutSampler(source, NO_WARP.scaled(2.0))

    def changed_fraction(sampler):
        return np.mean([(sampler.sample(i).labels != source).mean() for i in range(10)])

    assert changed_fraction(wild) > changed_fraction(mild)


def test_elastic_warp_alone_changes_a_layout_without_objects():
    source = np.zeros((48, 48), np.int32)
    source[:, 24:] = 1
    settings = LayoutSamplerSettings(object_ids=(), elastic_strength=0.1, elastic_probability=1.0)
    layout = LayoutSampler(source, settings).sample(0)
    assert not np.array_equal(layout.labels, source)
    assert layout.record["elastic"]["max_displacement_px"] > 0


def test_colour_coded_source_gives_codec_ids():
    palette = np.array([[0, 0, 255], [255, 0, 0]], np.uint8)
    index = (cells_scene() == CELL).astype(int)
    codec = LabelCodec(class_ids=(1, 2), palette=palette)
    sampler = LayoutSampler(palette[index], NO_WARP)
    assert sampler.codec == codec
    assert set(np.unique(sampler.sample(0).labels)) <= {1, 2}
    from_index = LayoutSampler.from_index(index, codec, NO_WARP)
    assert np.array_equal(from_index.sample(0).labels, sampler.sample(0).labels)
    # An id the labels lack is refused with the colour each id stands for (the user
    # never wrote those ids; the message listed them bare).
    with pytest.raises(SemiaInputError, match=r"Unknown object class id\(s\) 99; the labels hold ids "
                                              r"1 \(0, 0, 255\), 2 \(255, 0, 0\)\."):
        LayoutSampler(palette[index], LayoutSamplerSettings(object_ids=(1, 99)))


@pytest.mark.parametrize(
    "settings, message",
    [
        (LayoutSamplerSettings(object_ids=(4,)), "Unknown object class id"),
        (LayoutSamplerSettings(background_ids=()), "at least one must be background"),
        (LayoutSamplerSettings(object_ids=(), elastic_strength=0.0), "every layout would equal the source"),
    ],
)
def test_bad_class_choices_are_input_errors(settings, message):
    with pytest.raises(SemiaInputError, match=message):
        LayoutSampler(cells_scene(), settings)


def test_bad_settings_are_input_errors():
    with pytest.raises(SemiaInputError, match="both as objects and as background"):
        LayoutSamplerSettings(object_ids=(5,), background_ids=(5,))
    with pytest.raises(SemiaInputError, match="drop_probability"):
        LayoutSamplerSettings(drop_probability=1.5)
    with pytest.raises(SemiaInputError, match="scale_range"):
        LayoutSamplerSettings(scale_range=(1.5, 1.0))


def test_settings_round_trip_through_a_dict():
    settings = LayoutSamplerSettings(object_ids=(5, 9), scale_range=(0.5, 2.0))
    assert LayoutSamplerSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings


def test_the_elastic_warp_grows_no_stalks_from_the_border():
    # Found making synthetic training data: where the warp pointed outside the
    # image, the edge row was read again and again, and an object touching the
    # border grew a straight strip 5-15 px long from it.
    from napari_semia.layout_sampler import _elastic_warp

    height, width = 48, 64
    pixel_ids = np.arange(height * width).reshape(height, width)  # which pixel each one reads
    settings = LayoutSamplerSettings(elastic_strength=0.2, elastic_probability=1.0)
    for seed in range(10):
        warped, record, _ = _elastic_warp(pixel_ids, np.random.default_rng(seed), settings)
        assert record["max_displacement_px"] > 9
        read_rows, read_cols = np.divmod(warped, width)
        for read, length, side in ((read_rows, width, height), (read_cols, height, width)):
            # Each border row (column) is read by at most the two rows (columns) next to it.
            assert (read == 0).sum() <= 2 * length and (read == side - 1).sum() <= 2 * length, seed


def test_strength_is_at_most_three():
    # From about 10 on every object was dropped: pure background label maps.
    from napari_semia.errors import SemiaInputError
    from napari_semia.layout_sampler import MAX_STRENGTH

    assert LayoutSamplerSettings().scaled(MAX_STRENGTH).drop_probability <= 1
    with pytest.raises(SemiaInputError, match="0 to 3"):
        LayoutSamplerSettings().scaled(3.5)


def test_kept_surroundings_keep_nuclei_inside_cells():
    # Found by a new user: with nuclei alone as objects, layouts set nuclei down in
    # the space between cells, which no real image shows.
    labels = np.full((96, 96), BACKGROUND, np.int32)
    labels[8:88, 8:44] = CELL  # two large cells (scenery: background for the nuclei)
    labels[8:88, 52:88] = CELL
    yy, xx = np.mgrid[:96, :96]
    for cy, cx in [(24, 26), (64, 26), (30, 70), (70, 70)]:
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= 9] = NUCLEUS
    settings = LayoutSamplerSettings(object_ids=(NUCLEUS,), background_ids=(BACKGROUND, CELL),
                                     elastic_strength=0.0, max_shift=0.6, duplicate_probability=0.5)

    def outside(sampler):  # nucleus pixels outside the cells, over 30 layouts
        return sum(int(((layout == NUCLEUS) & (labels == BACKGROUND)).sum())
                   for layout in (sampler.sample(i).labels for i in range(30)))

    assert outside(LayoutSampler(labels, settings)) > 0  # what the user saw
    kept = LayoutSampler(labels, dataclasses.replace(settings, keep_surroundings=True))
    assert outside(kept) == 0
    layouts = [kept.sample(i) for i in range(30)]
    assert any("moved" in layout.summary or "duplicated" in layout.summary for layout in layouts)
    # Off, it is left out of the settings a dataset records (those recorded before match).
    assert "keep_surroundings" not in settings.to_dict()
    assert kept.settings.to_dict()["keep_surroundings"] is True
    assert LayoutSamplerSettings.from_dict(kept.settings.to_dict()) == kept.settings


def test_moved_objects_record_where_each_pixel_comes_from():
    # The full-resolution stage copies these pixels from there: small objects, found
    # by matching, came out faint (``known_sources``).
    source = cells_scene()
    shifts_only = dataclasses.replace(NO_WARP, rotate_probability=0.0, scale_probability=0.0,
                                      flip_probability=0.0, drop_probability=0.0,
                                      duplicate_probability=0.0, move_probability=1.0)
    layout = LayoutSampler(source, shifts_only).sample(0)
    positions = layout.source_positions
    assert positions.shape == (2, 64, 64) and positions.dtype == np.float32
    rows, cols = np.mgrid[:64, :64]
    known = ~np.isnan(positions[0])
    moved = [c for c in layout.record["changes"] if c["action"] == "moved"]
    assert moved and known.any()
    # Each known pixel comes from its instance's place, by the recorded shift.
    offsets = {(int(dy), int(dx)) for dy, dx in zip(rows[known] - positions[0][known],
                                                     cols[known] - positions[1][known])}
    assert offsets <= {tuple(c["shift"]) for c in moved}
    assert (source[positions[0][known].astype(int), positions[1][known].astype(int)]
            == layout.labels[known]).all()
    assert (layout.labels[known] != BACKGROUND).all()  # objects only; the background is matched

    # Flipped, rotated and scaled: the source pixel is of the pixel's class, but
    # for a few edge pixels (the class masks are resampled, the positions not).
    turned = LayoutSampler(source, dataclasses.replace(shifts_only, rotate_probability=1.0,
                                                       scale_probability=1.0, flip_probability=0.5))
    for index in range(3):
        layout = turned.sample(index)
        known = ~np.isnan(layout.source_positions[0])
        at = np.rint(layout.source_positions[:, known]).astype(int)
        agree = source[at[0].clip(0, 63), at[1].clip(0, 63)] == layout.labels[known]
        assert agree.mean() > 0.9, agree.mean()

    # Nothing moved: nothing known.
    assert LayoutSampler(source, LayoutSamplerSettings().scaled(0.0)).sample(0).source_positions is None
