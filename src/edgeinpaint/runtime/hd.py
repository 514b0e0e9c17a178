"""High-resolution strategies: run the generators on less than the whole image.

- ``original``: the whole image at its own size.
- ``crop`` (default above the trigger size): boxes around the hole's connected components, grown by
  a context margin, overlapping boxes merged; each box is inpainted as its own image and only its
  hole pixels are pasted back.
- ``resize``: the longer side is scaled to ``resize_limit`` (area interpolation; the mask with
  nearest neighbour), inpainted, upscaled, and only the hole pixels are taken from it.

In every strategy pixels outside the hole are byte-identical to the input.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgeinpaint import specs

#: (rgb8 (H, W, 3), hole (H, W) bool) -> (H, W, 3) uint8 composite
InpaintFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class HDStrategy(str, enum.Enum):
    ORIGINAL = "original"
    CROP = "crop"
    RESIZE = "resize"


@dataclass(frozen=True)
class HDConfig:
    """When and how to use a high-resolution strategy.

    Attributes:
        strategy: what to do above ``trigger`` (below it the whole image is always used).
        trigger: longer side (px) above which the strategy applies.
        margin: context added around each hole component, as a fraction of the box side
            (at least ``min_margin`` px).
        resize_limit: longer side for the resize strategy.
    """

    strategy: HDStrategy = HDStrategy.CROP
    trigger: int = 1024
    margin: float = 0.5
    min_margin: int = 64
    resize_limit: int = 1024

    def applies(self, height: int, width: int) -> bool:
        return self.strategy is not HDStrategy.ORIGINAL and max(height, width) > self.trigger


def hole_boxes(hole: np.ndarray, margin: float, min_margin: int) -> list[tuple[int, int, int, int]]:
    """(y0, x0, y1, x1) boxes around connected hole components, grown by the margin, merged when they overlap."""
    import cv2

    count, _, stats, _ = cv2.connectedComponentsWithStats(hole.astype(np.uint8), connectivity=8)
    h, w = hole.shape
    boxes = []
    for i in range(1, count):
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        m = max(min_margin, int(margin * max(bw, bh)))
        boxes.append((max(0, y - m), max(0, x - m), min(h, y + bh + m), min(w, x + bw + m)))
    merged = True
    while merged:  # merge until no two boxes overlap
        merged = False
        out: list[tuple[int, int, int, int]] = []
        for b in boxes:
            for i, o in enumerate(out):
                if b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3]:
                    out[i] = (min(b[0], o[0]), min(b[1], o[1]), max(b[2], o[2]), max(b[3], o[3]))
                    merged = True
                    break
            else:
                out.append(b)
        boxes = out
    return [_min_size(b, h, w) for b in boxes]


def _min_size(box: tuple[int, int, int, int], h: int, w: int) -> tuple[int, int, int, int]:
    """Grow a box to the generators' minimum side where the image allows."""
    y0, x0, y1, x1 = box
    need = specs.MIN_SIDE * 2
    if y1 - y0 < need:
        y0, y1 = max(0, y0 - need // 2), min(h, y1 + need // 2)
    if x1 - x0 < need:
        x0, x1 = max(0, x0 - need // 2), min(w, x1 + need // 2)
    return y0, x0, y1, x1


def inpaint_hd(inpaint: InpaintFn, rgb8: np.ndarray, hole: np.ndarray, config: HDConfig) -> np.ndarray:
    """Apply ``config``'s strategy around ``inpaint`` (which handles one whole image)."""
    h, w = hole.shape
    if not config.applies(h, w):
        return inpaint(rgb8, hole)
    out = rgb8.copy()
    if config.strategy is HDStrategy.CROP:
        for y0, x0, y1, x1 in hole_boxes(hole, config.margin, config.min_margin):
            crop_hole = hole[y0:y1, x0:x1]
            painted = inpaint(np.ascontiguousarray(rgb8[y0:y1, x0:x1]), crop_hole)
            region = out[y0:y1, x0:x1]
            region[crop_hole] = painted[crop_hole]
        return out
    import cv2

    scale = config.resize_limit / max(h, w)
    size = (max(specs.MIN_SIDE, round(w * scale)), max(specs.MIN_SIDE, round(h * scale)))
    small = cv2.resize(rgb8, size, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    painted = cv2.resize(inpaint(small, small_hole), (w, h), interpolation=cv2.INTER_CUBIC)
    out[hole] = painted[hole]
    return out
