"""Check a Canny graph against skimage on built-in images (used by export and tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeinpaint.canny.reference import canny_reference
from edgeinpaint.core.images import rgb_to_gray
from edgeinpaint.core.params import CannyParams


def check_images() -> list[tuple[np.ndarray, np.ndarray]]:
    """(gray float64, known bool) pairs: a real photo (odd size, with and without a hole) and a synthetic one."""
    import skimage.data

    photo = rgb_to_gray(skimage.data.astronaut()[:203, :157] / 255.0)
    known = np.ones(photo.shape, bool)
    holed = known.copy()
    holed[40:90, 30:100] = False
    holed[:5, :] = False  # a hole touching the border
    yy, xx = np.mgrid[:64, :64]
    synthetic = ((np.hypot(yy - 32, xx - 30) < 17) * 0.8 + 0.1).astype(np.float64)
    return [(photo, known), (photo, holed), (synthetic, np.ones_like(synthetic, bool))]


def canny_parity(model_path: Path, params: CannyParams) -> tuple[int, float]:
    """(pixels differing, F1) of the graph at ``model_path`` vs skimage on :func:`check_images`."""
    from edgeinpaint.canny.stage import GraphCanny

    graph = GraphCanny(model_path)
    total, tp, count = 0, 0, 0
    for gray, known in check_images():
        ref = canny_reference(gray, params.sigma, params.low, params.high, known=known)
        got = graph(gray, known)
        total += int((got != ref).sum())
        tp += int((got & ref).sum())
        count += int(got.sum() + ref.sum())
    return total, (2 * tp / count if count else 1.0)
