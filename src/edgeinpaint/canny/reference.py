"""The definition of the Canny stage: skimage.feature.canny on the skimage gray image."""

from __future__ import annotations

import numpy as np


def canny_reference(
    gray: np.ndarray, sigma: float = 2.0, low: float = 0.1, high: float = 0.2, known: np.ndarray | None = None
) -> np.ndarray:
    """Canny edges exactly as EdgeConnect computes them.

    Args:
        gray: (H, W) float in [0, 1].
        sigma: Gaussian sigma.
        low, high: hysteresis thresholds on the gradient magnitude.
        known: (H, W) bool, True where the pixel is known (the hole mask inverted); None = whole image.

    Returns:
        (H, W) bool edges.
    """
    from skimage.feature import canny

    return np.asarray(canny(gray, sigma=sigma, low_threshold=low, high_threshold=high, mask=known))
