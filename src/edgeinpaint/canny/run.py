"""``edgeinpaint canny``: write binary edge maps for a set of images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeinpaint.canny.reference import rgb_to_gray
from edgeinpaint.canny.stage import CannyFn
from edgeinpaint.errors import EdgeInpaintError, InputError
from edgeinpaint.images import decode_image, decode_mask, encode_image


def write_edge_maps(canny: CannyFn, jobs: list[tuple[Path, Path | None, Path]]) -> tuple[int, list[tuple[str, str]]]:
    """Compute and write one PNG per (image, mask or None, output) job; bad files are reported, not fatal.

    Returns:
        (number written, [(image, reason)] failures).
    """
    done, failed = 0, []
    for image, mask, out in jobs:
        try:
            decoded = decode_image(image)
            gray = rgb_to_gray(decoded.to_float())
            known = np.ones(gray.shape, bool)
            if mask is not None:
                hole = decode_mask(mask)
                if hole.shape != gray.shape:
                    raise InputError(
                        f"{mask}: mask is {hole.shape[1]}x{hole.shape[0]}, image is {gray.shape[1]}x{gray.shape[0]}"
                    )
                known = ~hole
            edges = canny(gray, known)
            encode_image((edges * 255).astype(np.uint8), out)
            done += 1
        except EdgeInpaintError as exc:
            failed.append((str(image), str(exc)))
    return done, failed
