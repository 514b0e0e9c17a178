"""Training data: images from directories (recursive) or flist files, crops, flips, masks, Canny.

Broken images are reported once and skipped; they never stop a run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgeinpaint.canny.reference import canny_reference
from edgeinpaint.core.errors import InputError
from edgeinpaint.core.images import IMAGE_SUFFIXES, decode_image, rgb_to_gray
from edgeinpaint.core.params import CannyParams
from edgeinpaint.trainer.masks import MaskSampler

log = logging.getLogger(__name__)


def list_images(sources: list[Path], what: str = "training data (data / --data)") -> list[Path]:
    """Image files from directories (recursive) and flist files (one path per line), sorted, unique.

    Args:
        what: which option the sources came from, for the error message.
    """
    files: set[Path] = set()
    for src in sources:
        src = Path(src)
        if src.is_dir():
            files.update(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif src.is_file() and src.suffix.lower() in (".flist", ".txt"):
            for line in src.read_text().splitlines():
                if line.strip():
                    files.add(Path(line.strip()))
        elif src.is_file():
            files.add(src)
        else:
            raise InputError(f"{src}: {what} not found; expected a directory or an .flist file")
    return sorted(files)


@dataclass(frozen=True)
class CropPolicy:
    """How a training sample is cut from an image.

    Attributes:
        size: output side (square).
        mode: ``center`` (EdgeConnect: centre square crop, resize) or ``random`` (random square crop
            whose side is drawn between ``size`` and the short side — several scales — then resized).
        flip: random horizontal flip.
    """

    size: int = 256
    mode: str = "random"
    flip: bool = True


class InpaintingDataset:
    """Samples for every training stage.

    Each item is a dict of float32 arrays: ``image`` (3, S, S) in [0, 1], ``gray`` (1, S, S),
    ``edges`` (1, S, S) whole-image Canny (training semantics, mask=None), ``mask`` (1, S, S) 1 = hole.

    Args:
        files: image paths. masks: the mask sampler. crop: crop policy. canny: Canny settings.
        seed: base seed; :meth:`item` is a pure function of (seed, index, key).
        max_side: images are downscaled on load so their longer side is at most this (memory).
        cache: keep decoded images in memory (small data sets such as the demo's).
    """

    def __init__(
        self,
        files: list[Path],
        masks: MaskSampler,
        crop: CropPolicy,
        canny: CannyParams,
        seed: int = 0,
        max_side: int = 1024,
        cache: bool = True,
    ) -> None:
        if not files:
            raise InputError("no training images found")
        self.files = list(files)
        self.masks = masks
        self.crop = crop
        self.canny = canny
        self.seed = seed
        self.max_side = max_side
        self._cache: dict[int, np.ndarray | None] = {}
        self.use_cache = cache
        self.broken: set[Path] = set()

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, index: int) -> np.ndarray | None:
        if index in self._cache:
            return self._cache[index]
        path = self.files[index]
        try:
            rgb = decode_image(path).to_float().astype(np.float32)
            scale = self.max_side / max(rgb.shape[:2])
            if scale < 1:
                rgb = np.asarray(cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.float32)
            if min(rgb.shape[:2]) < self.crop.size // 2:
                raise InputError(f"{path}: {rgb.shape[1]}x{rgb.shape[0]} is too small for {self.crop.size}px crops")
        except InputError as exc:
            if path not in self.broken:
                log.warning("skipping training image: %s", exc)
                self.broken.add(path)
            rgb = None
        if self.use_cache:
            self._cache[index] = rgb
        return rgb

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self.item(index, key=0)

    def item(self, index: int, key: int) -> dict[str, np.ndarray]:
        """Sample ``index`` with crop/flip/mask randomness drawn from (seed, key, index).

        Args:
            index: image index. key: the caller's sample number (the trainer uses the global
                sample count, so every draw differs and a resumed run redraws the same ones).
        """
        rng = np.random.default_rng([self.seed, key, index])
        rgb = self._load(index)
        tries = 0
        while rgb is None:
            tries += 1
            if tries > len(self.files):
                raise InputError("every training image is unreadable")
            index = int(rng.integers(0, len(self.files)))
            rgb = self._load(index)
        image = self._crop(rgb, rng)
        s = self.crop.size
        hole = self.masks.sample(rng, s, s)
        gray = rgb_to_gray(image.astype(np.float64))
        edges = canny_reference(gray, self.canny.sigma, self.canny.low, self.canny.high, known=None)
        return {
            "image": np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32),
            "gray": gray[None].astype(np.float32),
            "edges": edges[None].astype(np.float32),
            "mask": hole[None].astype(np.float32),
        }

    def _crop(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = rgb.shape[:2]
        short = min(h, w)
        s = self.crop.size
        if self.crop.mode == "center":
            side = short
            y, x = (h - side) // 2, (w - side) // 2
        else:
            side = int(rng.integers(min(s, short), short + 1))
            y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        patch = rgb[y : y + side, x : x + side]
        if side != s:
            interp = cv2.INTER_AREA if side > s else cv2.INTER_LINEAR
            patch = cv2.resize(patch, (s, s), interpolation=interp)
        if self.crop.flip and rng.random() < 0.5:
            patch = patch[:, ::-1]
        return np.clip(patch, 0.0, 1.0)


def collate(items: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Stack a list of samples into NCHW batches."""
    return {k: np.stack([it[k] for it in items]) for k in items[0]}
