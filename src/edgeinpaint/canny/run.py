"""``edgeinpaint canny``: write binary edge maps for a set of images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgeinpaint.core.errors import EdgeInpaintError, InputError
from edgeinpaint.core.images import decode_image, decode_mask, encode_image, rgb_to_gray, to_float
from edgeinpaint.core.stages import CannyFn


def write_edge_maps(
    canny: CannyFn,
    jobs: list[tuple[Path, Path | None, Path]],
    on_done: Callable[[str | None], None] | None = None,
) -> tuple[int, list[tuple[str, str]]]:
    """Compute and write one PNG per (image, mask or None, output) job; bad files are reported, not fatal.

    Args:
        on_done: called after each job with its error or None (progress).

    Returns:
        (number written, [(image, reason)] failures).
    """
    done, failed = 0, []
    for image, mask, out in jobs:
        error = None
        try:
            decoded = decode_image(image)
            gray = rgb_to_gray(to_float(decoded.rgb))
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
            error = str(exc)
        except OSError as exc:
            error = f"{out}: cannot write output ({exc.strerror or exc})"
        if error is not None:
            failed.append((str(image), error))
        if on_done:
            on_done(error)
    return done, failed
