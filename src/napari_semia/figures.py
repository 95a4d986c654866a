"""Figures: label maps and images rendered as RGB, and montages of them.

Used by the demo command, the dataset preview and the benchmarks, so that
every picture the project writes is drawn the same way.
"""

from __future__ import annotations

import numpy as np

#: Colours for label ids 0, 1, 2, ... (Okabe-Ito, colour-blind safe; cycled beyond).
LABEL_COLOURS = np.array(
    [
        [40, 40, 40],
        [230, 159, 0],
        [86, 180, 233],
        [0, 158, 115],
        [240, 228, 66],
        [0, 114, 178],
        [213, 94, 0],
        [204, 121, 167],
    ],
    np.uint8,
)


def colorize_labels(labels: np.ndarray, palette: np.ndarray | None = None) -> np.ndarray:
    """(H, W) ids or class indices -> (H, W, 3) uint8.

    ``palette`` (K, 3) colours index i (e.g. a colour-coded source's codec
    palette, for class indices); without it ids cycle through LABEL_COLOURS.
    """
    labels = np.asarray(labels).astype(np.intp)
    if palette is not None:
        return np.asarray(palette, np.uint8)[labels]
    return LABEL_COLOURS[labels % len(LABEL_COLOURS)]


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Any (H, W) / (H, W, C) image -> (H, W, 3) uint8 (non-uint8 data is
    stretched between its 0.5th and 99.5th percentiles)."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] != 3:
        image = image[..., :3] if image.shape[-1] >= 3 else image[..., 0]
    if image.dtype != np.uint8:
        values = image.astype(np.float64)
        low, high = np.percentile(values, [0.5, 99.5])
        image = (np.clip((values - low) / max(high - low, 1e-12), 0, 1) * 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return image


def render(panel: np.ndarray) -> np.ndarray:
    """A panel as RGB uint8: signed-integer (H, W) maps are label ids, the rest images."""
    panel = np.asarray(panel)
    if panel.ndim == 2 and np.issubdtype(panel.dtype, np.signedinteger):
        return colorize_labels(panel)
    return as_rgb_uint8(panel)


def montage(panels, gap: int = 4) -> np.ndarray:
    """Panels side by side with white gaps; a list of rows gives a grid.

    ``panels``: a list of images / (H, W) signed-integer label maps (one row),
    or a list of such lists (one per row). Rows are stacked with the same
    gap; smaller panels are padded with white.
    """
    rows = panels if panels and isinstance(panels[0], (list, tuple)) else [panels]
    rendered = [[render(p) for p in row] for row in rows]
    cell_w = [max(row[i].shape[1] for row in rendered if i < len(row))
              for i in range(max(len(row) for row in rendered))]
    lines = []
    for row in rendered:
        height = max(p.shape[0] for p in row)
        line = np.full((height, sum(cell_w) + gap * (len(cell_w) - 1), 3), 255, np.uint8)
        x = 0
        for panel, width in zip(row, cell_w):
            line[: panel.shape[0], x: x + panel.shape[1]] = panel
            x += width + gap
        lines.append(line)
    width = lines[0].shape[1]
    out = [lines[0]]
    for line in lines[1:]:
        out += [np.full((gap, width, 3), 255, np.uint8), line]
    return np.concatenate(out, axis=0)
