"""CalibrationSource: image + mask directories -> per-stage calibration feeds.

The inpaint generator is calibrated on what it really receives at serving time: the FP32 edge
generator's prediction composited with Canny, not on ground-truth edges.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeinpaint.canny.stage import CannyFn
from edgeinpaint.core.engine import Engine
from edgeinpaint.core.errors import InputError
from edgeinpaint.core.hashing import sha256_file
from edgeinpaint.core.images import decode_image, decode_mask
from edgeinpaint.core.jobs import pair_images
from edgeinpaint.core.stages import Sample, edge_guide, preprocess


@dataclass(frozen=True)
class CalibrationSource:
    """Where calibration (and accuracy-check) samples come from.

    Attributes:
        images: image directory or file.
        masks: mask directory (paired by stem) or one mask file; None = built-in free-form masks
            (10-50% holes, seeded) so an image directory alone suffices.
        size: number of images to use (the first ``size`` in sorted order).
        resolution: images are centre-cropped and resized to this square side (calibration
            needs representative statistics, not every pixel of a 4K photo).
    """

    images: Path
    masks: Path | None = None
    size: int = 32
    resolution: int = 256

    def files(self) -> list[tuple[Path, Path | None]]:
        pairs: list[tuple[Path, Path | None]]
        if self.masks is not None:
            jobs = pair_images(self.images, self.masks)
            pairs = [(j.image, j.mask) for j in jobs if j.mask is not None]
        else:
            from edgeinpaint.core.jobs import discover_images

            pairs = [(p, None) for p in discover_images(self.images)[1]]
        if not pairs:
            raise InputError(f"{self.images}: no calibration images (with masks) found")
        return pairs[: self.size]

    def digest(self) -> str:
        """Hash of the data (file contents) and options: the calibration cache key."""
        h = hashlib.sha256(f"{self.size}:{self.resolution}".encode())
        for image, mask in self.files():
            h.update(sha256_file(image).encode())
            h.update(sha256_file(mask).encode() if mask else b"generated")
        return h.hexdigest()

    def samples(self, canny: CannyFn) -> Iterator[Sample]:
        """Preprocessed samples (gray, Canny of the known region, padded) at ``resolution``."""
        import cv2

        from edgeinpaint.trainer.masks import MaskSampler

        sampler = MaskSampler({"free_form": 1.0, "lama_medium": 0.5}, ratio=(0.1, 0.5))
        for i, (image, mask) in enumerate(self.files()):
            rgb = decode_image(image).to_float()
            h, w = rgb.shape[:2]
            s = min(h, w)
            y, x = (h - s) // 2, (w - s) // 2
            crop = cv2.resize(rgb[y : y + s, x : x + s], (self.resolution,) * 2, interpolation=cv2.INTER_AREA)
            if mask is not None:
                m = decode_mask(mask)
                if m.shape == (h, w):  # same crop as the image; other sizes are resized whole
                    m = m[y : y + s, x : x + s]
                hole = cv2.resize(m.astype(np.uint8), (self.resolution,) * 2, interpolation=cv2.INTER_NEAREST) > 0
            else:
                hole = sampler.sample(np.random.default_rng([7, i]), self.resolution, self.resolution)
            rgb8 = np.clip(np.rint(crop * 255), 0, 255).astype(np.uint8)
            yield preprocess(rgb8, hole, canny)


def edge_feeds(samples: list[Sample]) -> list[dict[str, np.ndarray]]:
    """Edge generator inputs, one sample per feed."""
    return [{"gray": s.gray[None], "edges": s.edges[None], "mask": s.mask[None]} for s in samples]


def inpaint_feeds(samples: list[Sample], edge: Engine) -> list[dict[str, np.ndarray]]:
    """Inpaint generator inputs with the edges the FP32 edge generator really produces (composited)."""
    feeds: list[dict[str, np.ndarray]] = []
    for f in edge_feeds(samples):
        pred = edge.run(f)["edges_pred"]
        guide = edge_guide(pred, f["edges"], f["mask"])
        feeds.append({"image": samples[len(feeds)].image[None], "edges": guide.astype(np.float32), "mask": f["mask"]})
    return feeds


PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def sample_photo(name: str, size: int) -> np.ndarray:
    """A scikit-image bundled photo, centre-cropped square and resized: (size, size, 3) uint8."""
    import cv2
    import skimage.data

    img = getattr(skimage.data, name)()[..., :3]
    h, w = img.shape[:2]
    s = min(h, w)
    crop = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    return np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))


def photo_samples(canny: CannyFn, count: int, size: int, seed: int) -> list[Sample]:
    """``count`` preprocessed photos (:data:`PHOTOS`, cycled) with seeded free-form holes of 10-35%."""
    from edgeinpaint.trainer.masks import MaskSampler

    sampler = MaskSampler({"free_form": 1.0}, ratio=(0.1, 0.35))
    out = []
    for i in range(count):
        name = PHOTOS[i % len(PHOTOS)]
        hole = sampler.sample(np.random.default_rng([seed, i]), size, size)
        out.append(preprocess(sample_photo(name, size), hole, canny))
    return out


def builtin_samples(canny: CannyFn, resolution: int = 256) -> list[Sample]:
    """Accuracy-check samples when no calibration directory is given: three bundled photos."""
    return photo_samples(canny, 3, resolution, seed=11)
