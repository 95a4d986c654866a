"""How deep inside its class a copied pixel must be, so that old outlines leave no line.

A class's pixels along its edge with another class often look unlike the rest
of it: the skin under the hair is in the hair's shadow, the sky around a tree
is tinted by its leaves. Labels give those pixels to the class beside the
edge, so when a target paints over the edge (a hairline raised, a tree moved
away), copying them, or keeping them where they are, leaves the old outline
as a line where nothing borders any more.

The refinement therefore asks, where the source has a class edge nearer than
the target has, for source pixels at least as deep inside their class as the
pixel is inside the target's class (``required_depth``), in *plain* classes
(skin, sky: ``RefinementConfig.outline_max_gradient``, ``outline_max_texture``).
In textured classes the rule costs structure: a zebra's neck copied from deep
inside its body loses its own stripes, and a tree's crown moved over its old
outline shows a seam of pieces from deep inside the crown.

Depths count level-0 pixels to the nearest other class (chessboard distance
minus one), capped at the reach. A class asks for no more depth than it can
supply (``within_supply``): where most of it is near another class (a grey
matrix riddled with small pores) and the target asks for it everywhere (every
pore painted over), its few deep pixels were copied over and over, and the
image came out as flat, tiled patches.

A second, narrower rule holds in every class (``fringes_to_avoid``): where the
target takes a class away from around a pixel, the pixel copies a source pixel
with none of that class nearby. It removes the fringe an object leaves in a
textured class (a gland's brown halo in the stroma around it) without asking
for depth inside the class, so a zebra's neck still copies the rim of the
body, which has its own stripes.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .seam_fusion import rim_free


def depth_in_class(index: torch.Tensor, reach: int) -> torch.Tensor:
    """(h, w) uint8: how many pixels of its own class lie between each pixel and the
    nearest pixel of another class (chessboard distance minus one: 0 next to
    another class), at most ``reach`` (the image border is no class edge)."""
    near = ~rim_free(index, 1)  # next to another class
    depth = (~near).to(torch.uint8)
    for _ in range(1, reach):
        # Within w + 1 of another class = within 1 pixel of a pixel within w of one.
        near = F.max_pool2d(near[None, None].float(), 3, stride=1, padding=1)[0, 0] > 0
        depth += ~near
    return depth


def class_depths(index: torch.Tensor, depth: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(K,) uint8: the largest depth each class has."""
    # In float32, exact for depths up to 255: scatter reductions are not implemented
    # for every small integer dtype on every device, and MPS has no int64 maxima.
    largest = torch.zeros(num_classes, dtype=torch.float32, device=index.device)
    largest.scatter_reduce_(0, index.flatten().long(), depth.flatten().float(), "amax")
    return largest.to(torch.uint8)


def required_depth(source_depth: torch.Tensor, target: torch.Tensor, reach: int, largest: torch.Tensor,
                   eligible: torch.Tensor) -> torch.Tensor:
    """(h, w) uint8: how deep inside its class each pixel's source pixel must be: as
    deep as the pixel is inside its ``target`` class (at most ``reach``, never
    deeper than the class has pixels: ``largest``), where the source has a class
    edge nearer than that (``source_depth`` smaller) and the class is
    ``eligible``; 0 elsewhere."""
    target = target.long()
    wanted = torch.minimum(depth_in_class(target, reach), largest[target])
    nearer_edge = (source_depth < wanted) & eligible[target]
    return torch.where(nearer_edge, wanted, 0).to(torch.uint8)


