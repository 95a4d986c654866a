"""Label-constrained PatchMatch of a target region against one source level.

Each target pixel is matched to a source pixel of the class the target asks
for there (a wrong class costs infinitely; pixels may further be required to
lie inside their class, deep enough inside it, or away from classes whose
fringe they must not carry), by the distance between the patches around them
in ``patch_features``' feature space, plus a coherence term that keeps
neighbours on one offset. Search: at the coarsest level an exact search among
an even sample of each class's source pixels, then PatchMatch rounds
(propagation with doubling jumps, random search around the current match,
random pixels of the right class), vectorised in torch, in tiles (memory
O(tile)). Used by ``refinement`` at every level.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .layout_tensors import bounding_box
from .patch_features import SourceLevel, region_features, tiles
from .seam_fusion import rim_free

#: Added to the cost of a candidate that carries a fringe its pixel must avoid:
#: more than any patch distance, less than a wrong class (infinite).
FRINGE_PENALTY = 1e4


NO_OFFSET = -(2**31)


DIRECTIONS = ((0, 1), (1, 0), (0, -1), (-1, 0))


class PatchMatcher:
    """PatchMatch of one target region against a whole source level.

    Fields are (h, w) int32 source rows ``fy`` and columns ``fx``. A candidate's
    cost is its patch distance (infinite for a source pixel of another class)
    plus ``coherence_cost`` for each 4-neighbour whose match has another offset:
    in stochastic textures (grass, sky) many source patches fit about equally
    well, and without that term neighbouring pixels pick unrelated ones, which
    voting then averages into a blur.
    """

    def __init__(self, level: SourceLevel, keys: torch.Tensor, query: torch.Tensor,
                 target_classes: torch.Tensor, generator: torch.Generator, shape,
                 coherence_cost: float = 0.0, free: torch.Tensor | None = None,
                 changed: torch.Tensor | None = None, depth_needed: torch.Tensor | None = None,
                 fringes_avoided: torch.Tensor | None = None) -> None:
        self.level = level
        self.free = None if free is None else free.view(shape)
        self.keys = keys
        self.query = query  # (n, D)
        self.target_classes = target_classes.to(level.classes.dtype)  # (n,)
        self.allow_any = level.missing[target_classes.long()]
        # Changed pixels whose class has an interior take only interior source pixels.
        self.needs_interior = None
        if level.interior is not None and changed is not None:
            self.needs_interior = changed & level.class_has_interior[target_classes.long()]
        # Pixels by an edge the target paints over take pixels deep inside their class.
        self.depth_needed = None
        if level.depth is not None and depth_needed is not None and bool(depth_needed.any()):
            self.depth_needed = depth_needed
        # Pixels a class was taken away from take pixels without that class nearby.
        self.avoid = None
        if level.near is not None and fringes_avoided is not None and bool(fringes_avoided.any()):
            self.avoid = fringes_avoided
        self.generator = generator
        self.shape = tuple(shape)
        self.coherence_cost = coherence_cost
        self.gathered = torch.empty(query.shape, dtype=keys.dtype, device=query.device)
        self.buffer = torch.empty_like(query)
        device = query.device
        self.ys = torch.arange(shape[0], device=device, dtype=torch.int32)[:, None]
        self.xs = torch.arange(shape[1], device=device, dtype=torch.int32)[None]
        # Offsets packed into one int32 so that comparing two is one operation.
        self.pack = 2 * level.shape[1] + 1
        self.neighbours: list[torch.Tensor] = []

    def _rand(self, *shape) -> torch.Tensor:
        return torch.rand(shape, generator=self.generator, device=self.generator.device).to(self.query.device)

    def _offset_keys(self, fy: torch.Tensor, fx: torch.Tensor) -> torch.Tensor:
        return (fy - self.ys) * self.pack + (fx - self.xs)

    def _note_neighbours(self, fy: torch.Tensor, fx: torch.Tensor) -> None:
        """Remember the 4-neighbours' offsets (for the coherence term of this round)."""
        if self.coherence_cost:
            keys = self._offset_keys(fy, fx)
            self.neighbours = [shifted(keys, dy, dx, NO_OFFSET) for dy, dx in DIRECTIONS]

    def cost(self, cy: torch.Tensor, cx: torch.Tensor) -> torch.Tensor:
        """Costs of the candidate source positions (clamped in place); inf for the wrong class."""
        h, w = self.level.shape
        cy.clamp_(0, h - 1)
        cx.clamp_(0, w - 1)
        flat = (cy * w + cx).view(-1)
        torch.index_select(self.keys, 0, flat, out=self.gathered)
        cost = self.buffer.copy_(self.gathered).sub_(self.query).square_().sum(1)
        if self.neighbours:
            keys = self._offset_keys(cy, cx)
            differing = sum((keys != neighbour) & (neighbour != NO_OFFSET) for neighbour in self.neighbours)
            cost.add_(differing.view(-1), alpha=self.coherence_cost)
        right_class = self.level.classes.index_select(0, flat) == self.target_classes
        right_class |= self.allow_any
        if self.needs_interior is not None:
            right_class &= self.level.interior.index_select(0, flat) | ~self.needs_interior
        if self.depth_needed is not None:
            right_class &= self.level.depth.index_select(0, flat) >= self.depth_needed
        if self.avoid is not None:
            # Finite: where no pixel of the class is free of the fringe (a class
            # thinner at this level than at level 0), any pixel of the class still
            # beats one of another class.
            carries = (self.level.near.index_select(0, flat) & self.avoid) != 0
            cost.add_(carries, alpha=FRINGE_PENALTY)
        return cost.masked_fill_(~right_class, float("inf"))

    def consider(self, fy, fx, cy, cx) -> None:
        """Keep the candidates that cost less than the current matches."""
        cost = self.cost(cy, cx)
        better = cost < self.best
        self.best = torch.where(better, cost, self.best)
        shaped = better.view(fy.shape)
        if self.free is not None:
            shaped &= self.free
        fy.copy_(torch.where(shaped, cy, fy))
        fx.copy_(torch.where(shaped, cx, fx))

    def nearest_of_sample(self, fy: torch.Tensor, fx: torch.Tensor, candidates: int) -> None:
        """Exact nearest neighbours among an even sample of ``candidates`` source pixels
        per class, as one more candidate for every other free pixel in each direction
        (propagation hands good matches on to the rest): PatchMatch's random search
        rarely lands in a small source area (a tail, an eye) by chance."""
        level = self.level
        free = self.free if self.free is not None else torch.ones(self.shape, dtype=torch.bool,
                                                                  device=self.query.device)
        free = free & ((self.ys % 2 == 0) & (self.xs % 2 == 0))
        free = free.flatten()
        cy, cx = fy.clone().flatten(), fx.clone().flatten()
        classes = self.target_classes.long()
        w = level.shape[1]
        for k in torch.unique(classes[free & ~self.allow_any]).tolist():
            count, start = int(level.class_count[k]), int(level.class_start[k])
            step = max(1, -(-count // candidates))
            sample = level.class_order[start:start + count:step].long()
            keys = self.keys.index_select(0, sample).float()
            key_norms = keys.square().sum(1)
            rows = torch.nonzero(free & (classes == k)).flatten()
            rim = None if self.needs_interior is None else ~level.interior.index_select(0, sample)
            depth = None if self.depth_needed is None else level.depth.index_select(0, sample)
            near = None if self.avoid is None else level.near.index_select(0, sample)
            for chunk in rows.split(4096):
                query = self.query.index_select(0, chunk)
                distance = key_norms[None] - 2 * query @ keys.T
                if rim is not None:
                    distance.masked_fill_(self.needs_interior.index_select(0, chunk)[:, None] & rim[None],
                                          float("inf"))
                if depth is not None:
                    distance.masked_fill_(depth[None] < self.depth_needed.index_select(0, chunk)[:, None],
                                          float("inf"))
                if near is not None:
                    carries = (near[None] & self.avoid.index_select(0, chunk)[:, None]) != 0
                    distance.add_(carries, alpha=FRINGE_PENALTY)
                best = sample[distance.argmin(1)].int()
                cy[chunk], cx[chunk] = best // w, best % w
        self.consider(fy, fx, cy.view(self.shape), cx.view(self.shape))

    def run(self, fy: torch.Tensor, fx: torch.Tensor, rounds: int, jumps, radii, random_draws: int = 1,
            sampled_candidates: int = 0):
        if sampled_candidates:
            self._note_neighbours(fy, fx)
            self.best = self.cost(fy, fx)
            self.nearest_of_sample(fy, fx, sampled_candidates)
        for _ in range(rounds):
            self._note_neighbours(fy, fx)
            self.best = self.cost(fy, fx)
            for jump in jumps:
                for dy, dx in DIRECTIONS:
                    dy, dx = dy * jump, dx * jump
                    # The neighbour's match, moved back by the step to it.
                    cy = shifted(fy, dy, dx, NO_OFFSET)
                    outside = cy == NO_OFFSET
                    cy = torch.where(outside, fy, cy - dy)
                    cx = torch.where(outside, fx, shifted(fx, dy, dx, 0) - dx)
                    self.consider(fy, fx, cy, cx)
            for radius in radii:
                u = self._rand(2, *self.shape)
                cy = fy + ((u[0] * 2 - 1) * radius).round().int()
                cx = fx + ((u[1] * 2 - 1) * radius).round().int()
                self.consider(fy, fx, cy, cx)
            for _ in range(random_draws):
                cy, cx = random_of_class(self.level, self.target_classes.long(), self.generator, self.shape)
                self.consider(fy, fx, cy, cx)
        return fy, fx


def random_of_class(level: SourceLevel, classes: torch.Tensor, generator: torch.Generator, shape):
    """A random source pixel of each target pixel's class (anywhere for a class the
    level lacks), as (h, w) int32 rows and columns."""
    u = torch.rand(classes.shape[0], generator=generator, device=generator.device).to(classes.device)
    count = level.class_count[classes]
    pos = level.class_start[classes] + (u * count).long().clamp_max((count - 1).clamp_min(0))
    total = level.classes.shape[0]
    anywhere = (u * total).long().clamp_max(total - 1)
    flat = torch.where(level.missing[classes], anywhere, level.class_order[pos.clamp_max(total - 1)]).int()
    w = level.shape[1]
    return (flat // w).view(shape), (flat % w).view(shape)


def shifted(field: torch.Tensor, dy: int, dx: int, fill: int) -> torch.Tensor:
    """field[p + (dy, dx)] for every p, ``fill`` where that leaves the region."""
    out = torch.full_like(field, fill)
    h, w = field.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[ys, xs] = field[yd, xd]
    return out


def search_radii(shape, rounds_scale: float = 1.0) -> list[int]:
    radius = max(shape) * rounds_scale
    radii = []
    while radius >= 1:
        radii.append(int(radius))
        radius /= 2
    return radii


def match_level(level: SourceLevel, keys: torch.Tensor, query_image: torch.Tensor, target: torch.Tensor,
                free: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor, rounds: int, wide: bool,
                generator: torch.Generator, num_classes: int, *, coherence_weight: float,
                edge_margin: int, sampled_candidates: int, tile: int,
                depth_needed: torch.Tensor | None = None,
                fringes_avoided: torch.Tensor | None = None,
                on_tile: Callable[[float], None] | None = None) -> None:
    """PatchMatch of the ``free`` pixels, in tiles; updates ``fy``/``fx`` in place.
    ``depth_needed``: (h, w) how deep inside its class each pixel's match must be;
    ``fringes_avoided``: (h, w) bit sets of the classes it must have none of nearby;
    ``on_tile(fraction)``: called between tiles with the fraction of tiles done
    (it may raise, to abandon the work).

    ``wide``: search the whole source (long jumps, random search from half the
    image size down, after an exact search among ``sampled_candidates`` source
    pixels per class); otherwise only refine locally around the current field.
    ``coherence_weight``, ``edge_margin``, ``tile``: as ``RefinementConfig``'s.
    """
    h, w = level.shape
    jumps = (8, 4, 2, 1) if wide else (1,)
    radii = search_radii((h, w), 0.5) if wide else [4, 2, 1]
    halo = sum(jumps) * rounds
    patch_values = level.features.patch_size ** 2 * level.pixels.shape[0]
    # All four neighbours on other offsets cost like an RMS difference of coherence_weight.
    coherence_cost = coherence_weight ** 2 * patch_values / 4
    target_interior = rim_free(target, edge_margin) if level.interior is not None else None
    boxes = list(tiles((h, w), tile))
    for number, tile_box in enumerate(boxes):
        if on_tile is not None and number:
            on_tile(number / len(boxes))
        box = bounding_box(free, 0, tile_box)
        if box is None:
            continue
        y0, y1, x0, x1 = box
        top, bottom = max(0, y0 - halo), min(h, y1 + halo)
        left, right = max(0, x0 - halo), min(w, x1 + halo)
        region_target = target[top:bottom, left:right]
        query = region_features(level.features, query_image, target, num_classes, top, bottom, left, right)
        changed = None
        if level.interior is not None:
            # Changed pixels, and pixels whose target neighbourhood is one class
            # (the rim of a removed object, left in the source, is no longer a rim).
            region_source = level.classes.view(h, w)[top:bottom, left:right]
            changed = (region_source.long() != region_target.long()) | target_interior[top:bottom, left:right]
            changed = changed.flatten()
        region_depth = None if depth_needed is None else depth_needed[top:bottom, left:right].flatten()
        region_avoid = None if fringes_avoided is None else fringes_avoided[top:bottom, left:right].flatten()
        matcher = PatchMatcher(level, keys, query, region_target.flatten(), generator, region_target.shape,
                               coherence_cost, free[top:bottom, left:right], changed, region_depth,
                               region_avoid)
        ry, rx = fy[top:bottom, left:right].clone(), fx[top:bottom, left:right].clone()
        matcher.run(ry, rx, rounds, jumps, radii, sampled_candidates=sampled_candidates if wide else 0)
        fy[y0:y1, x0:x1] = ry[y0 - top:y1 - top, x0 - left:x1 - left]
        fx[y0:y1, x0:x1] = rx[y0 - top:y1 - top, x0 - left:x1 - left]
