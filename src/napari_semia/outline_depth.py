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
(skin, sky: ``RefinementConfig.outline_max_gradient``). In textured classes
the rule costs structure: a zebra's neck copied from deep inside its body
loses its own stripes, and a tree's crown moved over its old outline shows a
seam of pieces from deep inside the crown.

Depths count level-0 pixels to the nearest other class (chessboard distance
minus one), capped at the reach.
"""

from __future__ import annotations

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
    # (In int64: scatter reductions are not implemented for every small dtype on every device.)
    largest = torch.zeros(num_classes, dtype=torch.int64, device=index.device)
    largest.scatter_reduce_(0, index.flatten().long(), depth.flatten().long(), "amax")
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
