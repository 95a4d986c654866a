"""A changed region's first copy follows the generator's output (guided_regions.py)."""

import numpy as np
import torch

import napari_semia.guided_regions as guided_regions
import napari_semia.refinement as refinement
from napari_semia.guided_regions import guided_region_offsets
from napari_semia.refinement import RefinementConfig, SourcePyramid, refine

N = 64
REGION = (slice(40, 52), slice(32, 44))


def _stripes():
    cols = np.arange(N)[None, :].repeat(N, 0)
    rows = cols.T
    vertical = np.where(cols % 6 < 3, 0.8, -0.8)
    horizontal = np.where(rows % 6 < 3, 0.8, -0.8)
    return rows, cols, vertical, horizontal


def _scene(region_texture: str):
    """Class 1 (left half): vertical stripes above, horizontal below; class 0 (right
    half): flat grey. The target grows class 1 by a block on the right of its lower
    half; the guide draws that block with ``region_texture`` ("vertical" or
    "horizontal") stripes, in phase with the source's."""
    rows, cols, vertical, horizontal = _stripes()
    classes = (cols < N // 2).astype(np.int64)
    rng = np.random.default_rng(0)
    image = np.where(rows < N // 2, vertical, horizontal)
    image = np.where(classes == 1, image, -0.2 + 0.02 * rng.standard_normal((N, N)))
    target = classes.copy()
    target[REGION] = 1
    guide = image.copy()
    guide[REGION] = (vertical if region_texture == "vertical" else horizontal)[REGION]

    def rgb(array):
        return torch.tensor(np.repeat(array[None], 3, 0), dtype=torch.float32)

    return rgb(image), torch.tensor(classes), torch.tensor(target), rgb(guide)


def _field(guide_texture: str | None, textured=(False, True), guide=None, queried=True):
    image, classes, target, scene_guide = _scene(guide_texture or "vertical")
    guide = scene_guide if guide is None else guide
    pyramid = SourcePyramid(image[None], classes[None], 2, (N, N), RefinementConfig())
    pyramid.plain = ~torch.tensor(textured)
    generator = torch.Generator().manual_seed(0)
    guided = None if guide_texture is None else (guide, torch.full((N, N), queried))
    fy, fx, coherent = refinement._initial_field(pyramid, target, generator, guided)
    return image, guide, fy, fx, coherent


def test_a_grown_region_starts_from_the_part_of_its_class_the_guide_draws():
    image, guide, fy, fx, coherent = _field(None)
    # Without a guide: the shortest copy, the horizontal stripes beside the block.
    assert (fy[REGION] >= N // 2).all()

    image, guide, fy, fx, coherent = _field("vertical")
    # With a guide of vertical stripes: copied from the upper half, in phase.
    assert (fy[REGION] < N // 2).all() and (fx[REGION] < N // 2).all()
    assert coherent[REGION].all()
    copied = image[:, fy[REGION].long(), fx[REGION].long()]
    assert torch.allclose(copied, guide[:, REGION[0], REGION[1]])


def test_a_region_whose_copy_agrees_or_whose_class_is_plain_keeps_it():
    image, _, shortest_y, shortest_x, _ = _field(None)
    # A guide that draws the block as its shortest copy gives it.
    agreeing = image[:, shortest_y.long(), shortest_x.long()]
    _, _, fy, fx, _ = _field("vertical", guide=agreeing)
    assert torch.equal(fy, shortest_y) and torch.equal(fx, shortest_x)
    # So does one a little closer to another copy (the vertical stripes: 0.48² against
    # 0.52² of the stripes' difference, above SWITCH): a region moves only where its
    # copy disagrees clearly more than the best one.
    _, _, _, vertical_guide = _scene("vertical")
    nearly = agreeing.clone()
    rows, cols = REGION
    nearly[:, rows, cols] = 0.48 * agreeing[:, rows, cols] + 0.52 * vertical_guide[:, rows, cols]
    _, _, fy, fx, _ = _field("vertical", guide=nearly)
    assert torch.equal(fy, shortest_y) and torch.equal(fx, shortest_x)
    # A plain class keeps its shortest copy whatever the guide draws; so do pixels
    # whose query is not the guide (an object left there: the guide keeps its ghost).
    for textured, queried in (((False, False), True), ((False, True), False)):
        _, _, fy, fx, _ = _field("vertical", textured=textured, queried=queried)
        assert torch.equal(fy, shortest_y) and torch.equal(fx, shortest_x)


def test_guided_offsets_report_the_pixels_they_move():
    image, classes, target, guide = _scene("vertical")
    grid = torch.arange(N, dtype=torch.int32)
    ys, xs = torch.meshgrid(grid, grid, indexing="ij")
    fy, fx = ys.clone(), xs.clone()
    fx[REGION] -= 8  # the shortest copy: the horizontal stripes beside the block
    textured = torch.tensor([False, True])
    new_y, new_x, moved = guided_region_offsets(classes, target, classes, target, image, guide,
                                                fy, fx, textured)
    assert moved[REGION].all() and moved.sum() == moved[REGION].numel()
    assert new_y.dtype == fy.dtype and torch.equal(new_y[~moved], fy[~moved])
    copied = image[:, new_y[REGION].long(), new_x[REGION].long()]
    assert torch.allclose(copied, guide[:, REGION[0], REGION[1]])


def test_guided_offsets_leave_unchanged_layouts_and_small_regions_alone():
    image, classes, _, guide = _scene("vertical")
    ys, xs = torch.meshgrid(torch.arange(N), torch.arange(N), indexing="ij")
    textured = torch.tensor([False, True])
    fy, fx, moved = guided_region_offsets(classes, classes, classes, classes, image, guide, ys, xs, textured)
    assert not moved.any() and torch.equal(fy, ys) and torch.equal(fx, xs)
    tiny = classes.clone()
    tiny[45:46, 32:34] = 1  # two pixels: below MIN_PIXELS
    _, _, moved = guided_region_offsets(classes, tiny, classes, tiny, image, guide, ys, xs, textured)
    assert not moved.any()


def test_refine_asks_for_guided_copies_only_with_a_guide_and_the_option_on(monkeypatch):
    calls = []
    real = refinement.guided_region_offsets

    def recording(*args, **kwargs):
        calls.append(args[9] if len(args) > 9 else kwargs.get("queried"))
        return real(*args, **kwargs)

    monkeypatch.setattr(refinement, "guided_region_offsets", recording)
    image, classes, target, guide = _scene("vertical")
    # An island of class 1 in class 0, erased by the target: vacated, the guide's ghost.
    classes[8:14, 48:54] = 1
    for guide_given, option, expected in ((True, True, 1), (True, False, 0), (False, True, 0)):
        calls.clear()
        refine(image[None], classes[None], target[None], guide[None] if guide_given else None,
               num_classes=2, config=RefinementConfig(guided_regions=option, start_size=N))
        assert len(calls) == expected
    calls.clear()
    refine(image[None], classes[None], target[None], guide[None], num_classes=2,
           config=RefinementConfig(start_size=N))
    queried = calls[0]
    assert queried[REGION].all() and not queried[8:14, 48:54].any()


def test_the_local_search_finds_a_phase_the_search_size_cannot_step_to(monkeypatch):
    """Candidate shifts are found at a coarser size than level 0 (here half: even
    shifts only); the guide asks for the vertical stripes one column out of phase,
    which only an odd shift copies. The search around the chosen shift finds it."""
    image, classes, target, _ = _scene("vertical")
    _, cols, _, _ = _stripes()
    guide = image.clone()
    out_of_phase = torch.tensor(np.where((cols - 1) % 6 < 3, 0.8, -0.8), dtype=torch.float32)
    guide[:, REGION[0], REGION[1]] = out_of_phase[REGION]
    grid = torch.arange(N, dtype=torch.int32)
    ys, xs = torch.meshgrid(grid, grid, indexing="ij")
    fx = xs.clone()
    fx[REGION] -= 8  # the shortest copy: the horizontal stripes beside the block
    textured = torch.tensor([False, True])

    def copied_after_guiding():
        new_y, new_x, moved = guided_region_offsets(classes[::2, ::2], target[::2, ::2], classes, target,
                                                    image, guide, ys, fx, textured)
        assert moved[REGION].all()
        return image[:, new_y[REGION].long(), new_x[REGION].long()]

    wanted = guide[:, REGION[0], REGION[1]]
    assert torch.allclose(copied_after_guiding(), wanted)
    # Without the local search the copy is the best even shift: a column off.
    monkeypatch.setattr(guided_regions, "LOCAL_REACH", 0)
    off = (copied_after_guiding() != wanted).float().mean()
    assert 0.3 < off < 0.4