def within_supply(required: torch.Tensor, source_depth: torch.Tensor, source_index: torch.Tensor,
                  target: torch.Tensor, num_classes: int,
                  matched: torch.Tensor | None = None) -> torch.Tensor:
    """``required`` (``required_depth``), lowered per class to what its source pixels
    can supply: at most the depth up to which, at every depth, the class has at
    least as many source pixels that deep as there are ``matched`` pixels of the
    class that ask for that depth (each source pixel copied once, on average). A
    painted-over hairline asks skin for a band's worth of deep pixels and gets
    them; a matrix asked for everywhere, with an eighth of it deep, gets the depth
    it has enough of."""
    reach = int(required.max()) if required.numel() else 0
    if reach == 0:
        return required
    target = target.long()
    asking = required > 0 if matched is None else (required > 0) & matched
    bins = reach + 1

    def at_least(classes, depths):
        """(K, reach + 1): pixels of each class at each depth or deeper."""
        counts = torch.bincount(classes * bins + depths.long().clamp_max(reach), minlength=num_classes * bins)
        return counts.view(num_classes, bins).flip(1).cumsum(1).flip(1)

    supply = at_least(source_index.long().flatten(), source_depth.flatten())
    demand = at_least(target[asking], required[asking])
    enough = supply[:, 1:] >= demand[:, 1:]  # depths 1..reach
    # The deepest depth with enough at it and at every shallower depth.
    supplied = enough.to(torch.uint8).cumprod(1).sum(1).to(required.dtype)
    capped = torch.minimum(required, supplied[target])
    # A pixel whose own source pixel is as deep as the lowered depth asks for nothing.
    return torch.where(source_depth < capped, capped, 0).to(required.dtype)


# ------------------------------------------------------------------ fringes
#: A class's fringe is avoided only where at least this share of the pixels of the
#: copying class lie outside it (fewer would be copied over and over: tiling).
_FRINGE_MIN_SHARE = 0.05


def class_bits_dtype(num_classes: int) -> torch.dtype | None:
    """The integer type that holds one bit per class, or None past 63 classes."""
    if num_classes <= 31:
        return torch.int32
    if num_classes <= 63:
        return torch.int64
    return None


def classes_near(index: torch.Tensor, reach: int, num_classes: int) -> torch.Tensor:
    """(h, w) bit set (``class_bits_dtype``): the classes with a pixel within ``reach``
    of each pixel (chessboard distance; its own class included).

    The fringe functions work on the CPU (they run at the working size) and
    return to ``index``'s device: bit shifts and wide integers are not
    implemented on every accelerator (MPS has no float64 either)."""
    dtype = class_bits_dtype(num_classes)
    cpu_index = index.cpu()
    near = torch.zeros(cpu_index.shape, dtype=dtype)
    for k in torch.unique(cpu_index).tolist():
        of_class = (cpu_index == k).float()[None, None]
        within = F.max_pool2d(of_class, 2 * reach + 1, stride=1, padding=reach)[0, 0] > 0
        near |= within.to(dtype) << k
    return near.to(index.device)


