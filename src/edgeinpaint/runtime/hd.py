"""High-resolution strategies: run the generators on less than the whole image.

- ``original``: the whole image at its own size.
- ``crop`` (default above the trigger size): boxes around the hole's connected components, grown by
  a context margin, merged where that saves work; each box is inpainted as its own image. Where a
  long stroke is cut into several boxes, neighbouring boxes overlap and their pictures are blended
  across the cut (weights ramp over ``overlap`` px from each box's own pixels), so no straight seam
  appears where two generator calls meet (IOPaint's crop strategy pastes hard boxes instead).
- ``resize``: the longer side is scaled to ``resize_limit`` (area interpolation; the mask with
  nearest neighbour), inpainted, upscaled, and only the hole pixels are taken from it.

In every strategy pixels outside the hole are byte-identical to the input.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgeinpaint.core import specs

#: (pixels (H, W, 3) uint8 or uint16, hole (H, W) bool) -> (H, W, 3) uint8 composite
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
        margin: context added around each hole piece, as a fraction of the box side
            (at least ``min_margin`` px).
        cell: grid that cuts long strokes into pieces with their own boxes (see hole_boxes).
        overlap: px over which neighbouring boxes' pictures are blended across a cut (<= ``min_margin``,
            so the blend band lies inside each box's context); 0 pastes hard boxes (the seams the
            blend removes; kept for the seam benchmark).
        resize_limit: longer side for the resize strategy.
    """

    strategy: HDStrategy = HDStrategy.CROP
    trigger: int = 1024
    margin: float = 0.15
    min_margin: int = 32
    cell: int = 128
    overlap: int = 24
    resize_limit: int = 1024

    def applies(self, height: int, width: int) -> bool:
        return self.strategy is not HDStrategy.ORIGINAL and max(height, width) > self.trigger


