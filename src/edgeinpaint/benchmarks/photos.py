"""Benchmark inputs: photos with free-form holes, written as image and mask folders."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import numpy as np


def photo_pairs(folder: Path, n: int, size: int) -> tuple[Path, Path]:
    """``n`` PNG photos of ``size``² (bundled scikit-image photos, a wider crop each cycle so repeats
    differ) and their free-form masks (10-35% hole), as ``folder/images`` and ``folder/masks``."""
    import cv2
    from PIL import Image

    from edgeinpaint.calibration.sources import PHOTOS, sample_photo
    from edgeinpaint.trainer.masks import MaskSampler

    images, masks = folder / "images", folder / "masks"
    images.mkdir(parents=True)
    masks.mkdir()
    sampler = MaskSampler({"free_form": 1.0}, ratio=(0.1, 0.35))
    for i in range(n):
        rgb = sample_photo(PHOTOS[i % len(PHOTOS)], size + 16 * (i // len(PHOTOS)))
        rgb = np.ascontiguousarray(cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA))
        Image.fromarray(rgb).save(images / f"p{i:03d}.png", compress_level=1)
        hole = sampler.sample(np.random.default_rng([9, i]), size, size)
        Image.fromarray((hole * 255).astype(np.uint8)).save(masks / f"p{i:03d}.png")
    return images, masks


def write_mask(path: Path, size: int) -> Path:
    """A ``size``² free-form mask (15-25% hole, seed 0) written to ``path``."""
    from PIL import Image

    from edgeinpaint.trainer.masks import MaskSampler

    hole = MaskSampler({"free_form": 1.0}, ratio=(0.15, 0.25)).sample(np.random.default_rng(0), size, size)
    Image.fromarray((hole * 255).astype(np.uint8)).save(path)
    return path


def png_bytes(array: np.ndarray, level: int = 1) -> bytes:
    """``array`` ((H, W, 3) or (H, W) uint8) encoded as PNG at zlib ``level``."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG", compress_level=level)
    return out.getvalue()


def free_port() -> int:
    """A free TCP port on loopback (bound, then released for the server started next)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
