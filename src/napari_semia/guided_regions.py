"""Which copy a changed region starts from: the one the generator's output asks for.

The refinement starts every changed region of a layout edit from one coherent
copy of source texture of its class (``region_fill.region_shifts``): the
shortest shift that lands the region on its class. For stuff (grass, sky,
water) the shortest copy is as good as any and keeps the lighting of the
neighbourhood. For objects it copies whatever lies next to the region: a pair
of legs added under a zebra's belly started from the belly's own stripes
beside them, and matching, which keeps coherent pieces, kept a patchwork of
belly pieces where the generator had drawn legs.

:func:`guided_region_offsets` compares, per changed region of a *textured*
class, the copies of the shifts that land (nearly) all of it on its class
with the generator's output there (mean squared difference at level 0), and
moves the region to the shortest copy within ``WITHIN_BEST`` of the best one,
sharpened by a local search, where the copy it has agrees clearly worse
(``SWITCH``). Plain classes (skin, sky) are left alone: any copy of them looks
alike, and a far copy brings another part's tone; so are pixels whose query is
not the generator's output (where an object left, the output keeps its ghost,
and a copy chosen to agree with it reads as the old object). All in torch, on
the layouts' device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .region_fill import changed_regions, connected_components

#: Candidate shifts compared per region (evenly spread over the good ones, shortest first).
CANDIDATES = 96
#: A shift is a candidate when it lands this share of the best-covered shift's pixels on the class.
COVERAGE_SHARE = 0.9
#: ... and, at level 0, at least this share of the region's pixels.
MIN_LANDING = 0.85
#: The shortest candidate whose disagreement is within this factor of the best one's wins.
WITHIN_BEST = 1.1
#: A region moves only where the chosen copy's disagreement is below this share of its current copy's.
SWITCH = 0.75
#: Half-side, in level-0 pixels, of the local search around the chosen shift.
LOCAL_REACH = 4
#: Regions of fewer level-0 pixels keep their copy.
MIN_PIXELS = 4
#: Most region pixels compared per candidate (an even sample of larger regions).
MAX_COMPARED = 4096


def _landing(classes: torch.Tensor, k: int, qy: torch.Tensor, qx: torch.Tensor):
    """Source positions (qy, qx) clamped into the (h, w) map ``classes``, and which of
    them lie inside it on class ``k``."""
    h, w = classes.shape
    inside = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
    qy, qx = qy.clamp(0, h - 1), qx.clamp(0, w - 1)
    return qy, qx, inside & (classes[qy, qx] == k)


def _disagreement(image: torch.Tensor, guide: torch.Tensor, classes: torch.Tensor, k: int,
                  ys: torch.Tensor, xs: torch.Tensor, qy: torch.Tensor, qx: torch.Tensor):
    """Per row i of the (copies, pixels) source positions ``qy``/``qx``: the mean squared
    difference between the source copied from there and the guide at (ys, xs), over
    the pixels that land on class ``k`` (inf where none does), and the share that
    lands. ``image``/``guide``: (C, h, w); ``classes``: (h, w)."""
    qy, qx, lands = _landing(classes, k, qy, qx)
    copied = image[:, qy, qx]  # (C, copies, pixels)
    wanted = guide[:, ys, xs][:, None]
    squared = ((copied - wanted) ** 2).sum(0) * lands
    cost = squared.sum(1) / lands.sum(1).clamp_min(1)
    return torch.where(lands.any(1), cost, torch.inf), lands.float().mean(1)


def _shifted_disagreement(image, guide, classes, k, ys, xs, dy, dx):
    """``_disagreement`` of the copies shifted by (dy[i], dx[i]); inf where fewer than
    ``MIN_LANDING`` of the pixels land on class ``k``."""
    cost, share = _disagreement(image, guide, classes, k, ys, xs,
                                ys[None] + dy[:, None], xs[None] + dx[:, None])
    return torch.where(share >= MIN_LANDING, cost, torch.inf)


def guided_region_offsets(source_small: torch.Tensor, target_small: torch.Tensor, classes0: torch.Tensor,
                          target0: torch.Tensor, image0: torch.Tensor, guide0: torch.Tensor,
                          fy: torch.Tensor, fx: torch.Tensor, textured: torch.Tensor,
                          queried: torch.Tensor | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``fy``/``fx`` (level 0's initial field, (h, w) int) with the changed regions of
    textured classes moved onto the copy that agrees best with the guide.

    ``source_small``/``target_small``: the layouts at the region search's size
    (regions and candidate shifts are found there); ``classes0``/``target0``: the
    source's and target's class maps at level 0 ((h, w)); ``image0``: the source
    image at level 0 and ``guide0`` the generator's output, (C, h, w) alike;
    ``textured``: (K,) bool per class; ``queried``: (h, w) bool, the pixels whose
    query is the guide (the others, where an object left and the guide keeps its
    ghost, keep their copy; default all). Returns the new field and a mask of the
    pixels moved (they landed on their class)."""
    h, w = target0.shape
    hs, ws = target_small.shape
    moved = torch.zeros((h, w), dtype=torch.bool, device=target0.device)
    fy, fx = fy.clone(), fx.clone()
    region = changed_regions(source_small[None], target_small[None])[0]
    if not bool(region.any()):
        return fy, fx, moved
    labels = connected_components(region[None], target_small[None])[0]
    changed0 = classes0 != target0
    if queried is not None:
        changed0 &= queried
    image0, guide0 = image0.float(), guide0.float()
    scale_y, scale_x = h / hs, w / ws
    for label in torch.unique(labels[region]).tolist():
        component = labels == label
        k = int(target_small[component][0])
        if not bool(textured[k]):
            continue
        mask0 = F.interpolate(component[None, None].float(), size=(h, w), mode="nearest")[0, 0] > 0
        mask0 &= changed0 & (target0 == k)
        ys, xs = torch.nonzero(mask0, as_tuple=True)
        if len(ys) < MIN_PIXELS:
            continue
        if len(ys) > MAX_COMPARED:
            keep = torch.linspace(0, len(ys) - 1, MAX_COMPARED, device=ys.device).round().long()
            ys_c, xs_c = ys[keep], xs[keep]
        else:
            ys_c, xs_c = ys, xs
        # Every shift's coverage at the search size: the component's mask correlated
        # with the class (a shift (dy, dx) puts the mask's box at (y0 + dy, x0 + dx)).
        rows, cols = torch.nonzero(component, as_tuple=True)
        y0, x0 = int(rows.min()), int(cols.min())
        kernel = component[y0:int(rows.max()) + 1, x0:int(cols.max()) + 1].float()
        padded = F.pad((source_small == k).float()[None, None], (ws, ws, hs, hs))
        # Counts, rounded: an accelerator's convolution need not sum exactly.
        coverage = F.conv2d(padded, kernel[None, None])[0, 0].round()
        dy_small = torch.arange(coverage.shape[0], device=coverage.device)[:, None] - hs - y0
        dx_small = torch.arange(coverage.shape[1], device=coverage.device)[None] - ws - x0
        good = (coverage >= COVERAGE_SHARE * coverage.max()) & ((dy_small != 0) | (dx_small != 0))
        dy_small = dy_small.expand_as(coverage)[good]
        dx_small = dx_small.expand_as(coverage)[good]
        if len(dy_small) == 0:
            continue
        order = torch.sort(dy_small * dy_small + dx_small * dx_small, stable=True).indices
        if len(order) > CANDIDATES:
            order = order[torch.linspace(0, len(order) - 1, CANDIDATES, device=order.device).round().long()]
        dy = (dy_small[order].float() * scale_y).round().long()
        dx = (dx_small[order].float() * scale_x).round().long()
        costs = _shifted_disagreement(image0, guide0, classes0, k, ys_c, xs_c, dy, dx)
        best = costs.min()
        if not bool(torch.isfinite(best)):
            continue
        pick = int(torch.nonzero(costs <= best * WITHIN_BEST)[0, 0])
        # Sharpen at level 0: the search size's shifts step by several pixels.
        around = torch.arange(-LOCAL_REACH, LOCAL_REACH + 1, device=dy.device)
        local_dy = (dy[pick] + around[:, None]).expand(-1, len(around)).reshape(-1)
        local_dx = (dx[pick] + around[None]).expand(len(around), -1).reshape(-1)
        local_costs = _shifted_disagreement(image0, guide0, classes0, k, ys_c, xs_c, local_dy, local_dx)
        chosen = int(local_costs.argmin())
        chosen_cost = local_costs[chosen]
        # The copy the region has now (its pixels that land on their class).
        current_cost, _ = _disagreement(image0, guide0, classes0, k, ys_c, xs_c,
                                        fy[ys_c, xs_c].long()[None], fx[ys_c, xs_c].long()[None])
        if not bool(chosen_cost < SWITCH * current_cost[0]):
            continue
        qy, qx, lands = _landing(classes0, k, ys + local_dy[chosen], xs + local_dx[chosen])
        fy[ys[lands], xs[lands]] = qy[lands].to(fy.dtype)
        fx[ys[lands], xs[lands]] = qx[lands].to(fx.dtype)
        moved[ys[lands], xs[lands]] = True
    return fy, fx, moved