def hole_boxes(
    hole: np.ndarray, margin: float, min_margin: int, cell: int = 192
) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
    """Boxes around the hole's pieces with their context margin.

    Pieces are the 8-connected components cut by a ``cell``-px grid, so a long thin stroke gets a
    chain of small boxes instead of one mostly empty bounding box. Two boxes are merged when the
    merged box is no larger than the two apart (heavily overlapping boxes share one generator
    call; far-apart strokes never grow into one huge crop). Each box comes with the mask of the
    pieces it owns: only those pixels are pasted back, so overlapping boxes never overwrite each
    other's work.

    Returns:
        [((y0, x0, y1, x1), owned (y1 − y0, x1 − x0) bool)] — ownership inside the box.
    """
    import cv2

    h, w = hole.shape
    count, labels = cv2.connectedComponents(hole.astype(np.uint8), connectivity=8)
    ys, xs = np.nonzero(hole)
    if ys.size == 0:
        return []
    ncx = (w + cell - 1) // cell
    ncells = ((h + cell - 1) // cell) * ncx
    keys = labels[ys, xs].astype(np.int64) * ncells + (ys // cell) * ncx + (xs // cell)
    order = np.argsort(keys, kind="stable")
    keys, ys, xs = keys[order], ys[order], xs[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    y0s, y1s = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts) + 1
    x0s, x1s = np.minimum.reduceat(xs, starts), np.maximum.reduceat(xs, starts) + 1
    piece = np.zeros((h, w), np.int64)
    piece[ys, xs] = np.repeat(np.arange(1, starts.size + 1), np.diff(np.r_[starts, keys.size]))
    boxes: list[tuple[tuple[int, int, int, int], set[int]]] = []
    for k, (y0, y1, x0, x1) in enumerate(zip(y0s, y1s, x0s, x1s, strict=True), start=1):
        m = max(min_margin, int(margin * max(y1 - y0, x1 - x0)))
        boxes.append(((max(0, int(y0) - m), max(0, int(x0) - m), min(h, int(y1) + m), min(w, int(x1) + m)), {k}))
    del count

    def area(b: tuple[int, int, int, int]) -> int:
        return (b[2] - b[0]) * (b[3] - b[1])

    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i][0], boxes[j][0]
                union = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                if area(union) <= area(a) + area(b):
                    boxes[i] = (union, boxes[i][1] | boxes[j][1])
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    out = []
    for box, owned in boxes:
        y0, x0, y1, x1 = _min_size(box, h, w)
        out.append(((y0, x0, y1, x1), np.isin(piece[y0:y1, x0:x1], sorted(owned))))
    return out


def _min_size(box: tuple[int, int, int, int], h: int, w: int) -> tuple[int, int, int, int]:
    """Grow a box to the generators' minimum side where the image allows."""
    y0, x0, y1, x1 = box
    need = specs.MIN_SIDE * 2
    if y1 - y0 < need:
        y0, y1 = max(0, y0 - need // 2), min(h, y1 + need // 2)
    if x1 - x0 < need:
        x0, x1 = max(0, x0 - need // 2), min(w, x1 + need // 2)
    return y0, x0, y1, x1


def inpaint_hd(inpaint: InpaintFn, pixels: np.ndarray, hole: np.ndarray, config: HDConfig) -> np.ndarray:
    """Apply ``config``'s strategy around ``inpaint`` (which handles one whole image).

    Args:
        pixels: (H, W, 3) uint8 or uint16: crops keep the file's own values, so Canny sees
            the same input as on the whole image.

    Returns:
        (H, W, 3) uint8.
    """
    from edgeinpaint.core.stages import as_uint8

    h, w = hole.shape
    if not config.applies(h, w):
        return inpaint(pixels, hole)
    out = as_uint8(pixels).copy()
    if config.strategy is HDStrategy.CROP:
        return _crop(inpaint, pixels, hole, config, out)
    import cv2

    scale = config.resize_limit / max(h, w)
    size = (max(specs.MIN_SIDE, round(w * scale)), max(specs.MIN_SIDE, round(h * scale)))
    small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    painted = cv2.resize(inpaint(small, small_hole), (w, h), interpolation=cv2.INTER_CUBIC)
    out[hole] = painted[hole]
    return out


def _crop(inpaint: InpaintFn, pixels: np.ndarray, hole: np.ndarray, config: HDConfig, out: np.ndarray) -> np.ndarray:
    """The crop strategy: each box inpainted on its own, the boxes blended where a stroke was cut.

    A box's weight is 1 on the pieces it owns and falls linearly to 0 at ``overlap`` px from them,
    inside the hole; every hole pixel is owned by exactly one box, so the weights there sum to >= 1.
    A pixel far from any cut keeps its own box's value exactly.
    """
    import cv2

    boxes = hole_boxes(hole, config.margin, config.min_margin, config.cell)
    overlap = min(config.overlap, config.min_margin)
    total = np.zeros((*hole.shape, 3), np.float32)
    weight = np.zeros(hole.shape, np.float32)
    for (y0, x0, y1, x1), owned in boxes:
        # Every hole pixel inside the box is unknown to the generator (other strokes too) ...
        box_hole = hole[y0:y1, x0:x1]
        painted = inpaint(np.ascontiguousarray(pixels[y0:y1, x0:x1]), box_hole)
        if len(boxes) == 1 or overlap <= 0:
            out[y0:y1, x0:x1][owned] = painted[owned]
            continue
        # ... and its picture counts on its own pieces and, fading, across the cuts next to them.
        distance = cv2.distanceTransform((~owned).astype(np.uint8), cv2.DIST_L2, 3)
        w = np.clip(1.0 - distance / overlap, 0.0, 1.0) * box_hole
        total[y0:y1, x0:x1] += w[..., None] * painted
        weight[y0:y1, x0:x1] += w
    if len(boxes) == 1 or overlap <= 0:
        return out
    blended = total[hole] / weight[hole][:, None]
    out[hole] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out
