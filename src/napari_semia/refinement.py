"""Full-resolution refinement: the target layout rebuilt from the source's own patches.

The generator works at the working size (longest side 256 px); upsampled, its
output is a soft thumbnail. This stage rebuilds the image, level by level from
the working size up to the source's full size, out of *real source patches of
the class the target asks for* (label-constrained patch correspondence, as in
"image analogies" / "texture by numbers" and GPNN).

* Where the layout does not change (farther than ``identity_margin`` from any
  change), every pixel keeps its own source pixel: the source stays the source.
* Level 0 (the working size): every other pixel is matched to a source pixel
  whose class is the target's class there, by the distance between the patches
  around them. The query (what the patches should look like) is the
  generator's output (the *guide*), so the network decides what goes where and
  what new content looks like; except where an object left and the class
  around it closes over the gap (*vacated* pixels): the generator's output
  keeps a ghost of what was removed there, so the query is the source copied
  from elsewhere in that class. The nearest-neighbour field starts from the
  identity where the layouts agree and from one coherent shift per changed
  region onto source texture of its class (``region_fill.region_shifts``);
  with a guide, a region of a textured class that queries it, whose shortest
  shift copies something the guide does not show (legs added under a belly
  copying the belly beside them), starts from the copy of its class that
  agrees with the guide instead (``guided_regions.py``).
* Every finer level (at most ``max_level_factor`` larger) starts from the
  upsampled field of the level below and queries the upsampled result of that
  level against a source blurred the same way (down- and upsampled through
  the coarser level): blurred queries are compared with blurred keys, and sharp
  source pixels are copied.
* A level's image is rebuilt by voting: each pixel averages the source pixels
  that the matched patches covering it put there. Level 0 counts only those of
  the target's class at the pixel and votes over the whole patch; finer levels,
  and the last vote of all, vote over 3 x 3 and let both sides of a class edge
  blend, as in the source.

* Where the source has a class edge nearer than the target has (an edge that
  the target paints over or moves away: a raised hairline, a moved tree's old
  outline, enlarged lips), pixels of *plain* classes (skin, sky) take source
  pixels at least as deep inside their class as they are inside the target's
  (up to ``outline_reach``; ``outline_depth``), and level 0 queries the
  generator's output smoothed over there (from pixels that are not vacated:
  its ghost is there), vacated pixels their copies smoothed likewise: the
  source's shadow or fringe along the old edge is labelled as the class
  beside it and would otherwise stay as a line (the generator redraws it, and
  a vacated pixel by an erased eye copies its own eyelid).
* Where the target takes a class away from around a pixel (a gland moved off,
  a tree removed), the pixel takes a source pixel with none of that class
  within ``fringe_reach``, in every class, and level 0 queries its class
  around it there: a class's fringe, labelled as the class beside it (a
  gland's brown halo in the stroma), would otherwise trace the old outline
  (``outline_depth.fringes_to_avoid``).

* Where the target moves a class edge, the pixels within ``edge_reach`` of the
  new edge start from the source pixel at the same place relative to the
  nearest source edge between the same two classes (``edge_profiles``): a
  slimmed jaw keeps its shadow, a moved crown its ragged rim, instead of
  pixels that keep their own look or copy from inside their class.

* Where the target paints an object larger (taller towers, fuller lips),
  level 0 queries the source object stretched over it once, the pixels that
  kept their class too (``scaled_components``): shifted copies cover a larger
  object only by stacking, and each brings the object's rim and structure.

* At the end of each level, seams between copied pixels and pixels that keep
  their own source pixel are evened out per class: the step in mean colour
  across the seam, shrunk by how far it stands out of the texture's variation,
  is spread smoothly over the copied pieces (a piece of sky copied from higher
  up takes the tone of the sky around it; stripes and grass stay as copied).

Matching is PatchMatch (propagation with doubling jumps, random search around
the current match, random source pixels of the right class), preceded at
level 0 by an exact search among an even sample of each class's source
patches (small source regions such as a tail or an eye are rarely hit by
chance), vectorised in torch on the model's device. A candidate's cost is its
patch distance in a small feature space (a PCA of the source's patches, as a
convolution, plus the blurred one-hot layout around the pixel, so edges match
edges between the same classes) plus a coherence term that keeps neighbours on
one offset, so that stochastic textures are copied in coherent pieces rather
than averaged into a blur. The work at one level runs in tiles, so memory
beyond a few image-sized arrays is O(tile), and time grows linearly with the
pixels. The features and a source level are ``patch_features``, the search
``patch_match``, the vote ``patch_vote``; moved objects are carried up the
levels by ``moved_components``, edge profiles by ``edge_profiles``, seams are
evened out by ``seam_evening``, and fields are carried by ``offset_fields``.
This module decides, level by level, what each pixel queries and where its
match starts.

Without a guide (``guide=None``), the source copied along the initial field is
the query everywhere: refinement from the label map alone, a baseline that
shows what the generator adds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from .edge_profiles import edge_pieces_beside, edge_profile_field, pieces_containing
from .errors import SemiaInputError
from .guided_regions import guided_region_offsets
from .known_sources import level_pins, pin, resampled, small_moves
from .layout_tensors import resize_index
from .moved_components import moved_at_level, moved_copies, moved_regions
from .offset_fields import dilate, enlarge, grid, upsample_field
from .outline_depth import (
    class_bits_dtype,
    class_depths,
    classes_near,
    depth_in_class,
    fringes_to_avoid,
    required_depth,
    visible_fringes,
    within_supply,
)
from .patch_features import FeatureSpace, SourceLevel, class_dtype, source_keys
from .patch_match import match_level, random_of_class
from .patch_vote import DetailSplit, LinearUnits, detail_interior, vote_level
from .push_pull import fill_holes
from .region_fill import connected_components, region_shifts
from .scaled_components import scaled_up_components
from .seam_evening import even_out_seams
from .seam_fusion import (
    class_gradients,
    classes_within,
    fuse,
    inner_variation,
    pixel_scale_textured,
    rim_free,
)


@dataclass(frozen=True)
class RefinementConfig:
    patch_size: int = 7
    """Side of the compared patches, at every level."""
    feature_dims: int = 8
    """PCA components of the image patches used for matching."""
    label_dims: int = 6
    """Most channels of blurred layout features; more classes are projected down to this."""
    label_weight: float = 0.3
    """How much the layout around a pixel counts in a match: a full class swap
    over the patch alone costs as much as this RMS intensity difference (network
    units); over the patch and the 3 x 3 pixels around its centre, the sum of this
    and ``centre_label_weight``."""
    centre_label_weight: float = 3.0
    """How much the layout right around a pixel (its 3 x 3 neighbours) counts on
    top of ``label_weight``'s patch-wide class shares, in the same units: a copied
    class edge then lies where the target's edge is, to the pixel. The patch-wide
    shares barely tell an edge through the centre from one a pixel or two aside, so
    copied edges wandered about the target's (a zebra's leg two pixels thinner in
    places, a horizon's first row of sky): measured, not guessed, in
    benchmarks/README ("Copied edges on the target's edges"). 0 turns it off."""
    sampled_candidates: int = 2048
    """Level 0 first compares every other pixel with this many source pixels of its
    class (an even sample; exact search), then PatchMatch refines; 0 skips it."""
    coherence_weight: float = 0.4
    """Preference for keeping a neighbour's offset: all four neighbours on other
    offsets cost like this RMS intensity difference (network units)."""
    max_level_factor: float = 2.0
    """Largest scale step between two levels."""
    start_size: int = 256
    """Longest side of level 0 when there is no guide (with a guide: the guide's size)."""
    first_level_iterations: int = 3
    """Match-and-vote rounds at level 0 (the first queries the guide, the next ones the result)."""
    level_iterations: int = 1
    """Match-and-vote rounds at every finer level."""
    first_level_rounds: int = 4
    """PatchMatch rounds (propagation + random search over the whole source) of
    level 0's first iteration."""
    level_rounds: int = 1
    """PatchMatch rounds (propagation + local random search) of every other iteration."""
    fine_vote_radius: int = 1
    """Vote window radius above level 0 (smaller is faster and crisper at seams);
    level 0 votes over the whole patch, within the target's class."""
    keep_detail: bool = True
    """The result's last vote averages only the copies' smooth part and sums their
    detail so that its variance is kept (``patch_vote.DetailSplit``): an
    average of copies from different places flattened grain and noise (a refilled
    sky at 0.64 of the real sky's noise). False averages whole values."""
    edge_margin: int = 0
    """Matched pixels whose class the target changes, or whose target neighbourhood
    within this many (level) pixels is one class, take source pixels at least this
    far inside their class, where the class has such pixels: hand-drawn labels miss
    the image's edges by a pixel or two, so a painted band copied from the source's
    class rim carries the other class's colour along, and sky left where a tree was
    removed keeps a fringe of leaves; 0 allows any pixel of the class."""
    outline_reach: int = 6
    """Pixels nearer a class edge in the source than in the target (an old
    hairline painted over, a moved tree's old outline, lips enlarged) take source
    pixels at least as deep inside their class as they are inside the target's
    class, counting up to this many level-0 pixels (never deeper than the class
    has pixels), and level 0 queries the generator's output there smoothed over:
    the source's own shadow or fringe along that edge (labelled as the class
    beside it) would otherwise stay as a line where nothing borders any more.
    Only in *plain* classes (``outline_max_gradient``; ``outline_depth``). 0
    lets them take any pixel."""
    fringe_reach: int = 3
    """Where the target takes a class away from around a pixel (a gland moved off,
    a tree removed), the pixel copies a source pixel with none of that class within
    this many level-0 pixels, as far as enough pixels of its class are (of every
    class, textured or plain): the class's fringe, labelled as the class around
    it (a gland's brown halo in the stroma, leaves' tint in the sky), would
    otherwise trace the old outline. 0 turns it off (so do more than 63 classes)."""
    fringe_min_contrast: float = 1.0
    """Only fringes that show count for ``fringe_reach``: the class's mean colour
    near the other class differs from its mean elsewhere by at least this many
    of its standard deviations (a gland's halo in stroma: 1.2; grass by a zebra:
    0.5, where asking for grass away from the zebra only costs texture)."""
    edge_reach: int = 4
    """Pixels within this many level-0 pixels of a class edge of the target, near a
    change, start from the source pixel at the same place relative to the nearest
    source edge between the same two classes (``edge_profiles``): a moved edge keeps
    its look (a slimmed jaw its shadow, a moved crown its ragged rim), where copies
    from inside the class would leave it bare and the generator's guess is soft.
    Those copies, and the pieces matched on from them, are left out of evening out
    seams: they differ from the pixels around as the edge does. 0 turns it off.
    At 3, face 5's jaw shadow (about 5 px in the source) was only partly covered:
    its inner rows were matched from elsewhere along the stubble and evening out
    seams lit some of them up into a row of pale dots."""
    guided_regions: bool = True
    """With the generator's output, each changed region of a *textured* class
    (``outline_max_gradient``) where that output is the query (not vacated) starts
    from the copy of its class, among those that land nearly all of it on the
    class, that agrees best with that output, where the shortest copy clearly does
    not (``guided_regions.py``): the shortest copy is whatever lies beside the
    region, so legs added under a zebra's belly started from (and, matched
    coherently, kept) a patchwork of the belly's stripes. False: the shortest."""
    move_regions: bool = True
    """Target regions of a class that are a source region of that class moved
    (same size, elsewhere) start from, and query, that region copied whole by
    the offset, their kept pixels too (``moved_components``): copied in only
    where they are new, a cup slid over its old place kept its old half and
    stacked pieces of itself onto the new one."""
    scale_regions: bool = True
    """Target regions of a class that are the source's object of that class scaled
    up (taller towers, fuller lips) query that object stretched over them,
    rather than shifted copies stacked over them (``scaled_components``):
    stacked copies repeat the object's parts inside it (a tower's crown twice)."""
    outline_max_gradient: float = 0.3
    """Classes where nine in ten differences between neighbouring source pixels are
    at most this (as ``fusion_max_gradient``; skin, sky, walls, a plain
    background, but not hair, grass, leaves or stripes) are *plain*, for
    ``outline_reach``: in a textured class the rule costs structure (a zebra's
    neck copied from deep inside its body loses its own stripes)."""
    outline_max_texture: float = 0.8
    """... and, away from their edges, at most this many times the class's spread
    (the sum over channels of its standard deviation; ``pixel_scale_textured``): a
    class whose pixels differ from their neighbours about as much as from its mean
    varies at the pixel scale (gravel, grains, noise), not by shading (skin, sky),
    and is textured whatever its contrast. A grey matrix of gravel beside bright
    grains and dark pores, low in contrast, was judged plain: asked for pixels deep
    inside it and queried smoothed, large rebuilt parts of it came out as flat grey
    patches. inf turns this off."""
    outline_noise_ratio: float = 1.7
    """... unless above this many times: such a class varies like noise
    (uncorrelated neighbours read about 2.3; a fluorescence background 1.9-2.0),
    which copying from deep inside does not flatten, and it stays plain (a
    shadow in a noisy light field is still an old outline to remove); gravel
    reads 1.1-1.5."""
    seam_radius: int = 8
    """Half-window (in level-0 pixels, scaled with the level) over which the mean
    colour on both sides of a seam between copied pixels and pixels that keep
    their own source pixel is compared, per class; the difference is spread
    smoothly over the copied pixels, so a piece of sky copied from higher up
    matches the sky around it. 0 leaves seams as copied."""
    fusion_max_gradient: float = 0.1
    """Classes where nine in ten differences between neighbouring source pixels
    (network units, summed over channels, at the working size) are at most this are *smooth*
    (sky, walls): at the end of each level their copied pixels are re-solved
    from the source's gradients (``seam_fusion``), so that pieces copied from
    brighter or darker parts of the class leave no patchwork. 0 turns it off."""
    fusion_shaded_gradient: float = 0.13
    """... and so are classes up to this that vary by shading, not at the pixel
    scale (``pixel_scale_textured`` with ``outline_max_texture``): a fundus (0.114,
    its neighbour steps 0.15 of its spread) was left out at 0.1, and a refill of
    its erased vessels kept an off-colour block. Not noise (steps about twice the
    spread): integrated, its copies drift (a noise background refilled half a
    standard deviation too bright). Measured: skies 0.06-0.10; not smooth, face's
    background and skin 0.16-0.19, a star field's noisy sky 0.17, grass, stripes
    and hair 0.3 and more."""
    fusion_iterations: int = 300
    """Conjugate-gradient iterations of that solve at level 0 (a fifth of them at
    every finer level, which starts from the level below's solution)."""
    identity_margin: int | None = 8
    """Pixels farther than this (in level-0 pixels) from every layout change keep
    their own source pixel, so what the edit does not touch stays the source
    (and costs nothing); None matches every pixel."""
    tile: int = 512
    """Side of the square tiles the work at one level is split into."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.patch_size % 2 != 1 or self.patch_size < 3:
            raise ValueError("patch_size must be odd and at least 3")
        if self.max_level_factor <= 1.0:
            raise ValueError("max_level_factor must be above 1")
        if self.tile < 32:
            raise ValueError("tile must be at least 32")
        if not 0 <= self.outline_reach < 256:
            raise ValueError("outline_reach must be between 0 and 255")
        if not 0 <= self.fringe_reach <= 64:
            raise ValueError("fringe_reach must be between 0 and 64")
        if self.fringe_min_contrast < 0:
            raise ValueError("fringe_min_contrast must not be negative")
        if not 0 <= self.edge_reach <= 64:
            raise ValueError("edge_reach must be between 0 and 64")
        if self.fusion_shaded_gradient < 0:
            raise ValueError("fusion_shaded_gradient must not be negative")

    def replace(self, **changes) -> RefinementConfig:
        return replace(self, **changes)


# ------------------------------------------------------------------ levels
#: About the shares of a pass's time that matching, voting and (after a level's
#: last pass) evening out seams take (the solve of smooth classes the rest), for
#: progress.
_MATCH_SHARE, _VOTE_SHARE, _SEAM_SHARE = 0.5, 0.1, 0.25


def level_shapes(full_shape, start_shape, max_factor: float = 2.0) -> list[tuple[int, int]]:
    """Level sizes from ``start_shape`` up to ``full_shape``, a geometric series with
    steps of at most ``max_factor``; a single level when the two are equal."""
    full_h, full_w = (int(v) for v in full_shape)
    start_h, start_w = (int(v) for v in start_shape)
    ratio = max(full_h / start_h, full_w / start_w)
    steps = max(0, math.ceil(math.log(ratio) / math.log(max_factor) - 1e-9)) if ratio > 1 else 0
    if steps == 0:
        return [(full_h, full_w)]
    shapes = []
    for i in range(steps + 1):
        t = i / steps
        shapes.append((round(start_h * (full_h / start_h) ** t), round(start_w * (full_w / start_w) ** t)))
    shapes[-1] = (full_h, full_w)
    return shapes


def resize_labels(index: torch.Tensor, shape, num_classes: int) -> torch.Tensor:
    """(H, W) class indices -> (h, w) by area majority (nearest when enlarging):
    ``layout_tensors.resize_index`` of one map, in its dtype."""
    return resize_index(index[None], shape, num_classes)[0].to(index.dtype)


def _resize_image(image: torch.Tensor, shape) -> torch.Tensor:
    """(C, H, W) -> (C, h, w): antialiased when shrinking, bilinear when enlarging."""
    shape = tuple(int(v) for v in shape)
    if tuple(image.shape[-2:]) == shape:
        return image
    shrink = shape[0] < image.shape[-2] or shape[1] < image.shape[-1]
    return F.interpolate(image[None], size=shape, mode="bilinear", align_corners=False,
                         antialias=shrink)[0]


# ------------------------------------------------------------- source side
@dataclass
class _Level0Rules:
    """What level 0 decides, from the edit at the working size, for every level:
    judged once and enlarged to each finer level, so that every level follows
    one decision (and none pays for it at its own size)."""

    free: torch.Tensor | None
    """(h, w) bool: the pixels within ``identity_margin`` of a change (None: all)."""
    required_depth: torch.Tensor | None
    """(h, w) uint8: how deep inside its class each pixel's copy must be (None: no rule)."""
    fringes_avoided: torch.Tensor | None
    """(h, w) bit sets of the classes whose fringe each pixel must not carry (None: no rule)."""


@dataclass
class _CarriedUp:
    """What one level of a refinement leaves to the next."""

    output: torch.Tensor | None = None
    """(C, h, w): the level's result, the next level's query (upsampled)."""
    fy: torch.Tensor | None = None
    fx: torch.Tensor | None = None
    """(h, w): the source row and column each pixel copies."""
    rules0: _Level0Rules | None = None
    profiles0: torch.Tensor | None = None
    """Level-0 pixels that carry a moved edge's profile (set at level 0)."""
    moves0: object | None = None
    """Level-0 moved regions and their offsets (``moved_regions``; set at level 0)."""
    correction: torch.Tensor | None = None
    """Seam fusion's change at the level below."""


class _RefinementProgress:
    """``progress(fraction)`` of a refinement: the work done, by pixels, a pass at a
    time and, within a pass, by its steps (matching, voting, seams, fusion)."""

    def __init__(self, progress: Callable[[float], None] | None, total: float) -> None:
        self.progress = progress
        self.done, self.total = 0.0, float(total)

    def checkpoint(self) -> None:
        """A chance to abandon between a level's steps (each takes a second or more
        at tens of megapixels)."""
        if self.progress is not None:
            self.progress(self.done / self.total)

    def within(self, span: float, start: float, share: float) -> Callable[[float], None] | None:
        """For a step of the current pass (``span`` of work) that begins ``start`` of
        the way through it and takes ``share`` of it: its own fraction's report."""
        if self.progress is None:
            return None
        done, progress, total = self.done, self.progress, self.total
        return lambda fraction: progress((done + span * (start + share * fraction)) / total)

    def advance(self, span: float) -> None:
        """A pass is done."""
        self.done += span
        self.checkpoint()


class SourcePyramid:
    """Everything the refinement needs from one source, per level; built once per
    source (and level-0 size), then :meth:`refine` serves any number of targets.

    ``source_image``: (1, C, H, W) in network space; ``source_index``: (1, H, W)
    class indices; ``start_shape``: level 0's size (the generator's working size);
    ``excess``: (C, H, W), what the network space clipped off the source's values
    (``IntensityNormalizer.excess``), or None: the last vote adds it back, with
    the same field, so copies keep the source's real intensities.
    ``linear_units``: for a source the normaliser stretched, its votes average
    the data's own linear values (``patch_vote``); None: network values.

    ``progress(fraction)`` is called between the steps of every level (the
    fraction built, by pixels); it may raise to abandon the build, which takes
    seconds for a large source (6-7 s at 4096 x 4096 on two CPU cores).
    """

    def __init__(self, source_image: torch.Tensor, source_index: torch.Tensor, num_classes: int,
                 start_shape, config: RefinementConfig | None = None,
                 excess: torch.Tensor | None = None,
                 linear_units: LinearUnits | None = None,
                 progress: Callable[[float], None] | None = None) -> None:
        config = config or RefinementConfig()
        self.config = config
        self.linear_units = linear_units
        self.excess = None if excess is None else excess.float().reshape(excess.shape[-3], -1)
        self.num_classes = int(num_classes)
        image = source_image[0] if source_image.dim() == 4 else source_image
        index = source_index[0] if source_index.dim() == 3 else source_index
        self.full_shape = tuple(image.shape[-2:])
        self.shapes = level_shapes(self.full_shape, start_shape, config.max_level_factor)
        pixels = [h * w for h, w in self.shapes]

        def built(number: int, share: float) -> None:
            """Level ``number`` is ``share`` built (a rough share of its time)."""
            if progress is not None:
                progress((sum(pixels[:number]) + share * pixels[number]) / sum(pixels))

        # Each level is the next finer one shrunk (antialiased), so the blurred keys
        # of a level (its coarser level enlarged) are blurred the way queries are.
        images = [image.float()]
        for shape in reversed(self.shapes[:-1]):
            images.insert(0, _resize_image(images[0], shape))
            built(0, 0.0)  # a chance to stop: the resizes of a large source take a while
        self.levels: list[SourceLevel] = []
        self.smooth = self.plain = self.depth0 = self.near0 = self.near_wide0 = self.visible_fringes = None
        for number, (shape, level_image) in enumerate(zip(self.shapes, images)):
            level_index = resize_labels(index, shape, self.num_classes)
            if number == 0:
                self._judge_classes(level_image, level_index)
            self.levels.append(self._build_level(number, level_image, level_index, built))
            built(number, 1.0)

    def _judge_classes(self, image0: torch.Tensor, index0: torch.Tensor) -> None:
        """What is judged once, at level 0 (the working size), for every level: which
        classes are smooth (re-solved by seam fusion) or plain (copies from deep
        inside), each pixel's depth in its class, and the classes whose fringe shows
        near each pixel."""
        config, num_classes = self.config, self.num_classes
        gradients = class_gradients(image0, index0, num_classes)
        variation = inner_variation(image0, index0, num_classes)
        shaded = (classes_within(gradients, config.fusion_shaded_gradient)
                  & ~pixel_scale_textured(variation, config.outline_max_texture))
        self.smooth = (classes_within(gradients, config.fusion_max_gradient)
                       | (shaded & (config.fusion_max_gradient > 0)))
        self.plain = (classes_within(gradients, config.outline_max_gradient)
                      & ~pixel_scale_textured(variation, config.outline_max_texture,
                                              config.outline_noise_ratio))
        if config.outline_reach > 0:
            # Enlarged to the finer levels: a max filter of the reach scaled to a
            # 4096-px level would cost seconds.
            self.depth0 = depth_in_class(index0, config.outline_reach)
        if config.fringe_reach > 0 and class_bits_dtype(num_classes) is not None:
            near0 = classes_near(index0, config.fringe_reach, num_classes)
            self.visible_fringes = visible_fringes(image0, index0, near0, num_classes,
                                                   config.fringe_min_contrast)
            if bool(self.visible_fringes.any()):
                self.near0 = near0
                # For the query: a fringe fades out rather than ending.
                self.near_wide0 = classes_near(index0, 2 * config.fringe_reach, num_classes)

    def _build_level(self, number: int, level_image: torch.Tensor, level_index: torch.Tensor,
                     built: Callable[[int, float], None]) -> SourceLevel:
        """Level ``number`` of the source: its pixels, patch keys (sharp, and blurred
        as the coarser level enlarged), pixels by class, and the per-pixel rules
        judged at level 0, enlarged to its size. ``built(number, share)`` between
        steps (each takes seconds at tens of megapixels: chances to stop)."""
        config, num_classes = self.config, self.num_classes
        shape = self.shapes[number]
        first = number == 0
        features = FeatureSpace.fit(level_image, num_classes, patch_size=config.patch_size,
                                    feature_dims=config.feature_dims, label_dims=config.label_dims,
                                    label_weight=config.label_weight,
                                    centre_label_weight=config.centre_label_weight)
        built(number, 0.2)
        iterations = config.first_level_iterations if first else config.level_iterations
        blurred_keys = None
        if not first:
            blurred = _resize_image(_resize_image(level_image, self.shapes[number - 1]), shape)
            blurred_keys = source_keys(blurred, level_index, features, num_classes,
                                       on_strip=lambda done: built(number, 0.2 + 0.25 * done))
            del blurred
        sharp_keys = None
        if first or iterations > 1:
            sharp_keys = source_keys(level_image, level_index, features, num_classes,
                                     on_strip=lambda done: built(number, 0.45 + 0.25 * done))
        flat = level_index.flatten()
        order = torch.argsort(flat, stable=True).int()
        count = torch.bincount(flat, minlength=num_classes)
        start = torch.cumsum(count, 0) - count
        built(number, 0.75)
        interior = class_has_interior = None
        if config.edge_margin > 0:
            interior = rim_free(level_index, config.edge_margin).flatten()
            class_has_interior = torch.bincount(flat[interior], minlength=num_classes) > 0
        built(number, 0.85)
        depth = class_depth = None
        if self.depth0 is not None:
            depth = enlarge(self.depth0, shape)
            # Per level: a class too thin to show at level 0 has no depth of its own there.
            class_depth = class_depths(level_index, depth, num_classes)
            depth = depth.flatten()
        near = None if self.near0 is None else enlarge(self.near0, shape).flatten()
        built(number, 0.9)
        rim = rim_free(level_index) if bool(self.smooth.any()) else None
        # Where the result's last vote may keep the copies' detail (the last level's).
        texture_only = (detail_interior(level_index) if config.keep_detail and config.fine_vote_radius > 0
                        and number == len(self.shapes) - 1 else None)
        built(number, 0.95)
        return SourceLevel(
            shape=tuple(shape), pixels=level_image.reshape(level_image.shape[0], -1),
            classes=flat.to(class_dtype(num_classes)),
            features=features, blurred_keys=blurred_keys, sharp_keys=sharp_keys,
            class_order=order, class_start=start, class_count=count,
            interior=interior, class_has_interior=class_has_interior,
            rim_free=rim, depth=depth, class_depth=class_depth, near=near,
            detail_interior=texture_only,
        )

    @property
    def device(self) -> torch.device:
        return self.levels[0].pixels.device

    def _seam_factor(self, number: int) -> int:
        """How many times level ``number`` is larger than level 0 (seams are evened
        out on level-0 statistics)."""
        return max(1, round(self.shapes[number][0] / self.shapes[0][0]))

    def generator(self, seed: int | None = None) -> torch.Generator:
        """The random generator of one refinement: seeded with ``seed``, or the
        config's seed for None. Each target gets its own, so a result does not
        depend on the targets synthesized before it."""
        seed = self.config.seed if seed is None else seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
            raise SemiaInputError(f"The seed must be a whole number from 0 to 2**63 - 1; got {seed!r}.")
        return torch.Generator(device=self.device).manual_seed(int(seed))

    @torch.inference_mode()
    def refine(self, target_index: torch.Tensor, guide: torch.Tensor | None = None, *,
               generator: torch.Generator | None = None,
               source_positions: torch.Tensor | None = None,
               progress: Callable[[float], None] | None = None) -> torch.Tensor:
        """The target layout (``target_index``: (1, H, W) or (H, W) class indices at the
        source's size) rebuilt from this source's patches: (1, C, H, W). ``guide``:
        the generator's (1, C, h, w) output at level 0's size, or None for the label
        map alone. Deterministic for ``config.seed`` (or ``generator``).
        ``source_positions``: (2, H, W) float, the source row and column each target
        pixel is known to come from (NaN where unknown; ``known_sources``): those
        pixels copy it.

        ``progress(fraction)`` is called after every pass over a level (the
        fraction of the work done, by pixels); it may raise to abandon the
        refinement, e.g. when a newer request has made this one useless."""
        target_full = target_index[0] if target_index.dim() == 3 else target_index
        self._check_inputs(target_full, guide, source_positions)
        if generator is None:
            generator = self.generator()
        if source_positions is None:
            source_positions = self._small_moves(target_full)
        passes = [(self.config.first_level_iterations if number == 0 else self.config.level_iterations)
                  * level.shape[0] * level.shape[1] for number, level in enumerate(self.levels)]
        meter = _RefinementProgress(progress, sum(passes))
        carried = _CarriedUp()
        for number, level in enumerate(self.levels):
            self._refine_level(number, level, target_full, guide, source_positions, generator,
                               carried, meter, passes[number])
        return carried.output[None]

    def _check_inputs(self, target_full: torch.Tensor, guide: torch.Tensor | None,
                      source_positions: torch.Tensor | None) -> None:
        if tuple(target_full.shape) != self.full_shape:
            raise ValueError(f"target of size {tuple(target_full.shape)}, source of size {self.full_shape}")
        if guide is not None and tuple(guide.shape[-2:]) != self.shapes[0]:
            raise ValueError(f"guide of size {tuple(guide.shape[-2:])}, level 0 of size {self.shapes[0]}")
        if source_positions is not None and tuple(source_positions.shape) != (2, *self.full_shape):
            raise ValueError(f"source positions of shape {tuple(source_positions.shape)}, "
                             f"source of size {self.full_shape}")

    def _small_moves(self, target_full: torch.Tensor) -> torch.Tensor | None:
        """Where objects moved by hand that are too small for level 0 to see come
        from (``known_sources.small_moves``), or None."""
        if not self.config.move_regions or len(self.levels) == 1:
            return None
        h0, w0 = self.shapes[0]
        found = small_moves(_host_layouts(self.levels[-1], target_full), h0 * w0)
        return None if found is None else torch.from_numpy(found).to(self.device)

    def _refine_level(self, number: int, level: SourceLevel, target_full: torch.Tensor,
                      guide: torch.Tensor | None, source_positions: torch.Tensor | None,
                      generator: torch.Generator, carried: _CarriedUp, meter: _RefinementProgress,
                      work: float) -> None:
        """One level: its field started (level 0) or carried up from the level below,
        then ``iterations`` passes of matching and voting; the last pass evens out
        seams and re-solves smooth classes. Leaves the level's field and output in
        ``carried``."""
        config, num_classes = self.config, self.num_classes
        first = number == 0
        last_level = number == len(self.levels) - 1
        target = resize_labels(target_full, level.shape, num_classes)
        changed = level.classes.view(level.shape) != target
        if first:
            carried.rules0 = self._level0_rules(level, target, changed)
        meter.checkpoint()
        free, depth_needed, fringes_avoided = self._rules_at(level, target, changed, carried.rules0, first)
        meter.checkpoint()
        if first:
            fy, fx, query, carried.profiles0, carried.moves0 = self._start_level0(
                level, target, changed, free, guide, depth_needed, fringes_avoided, generator)
            iterations, rounds = config.first_level_iterations, config.first_level_rounds
        else:
            fy, fx = upsample_field(carried.fy, carried.fx, level.shape)
            meter.checkpoint()
            if carried.moves0 is not None and config.move_regions:
                fy, fx = moved_at_level(level, target, carried.moves0, fy, fx)
            query = _resize_image(carried.output, level.shape)
            iterations, rounds = config.level_iterations, config.level_rounds
        pins = None if source_positions is None else level_pins(source_positions, level, target)
        if pins is not None:
            free = free | pins[0]  # (a new tensor: level 0's band is not grown by them)
            pin(fy, fx, pins)
        ys, xs = grid(level.shape, fy.device)
        fy = torch.where(free, fy, ys)
        fx = torch.where(free, fx, xs)
        # What the votes average: the data's linear values for a stretched source.
        voted = level.pixels if self.linear_units is None else self.linear_units.to_linear(level.pixels)
        # Progress (and the chance to abandon) tile by tile: the full-size pass is
        # most of the work, seconds on a large image, and a caller waited for it to
        # end (Stop, a new stroke, closing the widget).
        span = work / iterations
        output = None
        for iteration in range(iterations):
            last_pass = iteration == iterations - 1
            keys = level.blurred_keys if (not first and iteration == 0) else level.sharp_keys
            wide = first and iteration == 0
            match_level(level, keys, query, target, free, fy, fx,
                        rounds if wide else config.level_rounds, wide, generator, num_classes,
                        coherence_weight=config.coherence_weight, edge_margin=config.edge_margin,
                        sampled_candidates=config.sampled_candidates, tile=config.tile,
                        depth_needed=depth_needed, fringes_avoided=fringes_avoided,
                        on_tile=meter.within(span, 0.0, _MATCH_SHARE))
            pin(fy, fx, pins)  # matching may have moved them: they copy their known pixel
            # Level 0 votes whole patches of the target's classes; the result's
            # last vote is the fine one, letting class edges blend as in the source
            # (also when level 0 is the source's own size).
            final = last_level and last_pass
            coarse_vote = first and not final
            radius = level.features.patch_size // 2 if coarse_vote else config.fine_vote_radius
            split = DetailSplit.of(voted, level) if final and config.keep_detail and radius > 0 else None
            output = self._vote(level, target, free, fy, fx, radius, coarse_vote, voted, pins, split,
                                meter.within(span, _MATCH_SHARE, _VOTE_SHARE))
            clipped = output
            if last_pass:
                output = self._finish_level(level, first, number, output, target, free, fy, fx, radius,
                                            carried, meter, span)
            if final and self.excess is not None:
                output += self._excess_vote(level, target, free, fy, fx, radius, coarse_vote, pins,
                                            split is not None, clipped, meter.within(span, 1.0, 0.0))
            query = output
            meter.advance(span)
        carried.fy, carried.fx, carried.output = fy, fx, output

    def _vote(self, level: SourceLevel, target: torch.Tensor, free: torch.Tensor, fy: torch.Tensor,
              fx: torch.Tensor, radius: int, coarse_vote: bool, voted: torch.Tensor, pins,
              split: DetailSplit | None, on_tile) -> torch.Tensor:
        """The level rebuilt from the field's copies: ``voted``'s patches averaged,
        pinned pixels resampled at their known positions, back in network values."""
        output = vote_level(level, target, free, fy, fx, radius, coarse_vote, self.config.tile,
                            voted, on_tile=on_tile, detail_split=split)
        output = resampled(output, voted, level.shape, pins)
        if self.linear_units is not None:
            # Back from linear values; the pixels no vote reached stay the
            # source's own, bit for bit (not through sinh and asinh).
            output = torch.where(dilate(free, radius), self.linear_units.from_linear(output),
                                 level.pixels.view(output.shape))
        return output

    def _finish_level(self, level: SourceLevel, first: bool, number: int, output: torch.Tensor,
                      target: torch.Tensor, free: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor,
                      radius: int, carried: _CarriedUp, meter: _RefinementProgress,
                      span: float) -> torch.Tensor:
        """After a level's last vote: seams evened out (not across pixels that carry
        a moved edge's profile), smooth classes re-solved."""
        exempt = None
        if carried.profiles0 is not None:
            if first:
                # With the pieces that matching grew from them (the shadow's
                # darker half under a slimmed jaw, beyond the reach).
                carried.profiles0 = pieces_containing(carried.profiles0, fy, fx)
                if level.depth is not None:
                    # And the pieces beside them that copy from a source edge too:
                    # matching copies the rest of a shadow from elsewhere along the
                    # old edge (face 5's jaw: evened out, a grey patch on the stubble).
                    carried.profiles0 |= edge_pieces_beside(level, carried.profiles0, fy, fx,
                                                            self.config.outline_reach)
            exempt = enlarge(carried.profiles0, level.shape)
        output = even_out_seams(output, target, fy, fx, self.config.seam_radius,
                                self._seam_factor(number), exempt,
                                on_step=meter.within(span, _MATCH_SHARE + _VOTE_SHARE, _SEAM_SHARE))
        fusion_start = _MATCH_SHARE + _VOTE_SHARE + _SEAM_SHARE
        output, carried.correction = self._fuse_smooth_classes(
            level, first, output, target, free, fy, fx, carried.correction, radius,
            on_iteration=meter.within(span, fusion_start, 1.0 - fusion_start))
        return output

    def _excess_vote(self, level: SourceLevel, target: torch.Tensor, free: torch.Tensor,
                     fy: torch.Tensor, fx: torch.Tensor, radius: int, coarse_vote: bool, pins,
                     keep_detail: bool, clipped: torch.Tensor, on_tile) -> torch.Tensor:
        """What the network space clipped off the copied pixels, to add back to the
        last vote. Matched, voted and evened out on clipped values, so a few outliers
        steer nothing; what was clipped off comes back with the copies. A stretched
        source votes its whole values in linear units too (a star's peak is mostly
        beyond the clip): their vote less the clipped one's (``clipped``, the last
        vote before seams were evened out)."""
        units = self.linear_units
        extra = self.excess if units is None else units.to_linear(level.pixels + self.excess)
        split = DetailSplit.of(extra, level) if keep_detail else None
        extra_voted = resampled(vote_level(level, target, free, fy, fx, radius, coarse_vote,
                                           self.config.tile, extra, on_tile=on_tile, detail_split=split),
                                extra, level.shape, pins)
        return extra_voted if units is None else units.from_linear(extra_voted) - clipped

    def _level0_rules(self, level: SourceLevel, target: torch.Tensor,
                      changed: torch.Tensor) -> _Level0Rules:
        """What level 0 decides for every level (see :class:`_Level0Rules`)."""
        config = self.config
        free = None if config.identity_margin is None else dilate(changed, config.identity_margin)
        required = None
        if config.outline_reach > 0:
            required = required_depth(self.depth0, target, config.outline_reach, level.class_depth,
                                      self.plain)
            required = within_supply(required, self.depth0, level.classes.view(level.shape), target,
                                     self.num_classes, free)
            required = required if bool(required.any()) else None
        avoided = None
        if self.near0 is not None:
            avoided = fringes_to_avoid(self.near0, level.classes.view(level.shape), target,
                                       config.fringe_reach, self.num_classes, self.visible_fringes)
            avoided = avoided if bool(avoided.any()) else None
        return _Level0Rules(free, required, avoided)

    def _rules_at(self, level: SourceLevel, target: torch.Tensor, changed: torch.Tensor,
                  rules0: _Level0Rules, first: bool):
        """``(free, depth_needed, fringes_avoided)`` at ``level``: which pixels are
        matched, how deep inside its class each one's match must be, and which
        classes' fringes it must not carry (the last two None when nothing asks)."""
        if rules0.free is None:
            free = torch.ones_like(changed)
        elif first:
            free = rules0.free  # the same tensor: level 0's start grows it in place
        else:
            # The level-0 band, plus changes too thin to show at level 0.
            free = enlarge(rules0.free, level.shape)
            free |= dilate(changed, level.features.patch_size // 2 + 1)
        depth_needed = None
        if rules0.required_depth is not None:
            # Never deeper than the class has pixels at this level (a thin class
            # drawn where level 0 saw the class around it).
            depth_needed = torch.minimum(torch.where(free, enlarge(rules0.required_depth, level.shape), 0),
                                         level.class_depth[target.long()])
        fringes_avoided = None
        if rules0.fringes_avoided is not None:
            # Only what the pixel's class at this level can avoid (a thin class
            # drawn where level 0 saw the class around it).
            fringes_avoided = enlarge(rules0.fringes_avoided, level.shape).masked_fill(~free, 0)
            fringes_avoided &= self.visible_fringes[target.long()]
        return free, depth_needed, fringes_avoided

    def _start_level0(self, level: SourceLevel, target: torch.Tensor, changed: torch.Tensor,
                      free: torch.Tensor, guide: torch.Tensor | None, depth_needed: torch.Tensor | None,
                      fringes_avoided: torch.Tensor | None, generator: torch.Generator):
        """Level 0's starting field and query: ``(fy, fx, query, profiles0)``, with
        ``profiles0`` the pixels that copy a moved edge's profile (or None).

        Adds to ``free`` in place (the caller's level-0 band ``free0``, which finer
        levels enlarge, is the same tensor) the regions rebuilt whole: moved or
        scaled up, their kept pixels too."""
        config, num_classes = self.config, self.num_classes
        profiles0 = None
        vacated = guided = None
        if guide is not None or fringes_avoided is not None:
            vacated = _vacated(target, changed, num_classes)
        if guide is not None and config.guided_regions:
            # Where the query will be the generator's output: not where an object
            # left, whose ghost it keeps (the query there is the copy itself).
            guided = (guide[0], ~vacated)
        fy, fx, coherent = _initial_field(self, target, generator, guided)
        host0 = None  # the layouts, copied once for the CPU helpers below
        if config.move_regions or config.scale_regions or config.edge_reach > 0:
            host0 = _host_layouts(level, target)
        moved0 = None
        if config.move_regions:
            moved0, moved_y, moved_x, moved_host = moved_copies(host0, target.device)
            if moved0 is not None:
                fy, fx = torch.where(moved0, moved_y, fy), torch.where(moved0, moved_x, fx)
                coherent |= moved0
                free |= moved0  # (in place) the whole region is copied, kept pixels too
        scaled0 = None
        if config.scale_regions:
            scaled0, stretched = _scaled_query(level, host0)
            if scaled0 is not None:
                free |= scaled0  # (in place) the whole region is rebuilt, kept pixels too
        if config.edge_reach > 0:
            # Not a moved region's pixels: their copy carries the object's own rim.
            fy, fx, profiles0 = edge_profile_field(host0, changed,
                                                    free if moved0 is None else free & ~moved0,
                                                    fy, fx, config.edge_reach)
            if profiles0 is not None:
                coherent |= profiles0
        # The source copied along the initial field (smooth where that is random):
        # the query without a guide, and with one where an object left and its
        # surroundings close over the gap (and a few pixels around, where the
        # generator also draws edges): the generator's output keeps a ghost of
        # what was removed there.
        copied = level.pixels.index_select(1, (fy * level.shape[1] + fx).flatten())
        query = fill_holes(copied.view(-1, *level.shape), ~coherent)
        copies = query
        if vacated is not None:
            vacated |= dilate(vacated, _GHOST_REACH) & ~changed
        if guide is not None:
            guide0 = guide[0].float()
            if depth_needed is not None:
                # Not from vacated pixels: the generator's ghost is there.
                guide0 = _without_old_outlines(guide0, depth_needed > 0, target, ~vacated)
            # (A moved edge's profile copies only start the match where the
            # query is the generator's: queried as copied, the changed pixels
            # of a moved blob matched worse, patch distance 0.045 against 0.03.)
            query = torch.where(vacated, query, guide0)
        if scaled0 is not None:
            query = torch.where(scaled0, stretched, query)
        if depth_needed is not None:
            # Copies that must come from deep inside their class query a smooth
            # fill as well: a vacated pixel's query is its copy, which by an
            # erased eye is its own source pixel, the eyelid's dark line (and
            # matched from deep skin, that line came back as a grey outline).
            # Filled from the pixels that are no copy of a vacated area (the
            # area's own copy may come from a darker part of the class). Without
            # a guide every query is a copy.
            smoothed, known = depth_needed > 0, None
            if guide is not None:
                smoothed, known = smoothed & vacated, ~vacated
            if profiles0 is not None:
                smoothed &= ~profiles0
            query = _without_old_outlines(query, smoothed, target, known)
        if fringes_avoided is not None:
            # Pixels that must lose a fringe and would query it (their own source
            # pixel, or the one an object's leaving copied them from) query their
            # class around them instead. Not the generator's new objects: a sky
            # hole in foliage would query its rim, tinted by the leaves; nor
            # vacated pixels copied from elsewhere: a field erased to sky
            # would query a smooth guess instead of real sky.
            # (Within twice the reach: ``near_wide0``.)
            copied_from = (fy * level.shape[1] + fx).flatten().long()
            from_fringe = (self.near_wide0.flatten().index_select(0, copied_from).view(level.shape)
                           & fringes_avoided) != 0
            refill = from_fringe & (vacated | ~changed)
            if profiles0 is not None:
                refill &= ~profiles0
            query = _without_old_outlines(query, refill, target)
        if moved0 is not None:
            query = torch.where(moved0, copies, query)  # the object itself, whole
        moves0 = moved_regions(*moved_host) if moved0 is not None else None
        return fy, fx, query, profiles0, moves0

    def _fuse_smooth_classes(self, level: SourceLevel, first: bool, output: torch.Tensor,
                             target: torch.Tensor, free: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor,
                             correction: torch.Tensor | None, vote_radius: int, on_iteration=None):
        """``output`` with the free pixels of smooth classes re-solved (``seam_fusion``),
        and the change made (the next level's first guess, upsampled); the
        change of the level below (``correction``) is this level's first guess.
        ``vote_radius``: how far the last vote reached past the free pixels;
        ``on_iteration``: as ``seam_fusion.fuse``'s."""
        total = self.config.fusion_iterations
        # Above level 0, a fifth (at least one, unless the solve is off).
        iterations = total if first else -(-total // 5)
        if level.rim_free is None or iterations <= 0:
            return output, None
        # The vote mixed the copied pieces into the kept pixels next to them: those are
        # solved too, so that the solve is bounded by pixels that are the source's own
        # (bounded by the mixed ones, a pale band copied down to a horizon kept a
        # step at its top).
        solve = dilate(free, vote_radius) & self.smooth[target.long()]
        if not bool(solve.any()):
            return output, None
        start = None
        if correction is not None:
            start = output + _resize_image(correction, level.shape)
        fused = fuse(output, level.pixels.view(-1, *level.shape), level.classes.view(level.shape),
                     level.rim_free, target, solve, fy, fx, start=start, iterations=iterations,
                     on_iteration=on_iteration)
        return fused, fused - output


# ------------------------------------------------------------------ fields


#: Level-0 pixels past a removed object's outline where the generator's output
#: still shows traces of it.
_GHOST_REACH = 2
#: Longest side at which the changed regions' shifts are searched (their cost
#: grows with pixels x shifts); the shifts are then scaled to level 0.
_REGION_SEARCH_SIZE = 64


def _initial_field(pyramid: SourcePyramid, target0: torch.Tensor, generator: torch.Generator,
                   guided: tuple[torch.Tensor, torch.Tensor] | None = None):
    """Level 0's field: identity where the layouts agree, one shift per changed region
    onto source pixels of its class, a random pixel of the class where neither lands
    right. Also returns which pixels got a coherent copy (identity or their region's
    shift); the random ones make no picture. With ``guided``, the generator's output
    ((C, h, w)) and where it is the query ((h, w) bool), a region of a textured class
    there starts from the copy that agrees with it (``guided_regions.py``) where its
    shortest copy clearly does not."""
    level = pyramid.levels[0]
    h, w = level.shape
    device = target0.device
    ys, xs = grid((h, w), device)
    fy, fx = ys.expand(h, w).clone(), xs.expand(h, w).clone()
    source0 = level.classes.view(h, w).long()
    changed = source0 != target0
    if bool(changed.any()):
        k = pyramid.num_classes
        scale = min(1.0, _REGION_SEARCH_SIZE / max(h, w))
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        source_small, target_small = resize_labels(source0, size, k), resize_labels(target0, size, k)
        offsets, found = _region_copies(source_small, target_small)
        offsets = offsets * torch.tensor([h / size[0], w / size[1]], device=device)[:, None, None]
        offsets = F.interpolate(offsets[None], size=(h, w), mode="nearest")[0].round().int()
        found = F.interpolate(found[None, None].float(), size=(h, w), mode="nearest")[0, 0] > 0
        shift = changed & found
        fy = torch.where(shift, ys + offsets[0], fy).clamp_(0, h - 1)
        fx = torch.where(shift, xs + offsets[1], fx).clamp_(0, w - 1)
    landed = level.classes.index_select(0, (fy * w + fx).flatten()).view(h, w).long()
    wrong = (landed != target0) & ~level.missing[target0]
    if bool(wrong.any()):
        ry, rx = random_of_class(level, target0.flatten(), generator, (h, w))
        fy = torch.where(wrong, ry, fy)
        fx = torch.where(wrong, rx, fx)
    coherent = ~wrong
    if guided is not None and bool(changed.any()):
        # After the random pixels: a region its shortest copy half misses is judged
        # with them, as matching would start from it.
        guide0, queried = guided
        fy, fx, moved = guided_region_offsets(source_small, target_small, source0, target0,
                                              level.pixels.view(-1, h, w), guide0, fy, fx, ~pyramid.plain,
                                              queried)
        coherent |= moved
    return fy, fx, coherent


def _host_layouts(level: SourceLevel, target: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Level 0's source and target class maps (int64) and where they differ, as
    numpy: one copy from the device for the helpers that work on the CPU (moved,
    scaled and edge-relative copies; scipy labelling and distance transforms)."""
    source = level.classes.view(level.shape).long().cpu().numpy()
    target = target.long().cpu().numpy()
    return source, target, source != target


def _scaled_query(level: SourceLevel, host: tuple[np.ndarray, np.ndarray, np.ndarray]):
    """The level-0 pixels of target regions that enlarge a source region
    (``scaled_components``; None when there are none) and that region stretched
    over them, sampled bilinearly (C, h, w): their query. Only the query: started
    from the stretch too, matching kept it, and a field's flowers came out as
    vertical smears. On the CPU, like the edge profiles."""
    h, w = level.shape
    rows, cols, found = scaled_up_components(*host)
    if not found.any():
        return None, None
    device = level.pixels.device
    rows, cols = torch.from_numpy(rows).to(device), torch.from_numpy(cols).to(device)
    found = torch.from_numpy(found).to(device)
    # Clamped into the image, so zero padding never shows (MPS lacks "border" before torch 2.13).
    grid = torch.stack([(cols.clamp(0, w - 1) / max(w - 1, 1)) * 2 - 1,
                        (rows.clamp(0, h - 1) / max(h - 1, 1)) * 2 - 1], -1)[None]
    stretched = F.grid_sample(level.pixels.view(1, -1, h, w).float(), grid, mode="bilinear",
                              padding_mode="zeros", align_corners=True)[0]
    return found, stretched


def _region_copies(source: torch.Tensor, target: torch.Tensor, passes: int = 3):
    """Offsets (2, h, w) and a found mask (h, w) that copy every changed region of a
    layout edit from one place of its class (``region_shifts``). The pixels that
    a region's shift leaves off their class form smaller regions of their own, for
    up to ``passes`` rounds, rather than each taking its own nearest pixel of the
    class (which copies one edge pixel over and over: a smear, then tiling)."""
    offsets = torch.zeros(2, *target.shape, device=target.device)
    found = torch.zeros_like(target, dtype=torch.bool)
    remaining = source != target
    for _ in range(passes):
        if not bool(remaining.any()):
            break
        this_pass = torch.where(remaining, target, source)
        pass_offsets, pass_found, _ = region_shifts(source[None], this_pass[None], per_pixel_fallback=False)
        landed = remaining & (pass_found[0, 0] > 0)
        offsets = torch.where(landed[None], pass_offsets[0], offsets)
        found |= landed
        remaining &= ~landed
    return offsets, found


def _without_old_outlines(guide: torch.Tensor, erased: torch.Tensor, target: torch.Tensor,
                          known: torch.Tensor | None = None) -> torch.Tensor:
    """The guide with the ``erased`` pixels filled smoothly from the pixels of their own
    target class around them (those in ``known``, default all): the generator redraws
    an old outline's shadow there."""
    for k in torch.unique(target[erased]).tolist():
        of_class = target == k
        hole = erased & of_class
        around = of_class
        if known is not None and bool((of_class & known & ~hole).any()):
            around = of_class & known  # else (nothing of the class is known) the whole class
        guide = fill_holes(guide, hole, around)
    return guide


def _vacated(target: torch.Tensor, changed: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Changed pixels that take the class surrounding their changed region: where an
    object was removed or moved away and its surroundings close over the gap.

    Each connected changed region (of one target class) looks at the unchanged
    pixels just around it; it is vacated when its class is the most common there.
    A newly painted object (a leg, a tower, the new part of a moved object) is
    mostly surrounded by other classes.
    """
    h, w = target.shape
    if not bool(changed.any()):
        return changed
    regions = connected_components(changed[None], target[None])[0]
    # Every unchanged pixel within two pixels of a region counts for (one of) them.
    nearby = F.max_pool2d(torch.where(changed, regions, -1).float()[None, None], 5, stride=1,
                          padding=2)[0, 0].long()
    ring = ~changed & (nearby >= 0)
    counts = torch.zeros(h * w, num_classes, device=target.device)
    counts.index_put_((nearby[ring], target[ring]), torch.ones_like(nearby[ring], dtype=counts.dtype),
                      accumulate=True)
    region = regions.clamp_max(h * w - 1)
    surrounded = counts.argmax(1)[region] == target
    return changed & surrounded & (counts.sum(1)[region] > 0)


def start_shape(full_shape, config: RefinementConfig) -> tuple[int, int]:
    """Level 0's size without a guide: longest side ``config.start_size`` (as the
    trainer's working size), never larger than the source."""
    scale = min(1.0, config.start_size / max(full_shape))
    return max(8, round(full_shape[0] * scale)), max(8, round(full_shape[1] * scale))


@torch.inference_mode()
def refine(source_image: torch.Tensor, source_index: torch.Tensor, target_index: torch.Tensor,
           guide: torch.Tensor | None = None, *, num_classes: int | None = None,
           config: RefinementConfig | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """The target layout rebuilt at the source's full size from source patches.

    ``source_image``: (1, C, H, W) in network space ([-1, 1]); ``source_index`` and
    ``target_index``: (1, H, W) int64 class indices, all at full size, on one device.
    ``guide``: (1, C, h, w) generator output at the working size, or None to refine
    from the label map alone. Returns (1, C, H, W) on the source's device,
    deterministic for ``config.seed`` (or ``generator``). To synthesize several
    targets for one source, build its :class:`SourcePyramid` once and call
    :meth:`SourcePyramid.refine`.
    """
    config = config or RefinementConfig()
    if num_classes is None:
        num_classes = int(max(source_index.max(), target_index.max())) + 1
    full_shape = tuple(source_image.shape[-2:])
    first_shape = tuple(guide.shape[-2:]) if guide is not None else start_shape(full_shape, config)
    pyramid = SourcePyramid(source_image, source_index, num_classes, first_shape, config)
    return pyramid.refine(target_index, guide, generator=generator)
