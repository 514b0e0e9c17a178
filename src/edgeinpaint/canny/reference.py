"""The definition of the Canny stage: skimage.feature.canny on the skimage gray image."""

from __future__ import annotations

import numpy as np

from edgeinpaint import specs


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """skimage.color.rgb2gray on a float [0, 1] (H, W, 3) array: 0.2125 R + 0.7154 G + 0.0721 B."""
    return np.asarray(rgb, dtype=np.float64) @ np.asarray(specs.GRAY_COEFFS, dtype=np.float64)


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
