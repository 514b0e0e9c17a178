"""Load one job: decode the image, find and validate its mask (shared by in-process and workers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from edgeinpaint.core import specs
from edgeinpaint.core.errors import EdgeInpaintError, InputError
from edgeinpaint.core.images import Decoded, decode_image, decode_mask
from edgeinpaint.core.jobs import Job


@dataclass(frozen=True)
class LoadOptions:
    """How masks are read.

    Attributes:
        alpha_mask: take the hole from the image's alpha channel (alpha < 128 = hole) instead of a file.
        strict: a mask of another size is an error (default: resized with nearest neighbour + warning).
        mask_threshold: a mask pixel whose gray value (0..255) is above this is a hole (0: the
            official test script's ``mask > 0``).
        max_pixels: images and masks with more pixels are refused from their header (None: PIL's own
            bomb limit); :class:`~edgeinpaint.core.errors.TooLarge`.
    """

    alpha_mask: bool = False
    strict: bool = False
    mask_threshold: int = specs.MASK_THRESHOLD
    max_pixels: int | None = None


@dataclass
class Loaded:
    """A decoded image with its hole map and any warnings about it.

    Attributes:
        alpha: the alpha channel to write with the output: the input's own, or None when the
            hole came from it (``--mask alpha``: the transparent part is what gets filled).
    """

    decoded: Decoded
    hole: np.ndarray
    warnings: list[str] = field(default_factory=list)
    alpha: np.ndarray | None = None


def load_job(job: Job, options: LoadOptions) -> Loaded:
    """Decode ``job``'s image and mask files.

    Raises:
        EdgeInpaintError: unreadable image/mask, no mask, size mismatch under ``strict``.
    """
    return load_pair(job.image, job.mask, options)


def load_pair(
    image: Path | str,
    mask: Path | str | None,
    options: LoadOptions,
    image_data: bytes | None = None,
    mask_data: bytes | None = None,
) -> Loaded:
    """Decode an image and its mask, from files or from bytes already read (object storage).

    Args:
        image / mask: the files, or with ``*_data`` the names used in messages (URIs as typed).
            ``mask`` None: no mask was paired (an error unless ``options.alpha_mask``).

    Raises:
        EdgeInpaintError: unreadable image/mask, no mask, size mismatch under ``strict``.
    """
    decoded = decode_image(image, image_data, options.max_pixels)
    warnings: list[str] = []
    if options.alpha_mask:
        if decoded.alpha is None:
            raise InputError(f"{image}: the hole comes from the alpha channel but the image has no alpha channel")
        hole = np.asarray(decoded.alpha < 128)
    else:
        if mask is None:
            stem = PurePosixPath(str(image)).stem
            raise EdgeInpaintError(f"{image}: no mask with stem {stem!r} in the mask directory")
        hole = decode_mask(mask, mask_data, options.max_pixels, options.mask_threshold, notes=warnings)
        if hole.shape != decoded.size:
            found = f"{hole.shape[1]}x{hole.shape[0]}"
            wanted = f"{decoded.size[1]}x{decoded.size[0]}"
            if options.strict:
                name = PurePosixPath(str(image)).name
                raise InputError(f"{mask}: mask is {found} but image {name} is {wanted}; expected the same size")
            import cv2

            hole = (
                cv2.resize(hole.astype(np.uint8), (decoded.size[1], decoded.size[0]), interpolation=cv2.INTER_NEAREST)
                > 0
            )
            warnings.append(f"{mask}: mask is {found}, image is {wanted}; resized with nearest neighbour")
    return Loaded(decoded=decoded, hole=hole, warnings=warnings, alpha=None if options.alpha_mask else decoded.alpha)
