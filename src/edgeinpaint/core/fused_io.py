"""The fused model's inputs and outputs (export/fused.py builds it): the one place they are converted.

uint8 I/O: ``image`` (N, H, W, 3) uint8 RGB, ``mask`` (N, H, W, 1) uint8 (255 = hole); ``output`` (the
paste composite, quantized inside the graph as exported) and ``raw`` (the generator's output, rounded)
come back (N, H, W, 3) uint8. Float I/O: NCHW float32 in [0, 1] both ways.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edgeinpaint.core.images import to_uint8
from edgeinpaint.core.params import Rounding


def fused_feeds(rgb8s: Sequence[np.ndarray], holes: Sequence[np.ndarray], uint8_io: bool) -> dict[str, np.ndarray]:
    """Feeds for same-size images: rgb8s (H, W, 3) uint8, holes (H, W) bool."""
    if uint8_io:
        return {"image": np.stack(rgb8s), "mask": (np.stack(holes) * np.uint8(255))[..., None]}
    image = np.stack([r.transpose(2, 0, 1) for r in rgb8s]).astype(np.float32) / 255.0
    return {"image": image, "mask": np.stack(holes)[:, None].astype(np.float32)}


def fused_output(got: Mapping[str, np.ndarray], name: str, uint8_io: bool, rounding: Rounding) -> np.ndarray:
    """Output ``name`` as (N, H, W, 3): "output" as uint8 (the float model's picture quantized with
    ``rounding``); "raw" as the model gives it (uint8, or float32 in [0, 1] from the float model)."""
    value = np.asarray(got[name])
    if uint8_io:
        return value
    value = value.transpose(0, 2, 3, 1)
    return to_uint8(value, rounding) if name == "output" else np.ascontiguousarray(value, dtype=np.float32)


def as_unit_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 levels v -> float32 v / 255 (which either 8-bit rounding maps back to v: core/images.py
    ``to_uint8``); float input unchanged."""
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / np.float32(255.0)
    return np.asarray(pixels, dtype=np.float32)
