"""Hole masks for training, generated without downloads; deterministic under a seed.

Every generator returns an (H, W) bool array with True = hole. :class:`MaskSampler` mixes them and
rejects samples outside the requested hole-ratio range.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgeinpaint.core.errors import InputError

MaskFn = Callable[[np.random.Generator, int, int], np.ndarray]


def free_form(rng: np.random.Generator, h: int, w: int, max_strokes: int = 6, max_vertices: int = 12) -> np.ndarray:
    """DeepFill-v2-style strokes: random walks of thick line segments with round joints."""
    mask = np.zeros((h, w), np.uint8)
    scale = min(h, w) / 256.0
    for _ in range(int(rng.integers(1, max_strokes + 1))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        width = max(2, int(rng.integers(12, 40) * scale))
        angle = rng.uniform(0, 2 * math.pi)
        for _ in range(int(rng.integers(2, max_vertices + 1))):
            angle += rng.uniform(-math.pi / 3, math.pi / 3)
            length = rng.uniform(10, 60) * scale
            nx = int(np.clip(x + length * math.cos(angle), 0, w - 1))
            ny = int(np.clip(y + length * math.sin(angle), 0, h - 1))
            cv2.line(mask, (x, y), (nx, ny), 1, width)
            cv2.circle(mask, (nx, ny), width // 2, 1, -1)
            x, y = nx, ny
    return mask.astype(bool)


def _lama_strokes(
    rng: np.random.Generator,
    h: int,
    w: int,
    widths: tuple[int, int],
    n: tuple[int, int],
    lengths: tuple[int, int],
) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    scale = min(h, w) / 256.0
    for _ in range(int(rng.integers(n[0], n[1] + 1))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        for _ in range(int(rng.integers(1, 5))):
            angle = rng.uniform(0, 2 * math.pi)
            length = rng.uniform(*lengths) * scale
            width = max(1, int(rng.uniform(*widths) * scale))
            nx = int(np.clip(x + length * math.cos(angle), 0, w - 1))
            ny = int(np.clip(y + length * math.sin(angle), 0, h - 1))
            cv2.line(mask, (x, y), (nx, ny), 1, width)
            x, y = nx, ny
    return mask.astype(bool)


def lama_thin(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """LaMa-style thin strokes (many, narrow)."""
    return _lama_strokes(rng, h, w, widths=(4, 10), n=(8, 20), lengths=(20, 80))


def lama_medium(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """LaMa-style medium strokes."""
    return _lama_strokes(rng, h, w, widths=(12, 30), n=(3, 8), lengths=(30, 100))


def lama_thick(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """LaMa-style thick strokes (few, wide)."""
    return _lama_strokes(rng, h, w, widths=(30, 60), n=(1, 4), lengths=(40, 120))


def block(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Random rectangle with sides around half the image (EdgeConnect's 'block')."""
    bh = int(rng.integers(h // 4, h // 2 + 1))
    bw = int(rng.integers(w // 4, w // 2 + 1))
    y, x = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    mask = np.zeros((h, w), bool)
    mask[y : y + bh, x : x + bw] = True
    return mask


def half(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """One half of the image (left/right/top/bottom)."""
    mask = np.zeros((h, w), bool)
    side = int(rng.integers(0, 4))
    if side == 0:
        mask[:, : w // 2] = True
    elif side == 1:
        mask[:, w // 2 :] = True
    elif side == 2:
        mask[: h // 2] = True
    else:
        mask[h // 2 :] = True
    return mask


GENERATORS: dict[str, MaskFn] = {
    "free_form": free_form,
    "lama_thin": lama_thin,
    "lama_medium": lama_medium,
    "lama_thick": lama_thick,
    "block": block,
    "half": half,
}


@dataclass
class MaskSampler:
    """A mixture of mask generators (and/or external masks) with a hole-ratio range.

    Attributes:
        kinds: generator name -> weight (names from :data:`GENERATORS`, or ``external``).
        ratio: (min, max) fraction of hole pixels (see :meth:`sample`).
        external: external mask files (used for kind ``external``).
        invert: external masks use 0 = hole (NVIDIA PConv convention).
    """

    kinds: dict[str, float]
    ratio: tuple[float, float] = (0.0, 1.0)
    external: tuple[Path, ...] = ()
    invert: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(GENERATORS) - {"external"}
        if unknown:
            raise InputError(f"unknown mask kinds {sorted(unknown)}; expected {sorted(GENERATORS)} or 'external'")
        if "external" in self.kinds and not self.external:
            raise InputError("mask kind 'external' needs a mask directory (--masks DIR)")

    def _draw(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        names = sorted(self.kinds)
        p = np.array([self.kinds[n] for n in names], np.float64)
        name = names[int(rng.choice(len(names), p=p / p.sum()))]
        if name == "external":
            from edgeinpaint.core.images import decode_mask

            path = self.external[int(rng.integers(0, len(self.external)))]
            m = decode_mask(path)
            if self.invert:
                m = ~m
            return cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        return GENERATORS[name](rng, h, w)

    def sample(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        """One (H, W) bool mask with hole ratio in :attr:`ratio`.

        Draws are unioned while the ratio is below the range and restarted when it overshoots,
        so the range is met for any mixture that can reach it; after 100 tries the closest is used.
        """
        lo, hi = self.ratio
        best, best_gap = None, math.inf
        m = np.zeros((h, w), bool)
        for _ in range(100):
            m = m | self._draw(rng, h, w)
            r = float(m.mean())
            if lo <= r <= hi:
                return m
            gap = lo - r if r < lo else r - hi
            if gap < best_gap:
                best, best_gap = m.copy(), gap
            if r > hi:
                m = np.zeros((h, w), bool)
        assert best is not None
        return best