def visible_fringes(image: torch.Tensor, index: torch.Tensor, near: torch.Tensor, num_classes: int,
                    min_contrast: float, min_pixels: int = 10) -> torch.Tensor:
    """(K,) bit sets: for each class k, the classes j whose fringe shows in k: the
    mean colour of k's pixels with j nearby (``near``: ``classes_near``) differs
    from that of k's other pixels by at least ``min_contrast`` times k's spread
    (the norm of its channels' standard deviations), and at least
    ``_FRINGE_MIN_SHARE`` of k's pixels have no j nearby. ``image``: (C, h, w).

    A gland's brown halo in the stroma stands out (1.2 on the histology demo),
    and so does a tree's tint in the sky (2.1); the grass next to a zebra and
    a zebra's stripes next to the grass do not (0.5 and 0.2), and there asking
    for pixels away from the other class only costs texture."""
    dtype, device = near.dtype, index.device
    image, index, near = image.cpu(), index.cpu(), near.cpu()
    visible = torch.zeros(num_classes, dtype=dtype)
    flat = index.flatten().long()
    pixels = image.reshape(image.shape[0], -1).double()
    counts = torch.bincount(flat, minlength=num_classes).double()
    sums = torch.zeros(num_classes, pixels.shape[0], dtype=torch.float64)
    squares = torch.zeros_like(sums)
    sums.index_add_(0, flat, pixels.T)
    squares.index_add_(0, flat, pixels.T.square())
    spread = (squares / counts.clamp_min(1)[:, None] - (sums / counts.clamp_min(1)[:, None]).square()) \
        .clamp_min(0).sum(1).sqrt()
    bits = near.flatten()
    for j in range(num_classes):
        with_j = ((bits >> j) & 1).bool()
        near_count = torch.bincount(flat[with_j], minlength=num_classes).double()
        near_sums = torch.zeros_like(sums).index_add_(0, flat[with_j], pixels.T[with_j])
        far_count = counts - near_count
        contrast = (near_sums / near_count.clamp_min(1)[:, None]
                    - (sums - near_sums) / far_count.clamp_min(1)[:, None]).norm(dim=1)
        shows = (contrast > min_contrast * spread + 1e-6) & (near_count >= min_pixels)
        # ... and enough of k's pixels are free of j to copy from.
        shows &= far_count >= torch.clamp(_FRINGE_MIN_SHARE * counts, min=float(min_pixels))
        shows[j] = False
        visible |= shows.to(dtype) << j
    return visible.to(device)


def fringes_to_avoid(source_near: torch.Tensor, source_index: torch.Tensor, target: torch.Tensor,
                     reach: int, num_classes: int, visible: torch.Tensor | None = None) -> torch.Tensor:
    """(h, w) bit set: the classes whose fringe each target pixel's source pixel must
    not carry (must have none of them within ``reach``): classes the source has
    within ``reach`` of the pixel and the target has not (the gland moved away,
    the tree removed). ``source_near``: ``classes_near`` of the source.

    Per target class, only what enough of its source pixels can honour together
    (``_FRINGE_MIN_SHARE``): classes are added one at a time, the one the most
    pixels are free of first. Stroma is never far from nuclei, so a region
    painted without nuclei still copies stroma that has them nearby; the gland's
    brown halo, which stroma has within a few pixels of every gland, it avoids.
    ``visible``: per class, the fringes to consider at all (``visible_fringes``)."""
    device = target.device
    target, source_near, source_index = target.long().cpu(), source_near.cpu(), source_index.cpu()
    avoid = source_near & ~classes_near(target, reach, num_classes)
    if visible is not None:
        avoid &= visible.cpu()[target]
    marked = avoid != 0
    if not bool(marked.any()):
        return avoid.to(device)
    # Per distinct (target class, wanted set): a greedy pick over the distinct sets of
    # the class's source pixels (numpy: a few microseconds each, however many pairs).
    pairs, inverse = torch.unique(torch.stack([target[marked], avoid[marked].long()]), dim=1,
                                  return_inverse=True)
    honoured = np.zeros(pairs.shape[1], dtype=np.int64)
    near_sets: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i, (k, wanted) in enumerate(pairs.T.tolist()):
        if k not in near_sets:
            sets, counts = np.unique(source_near[source_index == k].long().numpy(), return_counts=True)
            near_sets[k] = sets, counts
        sets, counts = near_sets[k]
        if sets.size == 0:
            continue
        enough = max(1.0, _FRINGE_MIN_SHARE * float(counts.sum()))
        wanted_classes = [j for j in range(num_classes) if wanted >> j & 1]
        free_of = {j: int(counts[(sets >> j) & 1 == 0].sum()) for j in wanted_classes}
        kept = 0
        for j in sorted(wanted_classes, key=lambda j: -free_of[j]):
            trial = kept | (1 << j)
            if float(counts[(sets & trial) == 0].sum()) >= enough:
                kept = trial
        honoured[i] = kept
    avoid[marked] = torch.from_numpy(honoured).to(avoid.dtype)[inverse]
    return avoid.to(device)
